"""A job's status as pages show it: read from the task system, kept once final.

The task system is the single truth while a task runs (sqs_tasks.api.task_status). Once
it has finished the outcome can no longer change, so it is copied onto the Job: list
pages then cost no DynamoDB reads for old tasks, and the outcome outlives the results' TTL.

Words: Django's READY means "not running yet", which a user would read as "finished". So
every page (and the JSON the progress bars poll) shows `status_label`, words that read one
way: queued, waiting for its turn (held back by a limit: waiting is not failing), running,
will retry, done, failed; `status` stays the backend's value, for scripts and tests. A
failure the task declared expected (the user's file is malformed) is final: nothing offers
to retry it.

A job that follows a workflow has one status for all its steps (sqs_tasks.workflows'
`get_workflow`): its progress is steps finished over steps known, and when a step fails,
that step's error is the workflow's.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from django_app.jobs.errors import user_message
from django_app.jobs.models import Job
from sqs_tasks import api
from sqs_tasks.workflows import WorkflowResult, get_workflow

READY, RUNNING = TaskResultStatus.READY.value, TaskResultStatus.RUNNING.value
SUCCESSFUL, FAILED = TaskResultStatus.SUCCESSFUL.value, TaskResultStatus.FAILED.value
FINISHED = {SUCCESSFUL, FAILED}
UNKNOWN = "UNKNOWN"
# A job younger than this whose record is not written yet is just about to be.
JUST_STARTED = timedelta(minutes=1)
LABELS = {READY: "queued", RUNNING: "running", SUCCESSFUL: "done", FAILED: "failed"}
WILL_RETRY = "will retry"
WAITING = "waiting for its turn"


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
    expected_failure: bool = False  # FAILED as the task declared it may: a retry cannot help
    waiting_reason: str = ""  # READY and held back by a limit: which, in the core's words
    waiting_until: str | None = None  # ISO; when the limit is looked at again

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
            stale += [("next_attempt_at", None), ("waiting_reason", ""), ("waiting_until", None)]
        if self.status != FAILED:
            stale += [("expected_failure", False)]
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
    def is_waiting(self) -> bool:
        """Held back by a limit (a rate, a concurrency key): waiting, not failing."""
        return self.status == READY and bool(self.waiting_reason) and not self.will_retry

    @property
    def can_retry(self) -> bool:
        """Failed for good, in a way another try might not: expected failures are final."""
        return self.status == FAILED and not self.expected_failure

    @property
    def status_label(self) -> str:
        """The state in words a user reads one way, on every page."""
        if self.will_retry:
            return WILL_RETRY
        if self.is_waiting:
            return WAITING
        return LABELS.get(self.status, "unknown")

    @property
    def note(self) -> str:
        """What the label leaves out: which attempt this is, or is about to be."""
        of = f" of {self.max_attempts}" if self.max_attempts else ""
        if self.will_retry:
            when = _when(self.next_attempt_at)
            return f"Attempt {self.attempts}{of} failed; it will be tried again{when}."
        if self.is_waiting:
            return f"Held back by its {self.waiting_reason}; it starts{_when(self.waiting_until)}."
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
            "can_retry": self.can_retry,
            "finished": self.finished,
            "percent": self.percent,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "JobStatus":
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})

    @classmethod
    def from_task(cls, task: api.TaskStatus) -> "JobStatus":
        """From the task system's status, which (unlike Django's TaskResult) carries the
        attempt budget, each error's message, progress, when the next attempt starts, and
        whether a limit holds it back."""
        progress = task.progress
        waiting = task.waiting
        return cls(
            status=task.status,
            attempts=task.attempts,
            max_attempts=task.max_attempts,
            current=progress.current if progress else None,
            total=progress.total if progress else None,
            message=progress.message if progress else "",
            next_attempt_at=task.next_attempt_at.isoformat() if task.next_attempt_at else None,
            waiting_reason=waiting.reason if waiting else "",
            waiting_until=datetime.fromtimestamp(waiting.until, UTC).isoformat()
            if waiting
            else None,
            **_failure(task),
        )

    @classmethod
    def from_workflow(cls, workflow: WorkflowResult, failed: api.TaskStatus | None) -> "JobStatus":
        """A workflow as one job: steps finished over steps known, and the failed step's
        error (`failed`, that step's status) as its own."""
        done, known = workflow.steps_finished, workflow.steps_known
        return cls(
            status=workflow.status.value,
            current=done,
            total=known,
            message=f"{done} of {known} steps done",
            **(_failure(failed) if failed else {}),
        )


def _failure(task: api.TaskStatus) -> dict[str, Any]:
    """The task's last error, as a JobStatus keeps it."""
    last = task.last_error
    if last is None:
        return {}
    return {
        "error": user_message(last.exception_class, last.message, expected=task.expected_failure),
        "error_class": last.exception_class,
        "expected_failure": task.expected_failure,
    }


def _when(moment: str | None) -> str:
    """ " in about 40 seconds": how long until an ISO moment, as closely as polls tell."""
    if not moment:
        return ""
    wait = (datetime.fromisoformat(moment) - timezone.now()).total_seconds()
    if wait < 1:
        return ""
    if wait < 90:
        return f" in about {max(5, 5 * round(wait / 5))} seconds"
    if wait < 90 * 60:
        return f" in about {round(wait / 60)} minutes"
    return f" in about {round(wait / 3600)} hours"


def status_of(job: Job) -> JobStatus:
    """The job's status now; a final one is stored on the job and never read again."""
    if job.final_status:
        return JobStatus.from_dict(job.final_status)
    status = _workflow_status(job) if job.is_workflow else _task_status(job)
    if status.status in FINISHED:  # not UNKNOWN: a record may come back (a redrive)
        job.final_status = status.to_dict()
        Job.objects.filter(pk=job.pk).update(final_status=job.final_status)
    return status


def _task_status(job: Job) -> JobStatus:
    task = api.task_status(job.task_id)
    return _no_record(job) if task is None else JobStatus.from_task(task)


def _workflow_status(job: Job) -> JobStatus:
    try:
        workflow = get_workflow(job.task_id)
    except TaskResultDoesNotExist:
        return _no_record(job)
    failed = api.task_status(workflow.failed_step_id) if workflow.failed_step_id else None
    return JobStatus.from_workflow(workflow, failed)


def _no_record(job: Job) -> JobStatus:
    if timezone.now() - job.created_at < JUST_STARTED:
        return JobStatus(status=READY)  # its record is just about to be written
    return JobStatus(status=UNKNOWN, error="There is no record of this task any more.")
