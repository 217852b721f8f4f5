"""Cancel and inspect single tasks."""

from typing import Any

from django.utils import timezone

from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.errors import ErrorRecord
from sqs_tasks.exceptions import TaskCancelled
from sqs_tasks.operations.dead_letters import Selection, scan


def cancel(backend: SQSBackend, task_id: str, reason: str = "cancelled by an operator") -> bool:
    """FAILED with a cancellation error, if it has not started; its message is then
    deleted unrun. False when the task is unknown, not sent yet, or already started."""
    now = timezone.now()
    error = ErrorRecord.from_exception(TaskCancelled(reason), now)
    return backend.results.cancel(task_id, now=now, error=error).done


def dead_letters_of(backend: SQSBackend, task_id: str) -> list[dict[str, Any]]:
    with scan(backend, Selection(task_id=task_id), hold_seconds=30) as letters:
        return [letter.summary() for letter in letters]
