"""One attempt at running a task: what the runner and its middleware share."""

from dataclasses import dataclass
from typing import Any

from django.tasks import Task, TaskResult

from sqs_tasks.envelope import Envelope
from sqs_tasks.sensitive import Values


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    task: Task
    envelope: Envelope
    args: list[Any]  # the call as the function receives it
    kwargs: dict[str, Any]
    secrets: Values | None  # its sensitive values: never stored, scrubbed from errors
    # Django's view of the task while it runs; the runner updates it in place (as
    # Django's own backends do) so signal receivers see the outcome.
    task_result: TaskResult
    worker_id: str
    number: int  # 1 for the first attempt
    time_limit: float  # seconds
    # Until when (time.time()) its outcome's write is asked for again, refused for a
    # passing reason; None: once (runner.TaskRunner.run).
    outcome_until: float | None = None

    @property
    def task_id(self) -> str:
        return self.envelope.task_id
