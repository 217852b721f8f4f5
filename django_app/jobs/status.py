"""A job's status as pages show it: read from the task system, kept once final.

The task system is the single truth while a task runs (sqs_tasks.api.task_status). Once
it has finished the outcome can no longer change, so it is copied onto the Job: list
pages then cost no DynamoDB reads for old tasks, and the outcome outlives the results' TTL.
"""

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.tasks import TaskResultStatus
from django.utils import timezone

from django_app.jobs.errors import user_message
from django_app.jobs.models import Job
from sqs_tasks import api

FINISHED = {TaskResultStatus.SUCCESSFUL.value, TaskResultStatus.FAILED.value}
UNKNOWN = "UNKNOWN"
# A job younger than this whose record is not written yet is just about to be.
JUST_STARTED = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class JobStatus:
    status: str  # a TaskResultStatus value, or UNKNOWN when the record is gone
    attempts: int = 0
    max_attempts: int | None = None
    current: int | None = None  # progress, as the task last reported it
    total: int | None = None
    message: str = ""
    error: str = ""  # the last failure, in words for the user
    error_class: str = ""  # the last failure's exception class, for staff

    @property
    def finished(self) -> bool:
        """Nothing more will change: pages stop polling (UNKNOWN included)."""
        return self.status in FINISHED or self.status == UNKNOWN

    @property
    def percent(self) -> int:
        if self.status == TaskResultStatus.SUCCESSFUL:
            return 100
        if self.current is None or not self.total:
            return 0
        return max(0, min(100, int(self.current * 100 / self.total)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"finished": self.finished, "percent": self.percent}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "JobStatus":
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})

    @classmethod
    def from_task(cls, task: api.TaskStatus) -> "JobStatus":
        """From the task system's status, which (unlike Django's TaskResult) carries the
        attempt budget, each error's message, and progress."""
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
        )


def status_of(job: Job) -> JobStatus:
    """The job's status now; a final one is stored on the job and never read again."""
    if job.final_status:
        return JobStatus.from_dict(job.final_status)
    task = api.task_status(job.task_id)
    if task is None:
        if timezone.now() - job.created_at < JUST_STARTED:
            return JobStatus(status=TaskResultStatus.READY.value)
        return JobStatus(status=UNKNOWN, error="There is no record of this task any more.")
    status = JobStatus.from_task(task)
    if status.status in FINISHED:
        job.final_status = status.to_dict()
        Job.objects.filter(pk=job.pk).update(final_status=job.final_status)
    return status
