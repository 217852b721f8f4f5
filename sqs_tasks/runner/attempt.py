"""One attempt at running a task: what the runner and its middleware share."""

from dataclasses import dataclass
from typing import Any

from django.tasks import Task, TaskResult

from sqs_tasks.envelope import Envelope


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    task: Task
    envelope: Envelope
    args: list[Any]
    kwargs: dict[str, Any]
    # Django's view of the task while it runs; the runner updates it in place (as
    # Django's own backends do) so signal receivers see the outcome.
    task_result: TaskResult
    worker_id: str
    number: int  # 1 for the first attempt
    time_limit: float  # seconds

    @property
    def task_id(self) -> str:
        return self.envelope.task_id
