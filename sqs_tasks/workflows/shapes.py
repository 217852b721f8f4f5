"""What application code builds a workflow from (contract 8).

    chain(parse.step(upload_id), summarize.map(), merge.step(), render.step()).enqueue()
    group([fetch.step(url) for url in urls]).then(combine.step()).enqueue()

`task.step(...)` is one call; `task.map(...)`, after an element whose value is a list,
calls the task once per item (the item first, then its own arguments). In a chain, each
element after the first receives the previous one's value first; a group hands it to each
member, and its own value is the list of its members' values, in order.

Everything that can be checked is checked at `.enqueue()`, before anything is written: the
shape, every step's arguments against its function (with the value it will receive), the
sizes. The workflow then rides the outbox like any enqueue (contract 9).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.tasks import Task, TaskResultStatus
from django.tasks.exceptions import InvalidTask

from sqs_tasks import strict_json
from sqs_tasks.backends.sqs import SQSBackend, check_arguments
from sqs_tasks.exceptions import InvalidTaskArguments
from sqs_tasks.task_results import resolve_task
from sqs_tasks.workflows.engine import Engine
from sqs_tasks.workflows.plan import (
    MAX_MEMBERS,
    ROOT,
    ChainNode,
    GroupNode,
    MapNode,
    Node,
    Plan,
    StepNode,
)
from sqs_tasks.workflows.status import WorkflowResult

_INPUT = object()  # stands for the value a step will receive, when checking its arguments


class InvalidWorkflow(InvalidTask):
    """A workflow that cannot run as built: raised at enqueue, nothing written."""


@dataclass(frozen=True, slots=True)
class Step:
    task: Task
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Map:
    task: Task
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


class _Enqueueable:
    def enqueue(self) -> WorkflowResult:
        """Compile, check, and enqueue the workflow; READY until its first step is claimed."""
        backend = _backend_of(self)  # type: ignore[arg-type]
        workflow_id = uuid.uuid4().hex
        plan = Plan(workflow_id, _compile(self, ROOT, has_input=False))  # type: ignore[arg-type]
        text = plan.to_json()
        if len(text.encode()) > backend.config.max_payload_bytes:
            raise InvalidWorkflow(
                f"the workflow's plan is {len(text.encode()):,} bytes; the limit is "
                f"{backend.config.max_payload_bytes:,}: pass references, not data"
            )
        backend.enqueue_workflow(workflow_id, text, Engine(backend).first_steps(plan))
        return WorkflowResult(
            id=workflow_id,
            status=TaskResultStatus.READY,
            steps_finished=0,
            steps_known=len(plan.steps()),
        )


@dataclass(frozen=True, slots=True)
class Chain(_Enqueueable):
    elements: tuple["Element", ...]

    def then(self, *elements: "Element") -> "Chain":
        return Chain((*self.elements, *elements))


@dataclass(frozen=True, slots=True)
class Group(_Enqueueable):
    members: tuple["Element", ...]

    def then(self, *elements: "Element") -> Chain:
        """`group([...]).then(s)` is `chain(group([...]), s)`."""
        return Chain((self, *elements))


Element = Step | Map | Chain | Group


def chain(*elements: Element) -> Chain:
    return Chain(tuple(elements))


def group(members: Iterable[Element]) -> Group:
    return Group(tuple(members))


def _compile(shape: Element, path: str, *, has_input: bool) -> Node:
    match shape:
        case Step(task=task, args=args, kwargs=kwargs):
            return StepNode(
                path, task.module_path, *_checked(task, args, kwargs, has_input), _using(task)
            )
        case Map(task=task, args=args, kwargs=kwargs):
            if not has_input:
                raise InvalidWorkflow(
                    f"{task.name}.map() needs a list to run over: put it after an element "
                    "whose value is a list"
                )
            own_args, own_kwargs = _checked(task, args, kwargs, True)
            return MapNode(path, task.module_path, own_args, own_kwargs, _using(task))
        case Chain(elements=elements):
            flat = _flattened(elements)
            if not flat:
                raise InvalidWorkflow("a chain needs at least one element")
            nodes = [
                _compile(element, f"{path}.{i}", has_input=has_input or i > 0)
                for i, element in enumerate(flat)
            ]
            return ChainNode(path, tuple(nodes))
        case Group(members=members):
            if not members:
                raise InvalidWorkflow("a group needs at least one member")
            if len(members) > MAX_MEMBERS:
                raise InvalidWorkflow(
                    f"a group has at most {MAX_MEMBERS:,} members; this one has {len(members):,}"
                )
            return GroupNode(
                path,
                tuple(
                    _compile(member, f"{path}.{i}", has_input=has_input)
                    for i, member in enumerate(members)
                ),
            )
    raise InvalidWorkflow(f"not a step, map, chain or group: {shape!r}")


def _flattened(elements: tuple[Element, ...]) -> list[Element]:
    """A chain inside a chain is its elements, in place."""
    flat: list[Element] = []
    for element in elements:
        flat += _flattened(element.elements) if isinstance(element, Chain) else [element]
    return flat


def _checked(
    task: Task, args: tuple[Any, ...], kwargs: dict[str, Any], has_input: bool
) -> tuple[list[Any], dict[str, Any]]:
    """The step's own arguments, as JSON, checked against its function with the value it
    will receive first (when it receives one)."""
    if getattr(task, "sensitive", ()):
        raise InvalidWorkflow(f"{task.name} has sensitive parameters: enqueue it on its own")
    try:
        own = strict_json.normalized([list(args), dict(kwargs)])
    except ValueError as error:
        raise InvalidTaskArguments(f"{task.name}'s arguments must be JSON: {error}") from None
    check_arguments(task, [_INPUT, *own[0]] if has_input else own[0], own[1])
    return own[0], own[1]


def _using(task: Task) -> dict[str, Any]:
    """What `using()` changed of the declared task, as the plan keeps it. A step's id is
    its path and it starts when the element before it ends, so a dedup key or a run_after
    has no meaning for it; a limit or message group given as a function cannot be stored."""
    declared = resolve_task(task.module_path)
    changed = {
        name: getattr(task, name)
        for name in ("queue_name", "priority", "run_after", "dedup_key", "limits", "message_group")
        if getattr(task, name, None) != getattr(declared, name, None)
    }
    for name in ("run_after", "dedup_key"):
        if name in changed:
            raise InvalidWorkflow(
                f"{task.name}.using({name}=...) has no meaning for a workflow step: a step "
                "starts when the element before it ends, under an id of its own"
            )
    if "limits" in changed:
        if not all(isinstance(limit, str) for limit in changed["limits"]):
            raise InvalidWorkflow(
                f"a workflow step's limits are names of OPTIONS['LIMITS'] ({task.name})"
            )
        changed["limits"] = list(changed["limits"])
    if "message_group" in changed and not isinstance(changed["message_group"], str | None):
        raise InvalidWorkflow(f"a workflow step's message_group is a string ({task.name})")
    return changed


def _backend_of(shape: Element) -> SQSBackend:
    tasks = _tasks(shape)
    backends = {task.backend for task in tasks}
    if len(backends) != 1:
        raise InvalidWorkflow(f"a workflow's steps share one backend; these name {backends}")
    backend = tasks[0].get_backend()
    if not isinstance(backend, SQSBackend):
        raise InvalidWorkflow(f"backend {tasks[0].backend!r} does not run workflows")
    for task in tasks:
        backend.validate_task(task)
    return backend


def _tasks(shape: Element) -> list[Task]:
    match shape:
        case Step(task=task) | Map(task=task):
            return [task]
        case Chain(elements=children) | Group(members=children):
            return [task for child in children for task in _tasks(child)]
    raise InvalidWorkflow(f"not a step, map, chain or group: {shape!r}")
