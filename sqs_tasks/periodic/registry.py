"""The periodic tasks this code base declares: a task, when it runs, and whether it does.

Declare one next to its task, in an app's `tasks.py` (imported by `autodiscover`):

    @periodic("purge-expired-results", schedule="cron(30 2 * * ? *)")
    @task(queue_name="heavy")
    def purge_expired_results(scheduled_time: str | None = None) -> dict: ...

Everything is checked when the module is imported: the name, the expression, the time zone,
and that the task can be enqueued with no arguments (a schedule has none to give), apart
from an optional `scheduled_time`, which receives the tick the schedule fired for.
Each declaration needs a matching schedule in template.yaml; `manage.py periodic_tasks
--check` (and the test suite) compares the two.
"""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.tasks import Task, TaskResult
from django.utils.module_loading import autodiscover_modules

from sqs_tasks.periodic.errors import InvalidScheduleExpression, PeriodicTaskError
from sqs_tasks.periodic.expressions import ScheduleExpression, parse_schedule
from sqs_tasks.task import SQSTask

# Schedules are named `<app>-<stage>-<name>` in AWS, where a name has at most 64 characters
# and the prefix may take 36 (a 30-character app name, "prod", two hyphens).
NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,26}[a-z0-9])?")
TICK_PARAMETER = "scheduled_time"


def tick_iso(moment: datetime) -> str:
    """The one spelling of a tick: UTC, to the second. Deduplication keys depend on it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class PeriodicTask:
    name: str
    task: Task
    schedule: ScheduleExpression
    timezone: str = "UTC"
    enabled: bool = True

    @property
    def expression(self) -> str:
        return self.schedule.text

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def takes_scheduled_time(self) -> bool:
        return TICK_PARAMETER in inspect.signature(self.task.func).parameters

    def next_runs(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next `count` runs after `after` (fewer when the expression ends, none for a
        rate, whose runs count from the schedule's creation)."""
        runs: list[datetime] = []
        while len(runs) < count and (run := self.schedule.next_after(after, self.zone)):
            runs.append(run)
            after = run
        return runs

    def enqueue(self, tick: datetime) -> TaskResult:
        """Enqueue the run for `tick`; a second call for the same tick sends nothing and
        returns the same result id (EventBridge may deliver a tick twice)."""
        kwargs = {TICK_PARAMETER: tick_iso(tick)} if self.takes_scheduled_time else {}
        return self.task.using(dedup_key=f"{self.name}@{tick_iso(tick)}").enqueue(**kwargs)


def declare(
    name: str, task: Task, *, schedule: str, timezone: str = "UTC", enabled: bool = True
) -> PeriodicTask:
    """Build a checked PeriodicTask, or raise PeriodicTaskError saying what is wrong."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise PeriodicTaskError(
            f"Periodic task name {name!r}: use 1-28 lower-case letters, digits and hyphens, "
            "starting and ending with a letter or digit."
        )
    where = f"Periodic task {name!r}"
    if not isinstance(task, SQSTask):
        raise PeriodicTaskError(
            f"{where}: {task!r} is not a task of the SQS backend (decorate it with @task, "
            "and put @periodic above @task)."
        )
    try:
        expression = parse_schedule(schedule)
    except InvalidScheduleExpression as error:
        raise PeriodicTaskError(f"{where}: {error}") from None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise PeriodicTaskError(
            f"{where}: unknown time zone {timezone!r} (use an IANA name, e.g. 'Europe/Paris')."
        ) from None
    if not isinstance(enabled, bool):
        raise PeriodicTaskError(f"{where}: enabled must be True or False.")
    _check_callable_without_arguments(where, task)
    return PeriodicTask(name, task, expression, timezone, enabled)


def _check_callable_without_arguments(where: str, task: Task) -> None:
    parameters = list(inspect.signature(task.func).parameters.values())
    if task.takes_context:
        parameters = parameters[1:]
    required = [
        p.name
        for p in parameters
        if p.name != TICK_PARAMETER
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise PeriodicTaskError(
            f"{where}: {task.module_path} requires {', '.join(required)}, but a schedule "
            f"passes no arguments (only an optional {TICK_PARAMETER!r})."
        )


class PeriodicRegistry:
    """Periodic tasks by name. The one registry is `periodic_tasks`; tests make their own."""

    def __init__(self) -> None:
        self._tasks: dict[str, PeriodicTask] = {}
        self._discovered = False

    def register(self, periodic: PeriodicTask) -> PeriodicTask:
        existing = self._tasks.get(periodic.name)
        if existing is not None and existing != periodic:
            raise PeriodicTaskError(
                f"Periodic task {periodic.name!r} is declared twice: for "
                f"{existing.task.module_path} and for {periodic.task.module_path}."
            )
        self._tasks[periodic.name] = periodic
        return periodic

    def unregister(self, name: str) -> None:
        self._tasks.pop(name, None)

    def autodiscover(self) -> None:
        """Import every installed app's `tasks` module once, so its declarations run."""
        if not self._discovered:
            autodiscover_modules("tasks")
            self._discovered = True

    def get(self, name: str) -> PeriodicTask | None:
        self.autodiscover()
        return self._tasks.get(name)

    def all(self) -> list[PeriodicTask]:
        self.autodiscover()
        return sorted(self._tasks.values(), key=lambda periodic: periodic.name)


periodic_tasks = PeriodicRegistry()


def register_periodic(
    name: str,
    task: Task,
    *,
    schedule: str,
    timezone: str = "UTC",
    enabled: bool = True,
    registry: PeriodicRegistry = periodic_tasks,
) -> PeriodicTask:
    """Declare `task` periodic: run on `schedule` (EventBridge cron/rate) in `timezone`."""
    return registry.register(
        declare(name, task, schedule=schedule, timezone=timezone, enabled=enabled)
    )


def periodic(
    name: str,
    *,
    schedule: str,
    timezone: str = "UTC",
    enabled: bool = True,
    registry: PeriodicRegistry = periodic_tasks,
) -> Callable[[Task], Task]:
    """`register_periodic` as a decorator, stacked above `@task`; returns the task as is."""

    def decorate(task: Task) -> Task:
        register_periodic(
            name, task, schedule=schedule, timezone=timezone, enabled=enabled, registry=registry
        )
        return task

    return decorate
