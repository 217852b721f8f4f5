"""Starting a task or a workflow on a user's behalf, and starting a failed one again.

The Job row and the enqueue share one transaction (the task, or the workflow's record and
first steps, are rows of the backend's outbox until sent): if the row cannot be written
nothing is sent, and once it commits the work will run, whatever happens to this request
next.

A workflow is started by a function of the app (declared with `@workflow`) that builds
and enqueues it: the Job keeps that function's path and arguments, so a failed workflow
can be started again as a whole, as a failed task can.
"""

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.tasks import Task
from django.utils.text import Truncator

from django_app.jobs import in_flight
from django_app.jobs.models import Job
from sqs_tasks import api

if TYPE_CHECKING:
    from sqs_tasks.workflows import WorkflowResult

_OWN_CODE = "django_app."  # the only modules a workflow's path is looked up in
LABEL_CHARS = Job._meta.get_field("label").max_length


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow the app starts for users: `start(*args, **kwargs)` builds and enqueues
    it, in the caller's transaction, and returns its result."""

    module_path: str
    start: Callable[..., "WorkflowResult"]


_WORKFLOWS: dict[str, Workflow] = {}


def workflow(start: Callable[..., "WorkflowResult"]) -> Workflow:
    """Declare a function that enqueues a workflow, so jobs can start and retry it."""
    declared = Workflow(f"{start.__module__}.{start.__qualname__}", start)
    _WORKFLOWS[declared.module_path] = declared
    return declared


def resolve_workflow(path: str) -> Workflow:
    """The workflow declared at `path` (its module imported first if need be); LookupError
    for a path that names none."""
    if path not in _WORKFLOWS and path.startswith(_OWN_CODE):
        importlib.import_module(path.rsplit(".", 1)[0])
    try:
        return _WORKFLOWS[path]
    except KeyError:
        raise LookupError(f"no workflow is declared at {path!r}") from None


Startable = Task | Workflow


def start(
    owner: Any,
    task: Startable,
    *args: Any,
    label: str,
    subject: models.Model | None = None,
    **kwargs: Any,
) -> Job:
    """Enqueue `task(*args, **kwargs)` (or start the workflow) for `owner`. A task
    enqueued with a dedup key that was used before returns the job already recorded for
    it. Raises in_flight.TooManyInFlight when the owner has as many of `task` running as
    allowed."""
    with transaction.atomic():
        return _enqueue(
            task,
            args,
            kwargs,
            owner=owner,
            label=Truncator(label).chars(LABEL_CHARS),  # it may carry file names
            subject_type=ContentType.objects.get_for_model(subject) if subject else None,
            subject_id=subject.pk if subject else None,
        )


def retry(job: Job) -> Job:
    """Enqueue the failed job's call again, as a new task linked to the one it replaces.
    A job is retried at most once: a second request gets the first retry back. A retry
    counts against the task's in-flight limit like a start."""
    try:
        with transaction.atomic():
            return _enqueue(
                resolve_workflow(job.task_path)
                if job.is_workflow
                else api.resolve_task(job.task_path),
                job.args,
                job.kwargs,
                owner=job.owner,
                label=job.label,
                subject_type=job.subject_type,
                subject_id=job.subject_id,
                retry_of=job,
            )
    except IntegrityError:  # retried already; the rollback dropped the second send
        return Job.objects.get(retry_of=job)


def _enqueue(task: Startable, args: Sequence[Any], kwargs: dict[str, Any], **fields: Any) -> Job:
    in_flight.check(fields["owner"], task.module_path)
    if isinstance(task, Workflow):
        started = task.start(*args, **kwargs)
        call = {"kind": Job.WORKFLOW, "args": list(args), "kwargs": dict(kwargs)}
    else:
        started = task.enqueue(*args, **kwargs)
        call = {"kind": Job.TASK, "args": started.args, "kwargs": started.kwargs}
    job, _ = Job.objects.get_or_create(
        task_id=started.id, defaults={**fields, **call, "task_path": task.module_path}
    )
    return job


def latest_for(subject: models.Model, *tasks: Startable) -> Job | None:
    """The newest job running any of `tasks` on `subject` (after retries, the one that
    counts)."""
    return _jobs_running(tasks, [subject]).order_by("-created_at", "-id").first()


def latest_for_each(subjects: Sequence[models.Model], *tasks: Startable) -> dict[Any, Job]:
    """For a page of subjects, the newest job running any of `tasks` on each: one query,
    keyed by the subject's primary key (subjects with no such job are left out)."""
    if not subjects:
        return {}
    jobs = _jobs_running(tasks, subjects).order_by("created_at", "id")
    return {job.subject_id: job for job in jobs}  # the newest last, so it wins


def _jobs_running(
    tasks: Sequence[Startable], subjects: Sequence[models.Model]
) -> models.QuerySet[Job]:
    """Jobs of `tasks` about any of `subjects` (all of one model)."""
    return Job.objects.filter(
        subject_type=ContentType.objects.get_for_model(subjects[0]),
        subject_id__in=[subject.pk for subject in subjects],
        task_path__in=[task.module_path for task in tasks],
    )
