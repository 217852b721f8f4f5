"""Tasks the workflow tests compose. Module level, as Django requires."""

from django.tasks import task

CALLS: list[str] = []
FAIL: set[str] = set()  # names of calls that raise, until removed


@task
def numbers(count: int) -> list[int]:
    CALLS.append(f"numbers({count})")
    return list(range(count))


@task
def square(value: int) -> int:
    CALLS.append(f"square({value})")
    if f"square({value})" in FAIL:
        raise ValueError(f"square refused {value}")
    return value * value


@task
def total(values: list[int], plus: int = 0) -> int:
    CALLS.append(f"total({values})")
    return sum(values) + plus


@task
def add(a: int, b: int) -> int:
    CALLS.append(f"add({a}, {b})")
    return a + b


@task
def text(size: int) -> str:
    return "x" * size


@task
def lengths(values: list[str]) -> list[int]:
    return [len(value) for value in values]


@task
def echo(value: object) -> object:
    return value
