"""The tasks of the workflow benchmark (bench.workflows): a list, a no-op call per item,
and a join that takes the calls' values. They measure the machinery, not the work."""

from django.tasks import task


@task
def make_list(count: int) -> list[int]:
    return list(range(count))


@task
def member(item: int) -> int:
    """The no-op call per item: it returns its item, so the join's order shows."""
    return item


@task
def combine(values: list[int]) -> int:
    """The join: its values' count, once it has checked they are in the input's order."""
    if values != list(range(len(values))):
        raise ValueError("the members' values are not in the input's order")
    return len(values)
