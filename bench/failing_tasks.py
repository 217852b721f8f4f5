"""Tasks that fail, for the benchmarks that weigh a failed task's item and what the periodic
jobs do about it. Apart from bench/tasks.py: they use our backend's options (max_attempts),
which the django-tasks-db comparison's plain Task refuses when its workers import that
module.
"""

from django.tasks import task


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
