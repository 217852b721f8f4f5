"""What application code may ask the task system, beyond Django's Tasks API.

Django's `task.enqueue()` / `get_result()` cover running tasks. Pages and maintenance
jobs also need a task's attempt budget and progress, the failed tasks, counts per queue,
and where the payload bucket is: they ask here, and never reach into the backend's parts
(its result store, its configuration), which may change shape from one release to the
next. Everything here is read-only.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.tasks import task_backends
from django.tasks.exceptions import InvalidTaskBackend
from django.utils import timezone

from sqs_tasks import monitoring, outbox
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.item import READY, Progress, Waiting
from sqs_tasks.monitoring import QueueDepth, TaskCounts
from sqs_tasks.results import FailedEntry
from sqs_tasks.task_results import resolve_task

__all__ = [
    "ErrorSummary",
    "FailedEntry",
    "Progress",
    "QueueDepth",
    "TaskCounts",
    "TaskStatus",
    "Waiting",
    "bucket_name",
    "failed_tasks",
    "oldest_waiting",
    "pause_limit",
    "queue_depths",
    "resolve_task",
    "task_counts",
    "task_status",
]


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    exception_class: str
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """A task as a page shows it: more than Django's TaskResult says (the attempt budget,
    when the next attempt may start, progress, whether a failure was expected)."""

    id: str
    task_path: str
    queue: str
    status: str  # a TaskResultStatus value
    attempts: int
    max_attempts: int
    progress: Progress | None
    errors: tuple[ErrorSummary, ...]
    next_attempt_at: datetime | None  # READY and waiting: a retry's backoff, or run_after
    expected_failure: bool  # FAILED in a way the task declared expected: nothing to fix
    sent: bool  # False while the task is committed but its message not sent yet
    waiting: Waiting | None = None  # READY, held back by a limit: why, and until when

    @property
    def last_error(self) -> ErrorSummary | None:
        return self.errors[-1] if self.errors else None


def backend(alias: str = "default") -> SQSBackend:
    found = task_backends[alias]
    if not isinstance(found, SQSBackend):
        raise InvalidTaskBackend(f"{alias!r} is not an SQS backend")
    return found


def task_status(task_id: str, *, alias: str = "default") -> TaskStatus | None:
    """The task's status now, or None when no such task is known (or not any more).

    Read eventually consistent (half the cost): pages poll this, and a status a fraction
    of a second old is harmless. `get_result` reads strongly, for read-after-write."""
    tasks = backend(alias)
    item = tasks.results.get(task_id, consistent=False)
    if item is None:
        envelope = outbox.pending(tasks.config.outbox_databases, task_id)
        if envelope is None:
            return None
        return TaskStatus(
            id=task_id,
            task_path=envelope.task_path,
            queue=envelope.queue_name,
            status=READY,
            attempts=0,
            max_attempts=envelope.policy.max_attempts,
            progress=None,
            errors=(),
            next_attempt_at=envelope.run_after,
            expected_failure=False,
            sent=False,
        )
    waiting = item.status == READY and item.not_before > timezone.now().timestamp()
    return TaskStatus(
        id=item.id,
        task_path=item.task_path,
        queue=item.queue,
        status=item.status,
        attempts=item.attempts,
        max_attempts=item.max_attempts,
        progress=item.progress,
        errors=tuple(ErrorSummary(e.exception_class_path, e.message, e.at) for e in item.errors),
        next_attempt_at=datetime.fromtimestamp(item.not_before, tz=UTC) if waiting else None,
        expected_failure=item.expected_failure,
        sent=True,
        waiting=item.waiting if item.status == READY else None,
    )


def failed_tasks(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    queues: list[str] | None = None,
    include_expected: bool = False,
    limit: int | None = None,
    alias: str = "default",
) -> list[FailedEntry]:
    """Tasks that failed for good, newest first (from the sparse failed index)."""
    tasks = backend(alias)
    found: list[FailedEntry] = []
    for entry in tasks.results.failed(
        queues=queues or sorted(tasks.queues), since=since, until=until
    ):
        if entry.expected and not include_expected:
            continue
        found.append(entry)
        if limit is not None and len(found) >= limit:
            break
    return found


def task_counts(*, window: timedelta, alias: str = "default") -> list[TaskCounts]:
    """Tasks per queue and outcome over the last `window`, from the emitted metrics."""
    end = _end_of_this_minute()
    return monitoring.task_counts(backend(alias), start=end - window, end=end)


def oldest_waiting(*, alias: str = "default") -> dict[str, float | None]:
    """Seconds the oldest message of each queue has waited (None where CloudWatch has no
    figure, as under moto): SQS's own metric, one metric read per queue."""
    return monitoring.oldest_waiting(backend(alias), end=_end_of_this_minute())


def _end_of_this_minute() -> datetime:
    """CloudWatch keeps metrics by the minute: reading up to the end of this one includes
    what was emitted a moment ago."""
    return timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)


def queue_depths(*, alias: str = "default") -> list[QueueDepth]:
    return monitoring.queue_depths(backend(alias))


def pause_limit(name: str, seconds: float, *, key: str = "", alias: str = "default") -> None:
    """Hold every start under the rate limit `name` (OPTIONS["LIMITS"]) for `seconds`,
    for every worker: what an API's Retry-After asks of all its callers."""
    backend(alias).gate.pause(name, seconds, key)


def bucket_name(*, alias: str = "default") -> str:
    """The S3 bucket the backend keeps payloads in; the app keeps its files there too,
    under prefixes of its own (template.yaml scopes each role to its prefixes)."""
    return backend(alias).config.bucket_name
