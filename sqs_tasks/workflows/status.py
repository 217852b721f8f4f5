"""A workflow as its caller reads it (contract 8): `get_workflow(id)`.

The status is read from its steps' items, not kept apart where it could disagree with
them: FAILED while any step has failed for good (a redrive of that step lifts it),
SUCCESSFUL once the last element has finished (the engine records that on the workflow),
RUNNING once any step has been claimed, READY before. Progress is steps finished over
steps known (a map's calls are known once it has started).
"""

from dataclasses import dataclass, field
from typing import Any

from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist

from sqs_tasks import outbox
from sqs_tasks.item import FAILED, READY, SUCCESSFUL, StoredJSON, TaskItem, is_task_id
from sqs_tasks.task_results import read_json
from sqs_tasks.workflows.engine import BATCH_GET, Engine
from sqs_tasks.workflows.plan import (
    ChainNode,
    GroupNode,
    MapNode,
    Node,
    Plan,
    StepNode,
    map_call_path,
    step_id,
)


@dataclass(frozen=True, slots=True)
class StepState:
    task_id: str
    path: str  # in the plan: workflows/plan.py
    task_path: str
    status: str  # a TaskResultStatus value ("READY" for a step not created yet)
    attempts: int


@dataclass(frozen=True, slots=True)
class WorkflowResult:
    id: str
    status: TaskResultStatus
    steps_finished: int
    steps_known: int
    failed_step_id: str | None = None
    steps: tuple[StepState, ...] = ()
    _return_value: Any = field(default=None, repr=False)

    @property
    def return_value(self) -> Any:
        """The last element's value, once the workflow succeeded (as Django's TaskResult)."""
        if self.status == TaskResultStatus.SUCCESSFUL:
            return self._return_value
        if self.status == TaskResultStatus.FAILED:
            raise ValueError("Workflow failed")
        raise ValueError("Workflow has not finished yet")

    @property
    def progress(self) -> tuple[int, int]:
        """(steps finished, steps known)."""
        return self.steps_finished, self.steps_known

    @property
    def is_finished(self) -> bool:
        return self.status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)


def get_workflow(workflow_id: str, *, alias: str = "default") -> WorkflowResult:
    """The workflow now; TaskResultDoesNotExist for an id no workflow has (or no longer)."""
    backend = task_backends[alias]
    engine = Engine(backend)
    if not is_task_id(workflow_id):
        raise TaskResultDoesNotExist(workflow_id)
    record = outbox.read_through(
        lambda: engine.records.get(workflow_id),
        lambda: outbox.pending_workflow(backend.config.outbox_databases, workflow_id),
    )
    if record is None:
        raise TaskResultDoesNotExist(workflow_id)
    if isinstance(record, StoredJSON):  # committed, not sent yet
        plan = Plan.from_json(read_json(record, backend.payloads, task_id=workflow_id))
        return _result(plan, {}, finished=False, value=None)
    plan = engine.plan(workflow_id)
    steps = _known_steps(engine, plan)
    items = _items(backend, list(steps))
    value = None
    if record.finished_at is not None and record.result is not None:
        value = engine.value_of(plan, record.result)
    return _result(plan, items, finished=record.finished_at is not None, value=value, steps=steps)


def _known_steps(engine: Engine, plan: Plan) -> dict[str, tuple[str, str]]:
    """task id -> (path, task path), in the plan's order, a map's calls in its place."""
    steps: dict[str, tuple[str, str]] = {}

    def walk(node: Node) -> None:
        match node:
            case StepNode(path=path, task=task):
                steps[step_id(plan.workflow_id, path)] = (path, task)
            case MapNode(path=path, task=task):
                steps[step_id(plan.workflow_id, path)] = (path, task)  # only if it failed
                for index in range(engine.records.size(plan.workflow_id, path) or 0):
                    call = map_call_path(path, index)
                    steps[step_id(plan.workflow_id, call)] = (call, task)
            case ChainNode(elements=children) | GroupNode(members=children):
                for child in children:
                    walk(child)

    walk(plan.root)
    return steps


def _items(backend: Any, task_ids: list[str]) -> dict[str, TaskItem]:
    """Eventually consistent: a status a moment old is harmless, and reads cost half."""
    found: dict[str, TaskItem] = {}
    for start in range(0, len(task_ids), BATCH_GET):
        chunk = task_ids[start : start + BATCH_GET]
        found |= {i.id: i for i in backend.results.get_many(chunk, consistent=False)}
    return found


def _result(
    plan: Plan,
    items: dict[str, TaskItem],
    *,
    finished: bool,
    value: Any,
    steps: dict[str, tuple[str, str]] | None = None,
) -> WorkflowResult:
    known = (
        steps
        if steps is not None
        else {step_id(plan.workflow_id, s.path): (s.path, s.task) for s in plan.steps()}
    )
    states = tuple(
        StepState(
            task_id=task_id,
            path=path,
            task_path=task_path,
            status=items[task_id].status if task_id in items else READY,
            attempts=items[task_id].attempts if task_id in items else 0,
        )
        for task_id, (path, task_path) in known.items()
        if task_id in items or not _is_map_node(plan, path)
    )
    failed = sorted(
        (item for item in items.values() if item.status == FAILED),
        key=lambda item: item.finished_at.isoformat() if item.finished_at else "",
    )
    if failed:
        status = TaskResultStatus.FAILED
    elif finished:
        status = TaskResultStatus.SUCCESSFUL
    elif any(item.attempts or item.status != READY for item in items.values()):
        status = TaskResultStatus.RUNNING
    else:
        status = TaskResultStatus.READY
    return WorkflowResult(
        id=plan.workflow_id,
        status=status,
        steps_finished=sum(1 for state in states if state.status == SUCCESSFUL),
        steps_known=len(states),
        failed_step_id=failed[0].id if failed else None,
        steps=states,
        _return_value=value,
    )


def _is_map_node(plan: Plan, path: str) -> bool:
    """A map's own id names a step only when the map could not start (engine._fail)."""
    return not path.rsplit(".", 1)[-1].startswith("m") and path in {m.path for m in plan.maps()}
