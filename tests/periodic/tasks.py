"""Tasks the periodic tests schedule. Module level, as Django requires; registered per
test (see conftest), so the real registry stays what the code base declares."""

from django.tasks import task


@task
def echo_tick(scheduled_time: str | None = None) -> str | None:
    return scheduled_time


@task(queue_name="heavy")
def no_arguments() -> str:
    return "ran"


@task
def needs_an_argument(value: int) -> int:
    return value
