"""Tasks the tests enqueue. Module level, as Django requires."""

import time

from django.tasks import task

CALLS: list[str] = []


class Flaky(Exception):
    pass


@task
def add(a: int, b: int) -> int:
    return a + b


@task(queue_name="heavy")
def heavy_echo(value: object) -> object:
    return value


@task(max_attempts=3, retry_on=(Flaky,))
def always_flaky() -> None:
    raise Flaky("downstream said no")


@task(max_attempts=3, retry_on=(Flaky,))
def fails_with_value_error() -> None:
    raise ValueError("bad input, retrying will not help")


@task(max_attempts=2, timeout=0.2)
def sleeps(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


@task(takes_context=True)
def counts_up(context, total: int) -> int:
    for done in range(1, total + 1):
        context.report_progress(done, total, f"step {done}")
    return context.attempt


@task
def records_call(tag: str) -> str:
    CALLS.append(tag)
    return tag


@task
def returns_big(size: int) -> str:
    return "x" * size


@task
async def async_double(value: int) -> int:
    return value * 2


not_a_task = "I am a string"
