"""`manage.py check` (tag `tasks`): the code's tasks against template.yaml.

Code and infrastructure are written apart and drift apart; each mismatch below fails only
in production, and late: a task on a queue nobody made is refused at enqueue, a timeout
longer than its worker's is never started, attempts past maxReceiveCount are dead-lettered
by SQS before the worker decides, a visibility shorter than the worker's run hands the
message to a second worker mid-run, no ReportBatchItemFailures retries a whole batch for
one failure, no DLQ loses what fails for good, and a periodic task without its schedule
never runs. The check reads template.yaml (libyaml: tens of milliseconds) and calls no AWS
API. Where the template is not there (a deployed Lambda function ships none) it says
nothing: the deploy that made the functions came from a checked checkout.
"""

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from sqs_tasks.infra.cfn import TemplateError, load_expanded
from sqs_tasks.infra.task_queues import TaskQueue, Worker, task_queues
from sqs_tasks.queues import NON_ATTEMPT_RECEIVES

TAG = "tasks"
# Receives of a message that are not attempts (the worker's own count: it hands a copy back
# unstarted this often before replacing it, sqs_tasks/queues.py, which says the exception).
# SQS's maxReceiveCount must leave room for them above max_attempts, or SQS dead-letters a
# message the worker would still retry.
RECEIVES_NOT_ATTEMPTS = NON_ATTEMPT_RECEIVES
# Lambda's advice for SQS: visibility of at least six function timeouts (plus the batching
# window), so a message is not handed to a second worker while the first still runs it.
VISIBILITY_TIMEOUTS = 6
DECLARE_QUEUE = "declare it in template.yaml: add it to TaskQueues (README, Adding a queue)"


@dataclass(frozen=True, slots=True)
class TaskSettings:
    """What a declared task asks of its queue, its backend's defaults filled in."""

    path: str  # module.function
    queue_name: str
    timeout: float  # seconds for one attempt
    max_attempts: int
    deadline_margin: float  # seconds the worker keeps back (the backend's DEADLINE_MARGIN)


