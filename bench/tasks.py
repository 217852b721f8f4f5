"""The no-op task every benchmark runs: it measures the machinery, not the work.

A module of its own (not the test suite's sample tasks), importable by the in-process
benchmarks, the local stack's worker processes and the django-tasks-db worker alike.
"""

from django.tasks import task


@task
def noop() -> None:
    return None
