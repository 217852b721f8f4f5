"""The results table's item: one per task, the single truth about it.

Whether a task may start now, which attempt it is on, whether it has finished and how,
and which copy of its message is the live one: all of it is here, and only here. Messages
in SQS only wake workers up; a worker that receives one asks the item what to do.

This module is the one place that knows the item's attribute names and types. Every other
module reads a `TaskItem` and changes one through `ResultStore` (results.py).

Attributes an operator sees in the DynamoDB console:

    id, task_path, backend, queue        who the task is and where its messages go
    status                               READY, RUNNING, SUCCESSFUL or FAILED
    not_before                           epoch seconds before which no attempt may start
                                         (run_after, or a retry's backoff)
    attempts, max_attempts               attempts started, and allowed
    copy, copy_sending                   the live message copy's number; `copy_sending`
                                         while a fresh copy is being sent (worker/copies.py)
    lease_owner, lease_until             the running attempt's worker, until its invocation ends
    arguments / arguments_ref            the call, as JSON text, or where it lives in S3
    return_value / return_value_ref      likewise for the result
    errors, worker_ids, progress         Django's TaskResult fields, and progress
    dead_letter                          {copy, sent}: the dead letter a failure owes, and
                                         whether it went out (worker/letters.py)
    expected_failure                     failed as the task said it may (no dead letter)
    failed_key, failure                  only on FAILED items: the sparse `failed` index's
                                         partition (queue#shard) and a one-line summary
    redriven_from                        the copy whose dead letter a redrive sent again
    workflow                             {id, node}: the workflow this task is a step of
    waiting                              {reason, until}: held back by a limit, not failing
    expires_at                           DynamoDB's TTL
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.tasks import TaskResultStatus

from sqs_tasks.dynamo import from_item, to_item
from sqs_tasks.errors import ErrorRecord

READY = TaskResultStatus.READY.value
RUNNING = TaskResultStatus.RUNNING.value
FAILED = TaskResultStatus.FAILED.value
SUCCESSFUL = TaskResultStatus.SUCCESSFUL.value
FINISHED = frozenset({FAILED, SUCCESSFUL})

# Every task id (and workflow id) is a UUID's 32 lowercase hex digits. Anything else names
# no task, whatever the table holds under it (a workflow's records, "wf:...").
_ID_SHAPE = re.compile(r"[0-9a-f]{32}")


def is_task_id(text: object) -> bool:
    return isinstance(text, str) and _ID_SHAPE.fullmatch(text) is not None


FAILED_INDEX = "failed"
# The failed index spreads each queue's failures over this many partitions, so that even a
# storm of failures on one queue stays far under DynamoDB's 1,000 writes/s per partition
# (10,000 failures/s on one queue is ~310 writes/s per partition: BENCHMARKS.md).
FAILED_SHARDS = 32
# What the failed index projects besides its keys (and the table's): enough to list
# failures without reading each item, small enough that an index write is one WRU.
FAILED_PROJECTION = ("task_path", "queue", "attempts", "failure")


@dataclass(frozen=True, slots=True)
class PayloadRef:
    """An S3 object holding a JSON document, and the SHA-256 it must match."""

    bucket: str
    key: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"bucket": self.bucket, "key": self.key, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PayloadRef":
        return cls(bucket=str(data["bucket"]), key=str(data["key"]), sha256=str(data["sha256"]))


@dataclass(frozen=True, slots=True)
class StoredJSON:
    """A JSON document as stored: inline text, or a reference to the S3 object holding it.

    Kept as text rather than as DynamoDB maps and numbers, so any strict JSON value is
    stored exactly (DynamoDB has no NaN, keeps 38 digits, and wants string map keys)."""

    text: str | None = None
    ref: PayloadRef | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.ref is None):
            raise ValueError("a stored JSON document is either inline or in S3")


@dataclass(frozen=True, slots=True)
class WorkflowRef:
    """The workflow a task is a step of, and the step's path in its plan."""

    id: str
    node: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "node": self.node}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WorkflowRef":
        return cls(id=str(data["id"]), node=str(data["node"]))


