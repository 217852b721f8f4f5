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


class BenchFailure(Exception):
    """What the failing tasks raise: a short message, as a typical task error has."""


@task(takes_context=True)
def fails_once(context) -> None:  # noqa: ANN001 - Django's TaskContext
    """Fails its first attempt and succeeds on the retry: a retried task's item."""
    if context.attempt == 1:
        raise BenchFailure("the downstream service answered 503")


@task(max_attempts=3)
def always_fails() -> None:
    """Fails every attempt: a task that fails for good (FAILED, a dead letter, the index)."""
    raise BenchFailure("the downstream service answered 503")
