"""What happens when a workflow's step succeeds: the next element starts, a join fills.

The worker runs `step_succeeded` after recording a step's success and before its message
is deleted; on any failure here the message comes back, and the redelivery (which finds
the step already SUCCESSFUL) runs it again. So every part of it must be safe to repeat:

- the next steps' task ids are derived from their paths (plan.py), their items are created
  only if absent and their messages sent unless they have finished (outbox.deliver): a
  step starts once however often it is started;
- a join records its members in sets (records.py): a member that finishes twice is
  counted once, and the member that completes the join (or a repeat of it) gathers the
  members' values, in order, and starts what follows, which again starts once.

No task ever waits on another: a join is started by its last member, there is no polling.
"""

import json
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from django.utils import timezone

from sqs_tasks import outbox
from sqs_tasks.errors import ErrorRecord
from sqs_tasks.exceptions import InvalidTaskArguments
from sqs_tasks.item import FAILED, StoredJSON, TaskItem, WorkflowRef
from sqs_tasks.task_results import read_json, resolve_task
from sqs_tasks.workflows.plan import (
    MAX_MEMBERS,
    ROOT,
    ChainNode,
    GroupNode,
    MapNode,
    Node,
    Plan,
    StepNode,
    map_call_path,
    step_id,
)
from sqs_tasks.workflows.records import ValueSource, WorkflowRecords

NO_INPUT = object()  # the first element of a workflow receives nothing
BATCH_GET = 100  # keys per BatchGetItem


class WorkflowNotReady(RuntimeError):
    """The workflow's record is not written yet (its relay is behind): try again later."""


class InvalidMapInput(Exception):
    """A map's input is not a list it can run over."""