@register(TAG)
def check_tasks_against_template(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    path = Path(settings.BASE_DIR) / "template.yaml"
    if not path.is_file():
        return []
    from sqs_tasks.periodic import periodic_tasks

    periodic_tasks.autodiscover()
    return problems(
        path,
        declared_tasks(),
        list(settings_queue_names()),
        periodic_tasks.all(),
        lanes=dict(settings_lanes()),
    )


def problems(
    template_path: Path,
    tasks: Sequence[TaskSettings],
    queue_names: Sequence[str],
    periodic: Sequence[Any] = (),
    *,
    lanes: dict[str, str] | None = None,
) -> list[CheckMessage]:
    """Every disagreement between template_path and the code, as check messages. `lanes`:
    each priority lane's SQS queue (<queue>-<lane>, as template.yaml names it) -> the
    queue it is a lane of."""
    lanes = lanes or {}
    try:
        template = load_expanded(template_path)
        if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
            raise TemplateError("it has no Resources mapping")
        queues = {queue.name: queue for queue in task_queues(template)}
    except (OSError, ValueError, TemplateError) as error:
        return [
            Error(
                f"Cannot read {template_path.name}: {error}",
                hint="Fix the template; `cfn-lint template.yaml` says more.",
                id="tasks.E010",
            )
        ]
    found = _settings_problems(queues, queue_names, lanes)
    for queue in queues.values():
        found += _queue_problems(queue)
    for task in tasks:
        found += _task_problems(task, queues.get(task.queue_name))
        # A task of a queue may run on any of its lanes' workers too.
        for lane_queue, of_queue in lanes.items():
            if of_queue == task.queue_name and lane_queue in queues:
                found += _task_problems(task, queues[lane_queue])
    found += _schedule_problems(template, periodic)
    return found


def _settings_problems(
    queues: dict[str, TaskQueue], names: Sequence[str], lanes: dict[str, str]
) -> list[CheckMessage]:
    found: list[CheckMessage] = [
        Error(
            f"PRIORITY_LANES sends tasks of queue {of_queue!r} to {lane_queue!r}, which "
            "template.yaml does not declare.",
            hint="Tasks enqueued with that priority would find no queue: declare it in "
            f"template.yaml: add {lane_queue} to TaskQueues (README, Adding a queue).",
            id="tasks.E011",
        )
        for lane_queue, of_queue in lanes.items()
        if lane_queue not in queues
    ]
    found += [
        Error(
            f"settings.TASKS lists queue {name!r}, which template.yaml does not declare.",
            hint=f"Tasks enqueued there would find no queue: {DECLARE_QUEUE}.",
            id="tasks.E002",
        )
        for name in names
        if name not in queues
    ]
    found += [
        Warning(
            f"template.yaml declares queue {name!r}, which settings.TASKS does not list.",
            hint="No task can be enqueued there. TASK_QUEUES, when set, overrides the template.",
            id="tasks.W001",
        )
        for name in queues
        if name not in names and name not in lanes
    ]
    return found


def _queue_problems(queue: TaskQueue) -> list[CheckMessage]:
    where = f"Queue {queue.name!r} ({queue.logical_id})"
    found: list[CheckMessage] = []
    if queue.dead_letter_queue is None:
        found.append(
            Error(
                f"{where} has no dead-letter queue.",
                hint="Give it a RedrivePolicy: what fails for good is otherwise lost.",
                id="tasks.E007",
            )
        )
    if not queue.workers:
        found.append(
            Error(
                f"{where} has no worker: no function has an SQS event on it.",
                hint="Nothing would run its tasks; declare it through TaskQueues.",
                id="tasks.E008",
            )
        )
    for worker in queue.workers:
        found += _worker_problems(queue, worker, where)
    return found


def _worker_problems(queue: TaskQueue, worker: Worker, where: str) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if not worker.reports_item_failures:
        found.append(
            Error(
                f"{worker.logical_id}'s SQS event on {queue.name!r} does not report batch "
                "item failures.",
                hint="Add FunctionResponseTypes: [ReportBatchItemFailures]: without it one "
                "failed record retries its whole batch.",
                id="tasks.E006",
            )
        )
    if None in (queue.visibility_timeout, worker.timeout, worker.batching_window):
        found.append(_unreadable(where, "VisibilityTimeout, Timeout or batching window"))
        return found
    needed = VISIBILITY_TIMEOUTS * worker.timeout + worker.batching_window
    if queue.visibility_timeout < needed:
        found.append(
            Error(
                f"{where} hides a message {queue.visibility_timeout}s, less than "
                f"{VISIBILITY_TIMEOUTS} x its worker's timeout ({worker.timeout}s) + batching "
                f"window ({worker.batching_window}s) = {needed}s.",
                hint=f"Set VisibilityTimeout to at least {needed} for {queue.name!r} "
                "(Mappings.TaskQueueSettings): otherwise a second worker may receive a "
                "message while the first still runs it.",
                id="tasks.E005",
            )
        )
    return found


def _task_problems(task: TaskSettings, queue: TaskQueue | None) -> list[CheckMessage]:
    if queue is None:
        return [
            Error(
                f"Task {task.path} uses queue {task.queue_name!r}, which template.yaml does "
                "not declare.",
                hint=f"Change its queue_name, or {DECLARE_QUEUE}.",
                obj=task.path,
                id="tasks.E001",
            )
        ]
    found: list[CheckMessage] = []
    for worker in queue.workers:
        if worker.timeout is None:
            found.append(_unreadable(f"{worker.logical_id}", "Timeout"))
            continue
        room = worker.timeout - task.deadline_margin
        if task.timeout > room:
            found.append(
                Error(
                    f"Task {task.path} may run {task.timeout:g}s, more than its worker "
                    f"{worker.logical_id} allows: {worker.timeout}s less the "
                    f"{task.deadline_margin:g}s DEADLINE_MARGIN = {room:g}s.",
                    hint=f"Lower the task's timeout to {room:g}s or less, or raise Timeout "
                    f"for {queue.name!r} (Mappings.TaskQueueSettings, with its "
                    "VisibilityTimeout).",
                    obj=task.path,
                    id="tasks.E003",
                )
            )
    if queue.max_receive_count is None:
        if queue.dead_letter_queue is not None:
            found.append(_unreadable(f"Queue {queue.name!r}", "maxReceiveCount"))
    elif task.max_attempts + RECEIVES_NOT_ATTEMPTS > queue.max_receive_count:
        found.append(
            Error(
                f"Task {task.path} makes up to {task.max_attempts} attempts; queue "
                f"{queue.name!r} dead-letters a message after {queue.max_receive_count} "
                f"receives, {RECEIVES_NOT_ATTEMPTS} of which may not be attempts.",
                hint=f"Lower max_attempts to {queue.max_receive_count - RECEIVES_NOT_ATTEMPTS}"
                f" or less, or raise MaxReceiveCount for {queue.name!r} to at least "
                f"{task.max_attempts + RECEIVES_NOT_ATTEMPTS} (Mappings.TaskQueueSettings).",
                obj=task.path,
                id="tasks.E004",
            )
        )
    return found


def _schedule_problems(template: dict[str, Any], periodic: Sequence[Any]) -> list[CheckMessage]:
    from sqs_tasks.periodic.drift import find_drift
    from sqs_tasks.periodic.template import declared_schedules

    return [
        Error(
            problem,
            hint="`manage.py periodic_tasks --check` lists every difference.",
            id="tasks.E009",
        )
        for problem in find_drift(periodic, declared_schedules(template))
    ]


def _unreadable(where: str, what: str) -> CheckMessage:
    return Warning(
        f"{where}: {what} is not a literal in template.yaml, so it cannot be checked.",
        hint="Give it a number, or check it by hand.",
        id="tasks.W002",
    )


def settings_queue_names() -> Iterable[str]:
    for _alias, backend in _sqs_backends():
        yield from sorted(backend.queues)


def settings_lanes() -> Iterable[tuple[str, str]]:
    """(lane's queue as the template names it, the queue it is a lane of)."""
    for _alias, backend in _sqs_backends():
        for queue, lanes in backend.config.priority_lanes.items():
            for lane in lanes:
                yield f"{queue}-{lane}", queue


def declared_tasks() -> list[TaskSettings]:
    """The SQS backend's tasks in the installed apps' loaded modules (their `tasks`
    modules are loaded by the periodic registry's autodiscovery)."""
    from django.apps import apps
    from django.tasks import Task

    backends = dict(_sqs_backends())
    apps_prefixes = tuple(config.name for config in apps.get_app_configs())
    seen: dict[str, TaskSettings] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(apps_prefixes):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Task) and value.backend in backends:
                config = backends[value.backend].config
                seen[value.module_path] = TaskSettings(
                    path=value.module_path,
                    queue_name=value.queue_name,
                    timeout=float(getattr(value, "timeout", None) or config.timeout),
                    max_attempts=int(getattr(value, "max_attempts", None) or config.max_attempts),
                    deadline_margin=config.deadline_margin,
                )
    return sorted(seen.values(), key=lambda task: task.path)


def _sqs_backends() -> Iterable[tuple[str, Any]]:
    from django.tasks import task_backends

    from sqs_tasks.backends.sqs import SQSBackend

    for alias in settings.TASKS:
        backend = task_backends[alias]
        if isinstance(backend, SQSBackend):
            yield alias, backend
