"""Starting a task on a user's behalf, and starting a failed one again.

The Job row and the enqueue share one transaction (the task is a row of the backend's
outbox until it is sent): if the row cannot be written nothing is sent, and once it
commits the task will run, whatever happens to this request next.
"""

from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.tasks import Task

from django_app.jobs import in_flight
from django_app.jobs.models import Job
from sqs_tasks import api


def start(
    owner: Any,
    task: Task,
    *args: Any,
    label: str,
    subject: models.Model | None = None,
    **kwargs: Any,
) -> Job:
    """Enqueue `task(*args, **kwargs)` for `owner`. A task enqueued with a dedup key
    that was used before returns the job already recorded for it. Raises
    in_flight.TooManyInFlight when the owner has as many of `task` running as allowed."""
    with transaction.atomic():
        return _enqueue(
            task,
            args,
            kwargs,
            owner=owner,
            label=label,
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
                api.resolve_task(job.task_path),
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


def _enqueue(task: Task, args: Sequence[Any], kwargs: dict[str, Any], **fields: Any) -> Job:
    in_flight.check(fields["owner"], task.module_path)
    result = task.enqueue(*args, **kwargs)
    job, _ = Job.objects.get_or_create(
        task_id=result.id,
        defaults={
            **fields,
            "task_path": task.module_path,
            "args": result.args,
            "kwargs": result.kwargs,
        },
    )
    return job


def latest_for(subject: models.Model, task: Task) -> Job | None:
    """The newest job running `task` on `subject` (after retries, the one that counts)."""
    return _jobs_running(task, [subject]).order_by("-created_at", "-id").first()


def latest_for_each(subjects: Sequence[models.Model], task: Task) -> dict[Any, Job]:
    """For a page of subjects, the newest job running `task` on each: one query, keyed
    by the subject's primary key (subjects with no such job are left out)."""
    if not subjects:
        return {}
    jobs = _jobs_running(task, subjects).order_by("created_at", "id")
    return {job.subject_id: job for job in jobs}  # the newest last, so it wins


def _jobs_running(task: Task, subjects: Sequence[models.Model]) -> models.QuerySet[Job]:
    """Jobs of `task` about any of `subjects` (all of one model)."""
    return Job.objects.filter(
        subject_type=ContentType.objects.get_for_model(subjects[0]),
        subject_id__in=[subject.pk for subject in subjects],
        task_path=task.module_path,
    )