class Engine:
    _PLANS = 64  # plans kept per process: a plan never changes

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.records = WorkflowRecords(backend.results)
        self._plans: OrderedDict[str, Plan] = OrderedDict()

    def plan(self, workflow_id: str) -> Plan:
        if workflow_id in self._plans:
            self._plans.move_to_end(workflow_id)
            return self._plans[workflow_id]
        record = self.records.get(workflow_id)
        if record is None:
            raise WorkflowNotReady(f"workflow {workflow_id} has no record yet")
        text = read_json(record.plan, self.backend.payloads, task_id=workflow_id)
        plan = self._plans[workflow_id] = Plan.from_json(text)
        if len(self._plans) > self._PLANS:
            self._plans.popitem(last=False)
        return plan

    # -- continuations ------------------------------------------------------------------

    def step_succeeded(self, ref: WorkflowRef) -> None:
        plan = self.plan(ref.id)
        self._completed(plan, ref.node, ValueSource(task_id=step_id(ref.id, ref.node)))

    def _completed(self, plan: Plan, path: str, source: ValueSource) -> None:
        """The node at `path` finished with the value at `source`: what follows starts."""
        if path == ROOT:
            self.records.finish(plan.workflow_id, source)
            return
        parent_path, last = path.rsplit(".", 1)
        parent = plan.node(parent_path)
        if last.startswith("m"):
            total = self.records.size(plan.workflow_id, parent_path) or 0
            self._member_done(plan, parent, int(last[1:]), total)
        elif isinstance(parent, ChainNode):
            index = int(last)
            if index == len(parent.elements) - 1:
                self._completed(plan, parent.path, source)
            else:
                self._start(plan, parent.elements[index + 1], self.value_of(plan, source))
        else:
            assert isinstance(parent, GroupNode)
            self._member_done(plan, parent, int(last), len(parent.members))

    def _member_done(self, plan: Plan, join: Node, index: int, total: int) -> None:
        if not self.records.member_finished(plan.workflow_id, join.path, index, total):
            return
        # Complete: gather the values, unless a repeat (a duplicate delivery of a member)
        # finds them gathered already.
        if self.records.value(plan.workflow_id, join.path) is None:
            text = json.dumps(self._gather(plan, join, total), separators=(",", ":"))
            self.records.store_value(plan.workflow_id, join.path, self._stored(plan, join, text))
        self._completed(plan, join.path, ValueSource(node_path=join.path))

    # -- starting -----------------------------------------------------------------------

    def first_steps(self, plan: Plan) -> list[Any]:
        """The envelopes of the steps a workflow starts with (sent through the outbox)."""
        envelopes: list[Any] = []
        self._collect(plan, plan.root, NO_INPUT, envelopes)
        return envelopes

    def _start(self, plan: Plan, node: Node, value: Any) -> None:
        envelopes: list[Any] = []
        self._collect(plan, node, value, envelopes)
        refused = outbox.deliver(self.backend, envelopes)
        if refused:
            raise RuntimeError(f"SQS refused {len(refused)} step(s) of workflow {plan.workflow_id}")

    def _collect(self, plan: Plan, node: Node, value: Any, out: list[Any]) -> None:
        match node:
            case StepNode(args=args):
                given = list(args) if value is NO_INPUT else [value, *args]
                self._add_call(plan, node, node.path, given, out)
            case ChainNode(elements=elements):
                self._collect(plan, elements[0], value, out)
            case GroupNode(members=members):
                for member in members:
                    self._collect(plan, member, value, out)
            case MapNode(args=args):
                if not isinstance(value, list) or len(value) > MAX_MEMBERS:
                    self._fail(plan, node, node.path, InvalidMapInput(_why_not_a_list(value)))
                    return
                self.records.set_size(plan.workflow_id, node.path, len(value))
                if not value:
                    self.records.store_value(plan.workflow_id, node.path, StoredJSON(text="[]"))
                    self._completed(plan, node.path, ValueSource(node_path=node.path))
                    return
                for index, item in enumerate(value):
                    path = map_call_path(node.path, index)
                    self._add_call(plan, node, path, [item, *args], out)

    def _add_call(
        self, plan: Plan, node: StepNode | MapNode, path: str, args: list[Any], out: list[Any]
    ) -> None:
        """The envelope of the call at `path`; a call that can never be made (the value it
        receives does not fit: too large, not JSON, the wrong arguments) fails there."""
        task = resolve_task(node.task)
        if node.using:
            task = task.using(**node.using)
        try:
            envelope = self.backend.step_envelope(
                task,
                args,
                node.kwargs,
                task_id=step_id(plan.workflow_id, path),
                workflow=WorkflowRef(plan.workflow_id, path),
                now=timezone.now(),
            )
        except InvalidTaskArguments as error:
            self._fail(plan, node, path, error)
            return
        out.append(envelope)

    def _fail(self, plan: Plan, node: StepNode | MapNode, path: str, error: Exception) -> None:
        """A call that cannot start fails the workflow: its id, FAILED with the reason, is
        the failed step (get_result reads it). No message, so nothing to redrive: the
        workflow is enqueued again once what it was given is fixed."""
        now = timezone.now()
        self.backend.results.create(
            TaskItem(
                id=step_id(plan.workflow_id, path),
                task_path=node.task,
                backend=self.backend.alias,
                queue=node.using.get("queue_name") or resolve_task(node.task).queue_name,
                status=FAILED,
                enqueued_at=now,
                not_before=0,
                max_attempts=1,
                arguments=StoredJSON(text='{"args":[],"kwargs":{}}'),
                finished_at=now,
                errors=(ErrorRecord.from_exception(error, now),),
                workflow=WorkflowRef(plan.workflow_id, path),
                expires_at=self.backend.results.expires_at(),
            )
        )

    # -- values -------------------------------------------------------------------------

    def value_of(self, plan: Plan, source: ValueSource) -> Any:
        if source.task_id is not None:
            return self._step_values([source.task_id])[source.task_id]
        stored = self.records.value(plan.workflow_id, source.node_path or "")
        if stored is None:
            raise WorkflowNotReady(f"no value for {source.node_path} yet")
        return json.loads(read_json(stored, self.backend.payloads, task_id=plan.workflow_id))

    def source_of(self, plan: Plan, node: Node) -> ValueSource:
        """Where the value of `node` will be once it has finished."""
        while isinstance(node, ChainNode):
            node = node.elements[-1]
        if isinstance(node, StepNode):
            return ValueSource(task_id=step_id(plan.workflow_id, node.path))
        return ValueSource(node_path=node.path)

    def _gather(self, plan: Plan, join: Node, total: int) -> list[Any]:
        """The members' values, in the join's order."""
        if isinstance(join, MapNode):
            sources = [
                ValueSource(task_id=step_id(plan.workflow_id, map_call_path(join.path, i)))
                for i in range(total)
            ]
        else:
            assert isinstance(join, GroupNode)
            sources = [self.source_of(plan, member) for member in join.members]
        steps = self._step_values([s.task_id for s in sources if s.task_id is not None])
        return [
            steps[s.task_id] if s.task_id is not None else self.value_of(plan, s) for s in sources
        ]

    def _step_values(self, task_ids: list[str]) -> dict[str, Any]:
        """Finished steps' return values, read strongly consistent in batches of 100."""
        values: dict[str, Any] = {}
        for start in range(0, len(task_ids), BATCH_GET):
            for item in self.backend.results.get_many(task_ids[start : start + BATCH_GET]):
                if item.return_value is None:
                    raise WorkflowNotReady(f"step {item.id} has no value")
                text = read_json(item.return_value, self.backend.payloads, task_id=item.id)
                values[item.id] = json.loads(text)
        missing = set(task_ids) - set(values)
        if missing:
            raise WorkflowNotReady(f"{len(missing)} step(s) have no result yet")
        return values

    def _stored(self, plan: Plan, join: Node, text: str) -> StoredJSON:
        """A join's value: in its record, or in S3 when larger than an item should be."""
        config = self.backend.config
        if len(text.encode()) <= config.result_inline_limit:
            return StoredJSON(text=text)
        key = f"{plan.workflow_id}-{join.path}"
        lifetime = timedelta(seconds=config.result_ttl)
        return StoredJSON(ref=self.backend.payloads.put_result(key, text, lifetime))


def _why_not_a_list(value: Any) -> str:
    if isinstance(value, list):
        return f"a map runs over at most {MAX_MEMBERS:,} items; it was given {len(value):,}"
    return f"a map runs over a list; it was given {type(value).__name__}"