@dataclass(frozen=True, slots=True)
class Waiting:
    """Held back by a limit: why, and until when it looks again (limits/gate.py)."""

    reason: str
    until: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class Lease:
    owner: str
    until: float  # epoch seconds; at least the owner's invocation's hard end


@dataclass(frozen=True, slots=True)
class DeadLetterNote:
    """A failure owes a dead letter: the body of message copy `copy`. `sent` once it went."""

    copy: int
    sent: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    current: int
    total: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"current": self.current, "total": self.total, "message": self.message}


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskItem:
    id: str
    task_path: str
    backend: str
    queue: str
    status: str
    enqueued_at: datetime
    not_before: float
    max_attempts: int
    arguments: StoredJSON
    attempts: int = 0
    copy: int = 0
    copy_sending: bool = False
    run_after: datetime | None = None
    request_id: str | None = None
    started_at: datetime | None = None
    last_attempted_at: datetime | None = None
    finished_at: datetime | None = None
    worker_ids: tuple[str, ...] = ()
    errors: tuple[ErrorRecord, ...] = ()
    lease: Lease | None = None
    return_value: StoredJSON | None = None
    progress: Progress | None = None
    dead_letter: DeadLetterNote | None = None
    # Failed in a way the task declared expected (exceptions.ExpectedFailure): no dead letter.
    expected_failure: bool = False
    redriven_from: int | None = None
    workflow: WorkflowRef | None = None
    waiting: Waiting | None = None
    expires_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # attributes of later versions

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def attempts_left(self) -> bool:
        return self.attempts < self.max_attempts

    def lease_live(self, now: float) -> bool:
        return self.status == RUNNING and self.lease is not None and self.lease.until >= now

    # -- DynamoDB ---------------------------------------------------------------------

    def to_dynamo(self) -> dict[str, dict[str, Any]]:
        values: dict[str, Any] = {
            "id": self.id,
            "task_path": self.task_path,
            "backend": self.backend,
            "queue": self.queue,
            "status": self.status,
            "enqueued_at": self.enqueued_at.isoformat(),
            "not_before": round(self.not_before, 3),
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "copy": self.copy,
            "worker_ids": list(self.worker_ids),
            "errors": [error.to_dict() for error in self.errors],
            "expires_at": self.expires_at,
            **stored_json_attributes("arguments", self.arguments),
            **self.extra,
        }
        optional = {
            "copy_sending": self.copy_sending or None,
            "run_after": _iso(self.run_after),
            "request_id": self.request_id,
            "started_at": _iso(self.started_at),
            "last_attempted_at": _iso(self.last_attempted_at),
            "finished_at": _iso(self.finished_at),
            "lease_owner": self.lease.owner if self.lease else None,
            "lease_until": round(self.lease.until, 3) if self.lease else None,
            "progress": self.progress.as_dict() if self.progress else None,
            "dead_letter": (
                {"copy": self.dead_letter.copy, "sent": self.dead_letter.sent}
                if self.dead_letter
                else None
            ),
            "redriven_from": self.redriven_from,
            "expected_failure": self.expected_failure or None,
            "workflow": self.workflow.as_dict() if self.workflow else None,
            "waiting": (
                {"reason": self.waiting.reason, "until": round(self.waiting.until, 3)}
                if self.waiting
                else None
            ),
        }
        values |= {name: value for name, value in optional.items() if value is not None}
        if self.return_value is not None:
            values |= stored_json_attributes("return_value", self.return_value)
        if self.status == FAILED and self.finished_at is not None:
            values |= failed_index_attributes(
                self.id, self.queue, self.errors, expected=self.expected_failure
            )
        return to_item(values)

    @classmethod
    def from_dynamo(cls, item: dict[str, dict[str, Any]]) -> "TaskItem":
        data = from_item(item)
        known = {
            "id",
            "task_path",
            "backend",
            "queue",
            "status",
            "enqueued_at",
            "not_before",
            "attempts",
            "max_attempts",
            "copy",
            "copy_sending",
            "worker_ids",
            "errors",
            "expires_at",
            "arguments",
            "arguments_ref",
            "return_value",
            "return_value_ref",
            "run_after",
            "request_id",
            "started_at",
            "last_attempted_at",
            "finished_at",
            "lease_owner",
            "lease_until",
            "progress",
            "dead_letter",
            "redriven_from",
            "expected_failure",
            "workflow",
            "waiting",
            "failed_key",
            "failure",
        }
        lease = (
            Lease(owner=data["lease_owner"], until=float(data["lease_until"]))
            if "lease_owner" in data and "lease_until" in data
            else None
        )
        progress = data.get("progress")
        note = data.get("dead_letter")
        return cls(
            id=data["id"],
            task_path=data["task_path"],
            backend=data["backend"],
            queue=data["queue"],
            status=data["status"],
            enqueued_at=datetime.fromisoformat(data["enqueued_at"]),
            not_before=float(data.get("not_before", 0)),
            attempts=int(data.get("attempts", 0)),
            max_attempts=int(data["max_attempts"]),
            copy=int(data.get("copy", 0)),
            copy_sending=bool(data.get("copy_sending", False)),
            arguments=stored_json_from(data, "arguments") or StoredJSON(text="{}"),
            run_after=_moment(data.get("run_after")),
            request_id=data.get("request_id"),
            started_at=_moment(data.get("started_at")),
            last_attempted_at=_moment(data.get("last_attempted_at")),
            finished_at=_moment(data.get("finished_at")),
            worker_ids=tuple(data.get("worker_ids", ())),
            errors=tuple(ErrorRecord.from_dict(error) for error in data.get("errors", ())),
            lease=lease,
            return_value=stored_json_from(data, "return_value"),
            progress=(
                Progress(progress["current"], progress.get("total"), progress.get("message", ""))
                if progress
                else None
            ),
            dead_letter=DeadLetterNote(int(note["copy"]), bool(note["sent"])) if note else None,
            expected_failure=bool(data.get("expected_failure", False)),
            redriven_from=data.get("redriven_from"),
            workflow=WorkflowRef.from_dict(data["workflow"]) if data.get("workflow") else None,
            waiting=(
                Waiting(data["waiting"]["reason"], float(data["waiting"]["until"]))
                if data.get("waiting")
                else None
            ),
            expires_at=int(data.get("expires_at", 0)),
            extra={name: value for name, value in data.items() if name not in known},
        )


