"""The tasks of the workflow benchmark (bench.workflows): a list, a no-op per item, and a
join that takes the members' values. They measure the machinery, not the work."""

from django.tasks import task


@task
def make_list(count: int) -> list[int]:
    return list(range(count))


@task
def noop_member(item: int) -> None:
    return None


@task
def combine(values: list[None]) -> int:
    return len(values)
