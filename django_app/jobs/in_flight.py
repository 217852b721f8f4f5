"""How many tasks of one kind a user may have in flight at once.

Sign-up is open, and some tasks are costly to everyone: a report holds a heavy worker
(whose queue also carries the nightly backup) for minutes, a rates refresh spends tokens
of the bucket all users share. A task declares its limit here; `services` checks it
before each start and retry, and refuses past it with a sentence for the page.

In flight is counted in this app's own table, never in the task result store: a Job is
in flight until the worker's `task_finished` signal marks it finished (or a page has
stored its final status). A workflow sends no such signal, and a worker that dies takes
its signal with it: so before refusing, the jobs still counted are looked at once more
(their status read, and stored if final), and a job older than the limit's horizon stops
counting, so nobody is locked out for good.

Kinds of work declared with the same setting share one limit: a report over one file (a
task) and one over several (a workflow) are both "reports being built".
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.tasks import TaskResult, TaskResultStatus
from django.utils import timezone

from django_app.jobs.errors import UserFacingError
from django_app.jobs.models import Job
from django_app.jobs.status import status_of

logger = logging.getLogger(__name__)

FINISHED = {TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED}


@dataclass(frozen=True, slots=True)
class InFlightLimit:
    setting: str  # the setting that holds how many jobs one user may have in flight
    horizon: timedelta  # longer than any run with its retries: then the worker was lost
    what: str  # the jobs in flight, in words: "reports being built"


class TooManyInFlight(UserFacingError):
    """The user has as many of these tasks in flight as they may."""


_LIMITS: dict[str, InFlightLimit] = {}


def limit(task: Any, setting: str, horizon: timedelta, what: str) -> None:
    """Declare how many of `task` (a task, or a workflow of jobs.services: anything with
    a `module_path`) one user may have in flight (see InFlightLimit)."""
    _LIMITS[task.module_path] = InFlightLimit(setting, horizon, what)


def check(owner: Any, task_path: str) -> None:
    """Raise TooManyInFlight if `owner` may not start one more `task_path` now. Call it in
    the transaction that records the new Job: the owner's row is locked until it ends,
    so two requests at once cannot both take the last place (on PostgreSQL)."""
    declared = _LIMITS.get(task_path)
    if declared is None:
        return
    get_user_model().objects.select_for_update().filter(pk=owner.pk).exists()
    allowed: int = getattr(settings, declared.setting)
    if count(owner, task_path) >= allowed:
        for job in _counted(owner, task_path):
            status_of(job)  # stores the status once final: then it no longer counts
        if count(owner, task_path) >= allowed:
            raise TooManyInFlight(
                f"You have {allowed} {declared.what} already. "
                "Start another one when one of them has finished."
            )


def count(owner: Any, task_path: str) -> int:
    """How many jobs under `task_path`'s limit `owner` has in flight."""
    return _counted(owner, task_path).count()


def _counted(owner: Any, task_path: str) -> QuerySet[Job]:
    declared = _LIMITS[task_path]
    sharing = [path for path, other in _LIMITS.items() if other.setting == declared.setting]
    return Job.objects.filter(
        owner=owner,
        task_path__in=sharing,
        created_at__gte=timezone.now() - declared.horizon,
        finished_at__isnull=True,
        final_status__isnull=True,
    )


def record_finished(sender: type, task_result: TaskResult, **kwargs: Any) -> None:
    """The `task_finished` receiver: a limited task that ended for good is no longer in
    flight. Bookkeeping must never fail the task it follows, so errors are logged."""
    if task_result.status not in FINISHED or task_result.task.module_path not in _LIMITS:
        return
    try:
        Job.objects.filter(task_id=task_result.id, finished_at__isnull=True).update(
            finished_at=timezone.now()
        )
    except Exception:
        logger.exception("could not mark a job finished", extra={"task_id": task_result.id})
