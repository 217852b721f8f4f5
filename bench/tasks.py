"""The tasks the benchmarks run: they measure the machinery, not the work.

A module of its own (not the test suite's sample tasks), importable by the in-process
benchmarks, the local stack's worker processes and the django-tasks-db worker alike.
"""

from django.tasks import task


@task
def noop() -> None:
    return None


@task
def add(a: int, b: int) -> int:
    """What the web view enqueues (as tests/urls.py's `enqueue-add/` does)."""
    return a + b
