"""A job's status as pages show it: read from the task system, kept once final.

The task system is the single truth while a task runs (sqs_tasks.api.task_status). Once
it has finished the outcome can no longer change, so it is copied onto the Job: list
pages then cost no DynamoDB reads for old tasks, and the outcome outlives the results' TTL.

Words: Django's READY means "not running yet", which a user would read as "finished". So
every page (and the JSON the progress bars poll) shows `status_label`, words that read one
way: queued, running, will retry, done, failed; `status` stays the backend's value, for
scripts and tests.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.tasks import TaskResultStatus
from django.utils import timezone

from django_app.jobs.errors import user_message
from django_app.jobs.models import Job
from sqs_tasks import api

READY, RUNNING = TaskResultStatus.READY.value, TaskResultStatus.RUNNING.value
SUCCESSFUL, FAILED = TaskResultStatus.SUCCESSFUL.value, TaskResultStatus.FAILED.value
FINISHED = {SUCCESSFUL, FAILED}
UNKNOWN = "UNKNOWN"
# A job younger than this whose record is not written yet is just about to be.
JUST_STARTED = timedelta(minutes=1)
LABELS = {READY: "queued", RUNNING: "running", SUCCESSFUL: "done", FAILED: "failed"}
WILL_RETRY = "will retry"


@dataclass(frozen=True, slots=True)
class JobStatus:
    status: str  # a TaskResultStatus value, or UNKNOWN when the record is gone
    attempts: int = 0  # attempts started so far
    max_attempts: int | None = None
    current: int | None = None  # progress, as the running attempt last reported it
    total: int | None = None
    message: str = ""
    error: str = ""  # the last failure, in words for the user
    error_class: str = ""  # the last failure's exception class, for staff
    next_attempt_at: str | None = None  # ISO; READY and waiting out a retry's backoff

    def __post_init__(self) -> None:
        # Show only what is still true. Progress belongs to a running attempt: once the
        # task has finished, or that attempt has failed, it is history. An earlier
        # attempt's error is history too once another attempt runs or succeeds.
        stale = []
        if self.status != RUNNING:
            stale += [("current", None), ("total", None), ("message", "")]
        if self.status in (RUNNING, SUCCESSFUL):
            stale += [("error", ""), ("error_class", "")]
        if self.status != READY:
            stale += [("next_attempt_at", None)]
        for name, empty in stale:
            object.__setattr__(self, name, empty)

    @property
    def finished(self) -> bool:
        """Nothing more will change: pages stop polling (UNKNOWN included)."""
        return self.status in FINISHED or self.status == UNKNOWN

    @property
    def will_retry(self) -> bool:
        """An attempt failed and another will follow (Django's READY, with an error)."""
        return self.status == READY and bool(self.error)

    @property
    def status_label(self) -> str:
        """The state in words a user reads one way, on every page."""
        if self.will_retry:
            return WILL_RETRY
        return LABELS.get(self.status, "unknown")

    @property
    def note(self) -> str:
        """What the label leaves out: which attempt this is, or is about to be."""
        of = f" of {self.max_attempts}" if self.max_attempts else ""
        if self.will_retry:
            return f"Attempt {self.attempts}{of} failed; it will be tried again{self._when()}."
        if self.status == RUNNING and self.attempts > 1:
            return f"Attempt {self.attempts}{of}."
        if self.status == FAILED and self.attempts > 1:
            return f"Failed after {self.attempts} attempts."
        return ""

    def _when(self) -> str:
        if not self.next_attempt_at:
            return ""
        wait = (datetime.fromisoformat(self.next_attempt_at) - timezone.now()).total_seconds()
        if wait < 1:
            return ""
        if wait < 90:
            return f" in about {max(5, 5 * round(wait / 5))} seconds"  # as close as polls tell
        if wait < 90 * 60:
            return f" in about {round(wait / 60)} minutes"
        return f" in about {round(wait / 3600)} hours"

    @property
    def percent(self) -> int:
        if self.status == SUCCESSFUL:
            return 100
        if self.current is None or not self.total:
            return 0
        return max(0, min(100, int(self.current * 100 / self.total)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "status_label": self.status_label,
            "note": self.note,
            "will_retry": self.will_retry,
            "finished": self.finished,
            "percent": self.percent,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "JobStatus":
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})

    @classmethod
    def from_task(cls, task: api.TaskStatus) -> "JobStatus":
        """From the task system's status, which (unlike Django's TaskResult) carries the
        attempt budget, each error's message, progress and when the next attempt starts."""
        last = task.last_error
        progress = task.progress
        return cls(
            status=task.status,
            attempts=task.attempts,
            max_attempts=task.max_attempts,
            current=progress.current if progress else None,
            total=progress.total if progress else None,
            message=progress.message if progress else "",
            error=user_message(last.exception_class, last.message) if last else "",
            error_class=last.exception_class if last else "",
            next_attempt_at=task.next_attempt_at.isoformat() if task.next_attempt_at else None,
        )


def status_of(job: Job) -> JobStatus:
    """The job's status now; a final one is stored on the job and never read again."""
    if job.final_status:
        return JobStatus.from_dict(job.final_status)
    task = api.task_status(job.task_id)
    if task is None:
        if timezone.now() - job.created_at < JUST_STARTED:
            return JobStatus(status=READY)
        return JobStatus(status=UNKNOWN, error="There is no record of this task any more.")
    status = JobStatus.from_task(task)
    if status.finished:
        job.final_status = status.to_dict()
        Job.objects.filter(pk=job.pk).update(final_status=job.final_status)
    return status
