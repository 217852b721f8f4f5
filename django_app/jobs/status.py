"""A job's status as pages show it: read from the task backend, kept once final.

The backend is the single truth while a task runs; pages read it through Django's public
API (`get_result`, and `get_progress` while the task runs). Once the task has finished the
outcome can no longer change, so it is copied onto the Job: list pages then cost no
reads for old tasks, and the outcome outlives the result store's TTL.

Words: Django's READY means "not running yet", which a user would read as "finished". So
every page (and the JSON the progress bars poll) shows `status_label`, words that read one
way: queued, running, will retry, done, failed; `status` stays the backend's value, for
scripts and tests.
"""

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.tasks import TaskResult, TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from django_app.jobs.errors import exception_message, user_message
from django_app.jobs.models import Job

READY, RUNNING = TaskResultStatus.READY.value, TaskResultStatus.RUNNING.value
SUCCESSFUL, FAILED = TaskResultStatus.SUCCESSFUL.value, TaskResultStatus.FAILED.value
FINISHED = {SUCCESSFUL, FAILED}
UNKNOWN = "UNKNOWN"
# A job younger than this whose record is not written yet is just about to be.
JUST_STARTED = timedelta(minutes=1)
LABELS = {READY: "queued", RUNNING: "running", SUCCESSFUL: "done", FAILED: "failed"}
WILL_RETRY = "will retry"
# For counts per status (the staff overview), where READY holds both kinds of waiting.
HEADINGS = {**LABELS, READY: f"{LABELS[READY]} or {WILL_RETRY}"}


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

    def __post_init__(self) -> None:
        # Show only what is still true. Progress belongs to a running attempt: once the
        # task has finished, or that attempt has failed, it is history. An earlier
        # attempt's error is history too once another attempt runs or succeeds.
        stale = []
        if self.status != RUNNING:
            stale += [("current", None), ("total", None), ("message", "")]
        if self.status in (RUNNING, SUCCESSFUL):
            stale += [("error", ""), ("error_class", "")]
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
            return f"Attempt {self.attempts}{of} failed; it will be tried again."
        if self.status == RUNNING and self.attempts > 1:
            return f"Attempt {self.attempts}{of}."
        if self.status == FAILED and self.attempts > 1:
            return f"Failed after {self.attempts} attempts."
        return ""

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
    def from_result(cls, result: TaskResult, progress: dict[str, Any] | None) -> "JobStatus":
        """From Django's TaskResult (one attempt per worker id) and, while the task runs,
        the progress it last reported."""
        progress = progress or {}
        last = result.errors[-1] if result.errors else None
        return cls(
            status=result.status.value,
            attempts=len(result.worker_ids),
            max_attempts=default_task_backend.policy_for(result.task).max_attempts,
            current=progress.get("current"),
            total=progress.get("total"),
            message=progress.get("message", ""),
            error=user_message(last.exception_class_path, exception_message(last)) if last else "",
            error_class=last.exception_class_path if last else "",
        )


def read_status(task_id: str) -> JobStatus | None:
    """The task's status from the backend, or None when it has no record of it."""
    try:
        result = default_task_backend.get_result(task_id)
        running = result.status == TaskResultStatus.RUNNING
        progress = default_task_backend.get_progress(task_id) if running else None
    except TaskResultDoesNotExist:
        return None
    return JobStatus.from_result(result, progress)


def status_of(job: Job) -> JobStatus:
    """The job's status now; a final one is stored on the job and never read again."""
    if job.final_status:
        return JobStatus.from_dict(job.final_status)
    status = read_status(job.task_id)
    if status is None:
        if timezone.now() - job.created_at < JUST_STARTED:
            return JobStatus(status=READY)
        return JobStatus(status=UNKNOWN, error="There is no record of this task any more.")
    if status.finished:
        job.final_status = status.to_dict()
        Job.objects.filter(pk=job.pk).update(final_status=job.final_status)
    return status