def stored_json_attributes(name: str, stored: StoredJSON) -> dict[str, Any]:
    """`name` as inline text, or `name_ref` as a pointer to S3."""
    if stored.ref is not None:
        return {f"{name}_ref": stored.ref.as_dict()}
    return {name: stored.text}


def stored_json_from(data: dict[str, Any], name: str) -> StoredJSON | None:
    if f"{name}_ref" in data:
        return StoredJSON(ref=PayloadRef.from_dict(data[f"{name}_ref"]))
    if name in data:
        return StoredJSON(text=data[name])
    return None


def failed_index_attributes(
    task_id: str,
    queue: str,
    errors: tuple[ErrorRecord, ...] | list[ErrorRecord],
    *,
    expected: bool = False,
) -> dict[str, Any]:
    """What puts a FAILED item in the sparse `failed` index: its partition, spread over
    FAILED_SHARDS per queue by the task id, and a summary small enough to project."""
    last = errors[-1] if errors else None
    return {
        "failed_key": failed_key(queue, task_id),
        "failure": {
            "exception_class": last.exception_class_path if last else "",
            "message": (last.message if last else "")[:200],
            "expected": expected,
        },
    }


def failed_key(queue: str, task_id: str) -> str:
    shard = int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) % FAILED_SHARDS
    return failed_partition(queue, shard)


def failed_partition(queue: str, shard: int) -> str:
    return f"{queue}#{shard:02d}"


def arguments_json(args: list[Any], kwargs: dict[str, Any]) -> str:
    """The one spelling of a call's arguments, stored and checksummed."""
    return json.dumps({"args": args, "kwargs": kwargs}, separators=(",", ":"), allow_nan=False)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
