"""The message format: a versioned JSON envelope that says everything a worker needs.

The envelope is the only thing a worker trusts, and only after its signature verifies.
It carries the attempt policy that was in force at enqueue time, so a deploy between
enqueue and run cannot change how a task is tried, and the number of the message copy it
is (`copy`): the result item names the live copy, so a stale or duplicated copy knows it
is one (worker/copies.py). Arguments travel inline, or as a pointer to S3 when large
(claim_check.py); the rest of the envelope stays readable in the console either way.
"""

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqs_tasks.exceptions import MalformedEnvelope
from sqs_tasks.item import PayloadRef, StoredJSON, WorkflowRef
from sqs_tasks.limits.gate import LimitRef, Reservations
from sqs_tasks.sensitive import SealedRef

VERSION = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptPolicy:
    max_attempts: int
    retry_on: tuple[str, ...]  # exception class paths; empty means "retry nothing"
    timeout: float  # seconds for one attempt


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    task_id: str
    task_path: str
    backend: str
    queue_name: str
    arguments: StoredJSON  # {"args": [...], "kwargs": {...}}, inline or in S3
    enqueued_at: datetime
    policy: AttemptPolicy
    copy: int = 0
    run_after: datetime | None = None
    request_id: str | None = None  # the web request that enqueued it, for tracing
    sensitive: SealedRef | None = None  # where redacted arguments' values are (sensitive.py)
    workflow: WorkflowRef | None = None  # the workflow this is a step of (workflows/)
    limits: tuple[LimitRef, ...] = ()  # what an attempt must pass first (limits/gate.py)
    reserved: Reservations = ()  # starts under its rates reserved for it (limits/gate.py)
    priority: int = 0  # Django's; picks the queue's lane (backends/sqs.py)
    message_group: str | None = None  # its tenant on a fair queue

    def with_copy(self, copy: int, reserved: Reservations = ()) -> "Envelope":
        """Copy number `copy` of this message. A reservation belongs to the copy it was
        made for (limits/gate.py): another copy carries only those given here."""
        return replace(self, copy=copy, reserved=reserved)

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "v": VERSION,
            "id": self.task_id,
            "task": self.task_path,
            "backend": self.backend,
            "queue": self.queue_name,
            "copy": self.copy,
            "enqueued_at": self.enqueued_at.isoformat(),
            "run_after": self.run_after.isoformat() if self.run_after else None,
            "policy": {
                "max_attempts": self.policy.max_attempts,
                "retry_on": list(self.policy.retry_on),
                "timeout": self.policy.timeout,
            },
            "request_id": self.request_id,
        }
        if self.arguments.ref is not None:
            data["arguments_ref"] = self.arguments.ref.as_dict()
        else:
            data["arguments"] = json.loads(self.arguments.text or "{}")
        if self.sensitive is not None:
            data["sensitive_ref"] = self.sensitive.as_dict()
        if self.workflow is not None:
            data["workflow"] = self.workflow.as_dict()
        if self.limits:
            data["limits"] = [ref.as_list() for ref in self.limits]
        if self.reserved:
            data["reserved"] = dict(self.reserved)
        if self.priority:
            data["priority"] = self.priority
        if self.message_group:
            data["group"] = self.message_group
        return json.dumps(data, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, body: str) -> "Envelope":
        data = parse_object(body)
        ids = {"task_id": str(data.get("id", "")), "task_path": str(data.get("task", ""))}
        if data.get("v") != VERSION:
            raise MalformedEnvelope(f"unknown envelope version {data.get('v')!r}", **ids)
        try:
            policy = _typed(data["policy"], dict)
            envelope = cls(
                task_id=_text(data["id"]),
                task_path=_text(data["task"]),
                backend=_text(data["backend"]),
                queue_name=_text(data["queue"]),
                copy=_typed(data["copy"], int),
                arguments=_arguments(data),
                enqueued_at=_aware(data["enqueued_at"]),
                run_after=_aware(data["run_after"]) if data.get("run_after") else None,
                policy=AttemptPolicy(
                    max_attempts=_typed(policy["max_attempts"], int),
                    retry_on=tuple(_text(path) for path in _typed(policy["retry_on"], list)),
                    timeout=float(_typed(policy["timeout"], (int, float))),
                ),
                request_id=_optional_text(data.get("request_id")),
                sensitive=(
                    SealedRef.from_dict(_typed(data["sensitive_ref"], dict))
                    if "sensitive_ref" in data
                    else None
                ),
                workflow=(
                    WorkflowRef.from_dict(_typed(data["workflow"], dict))
                    if "workflow" in data
                    else None
                ),
                limits=tuple(
                    LimitRef.from_list(_typed(ref, list)) for ref in data.get("limits", ())
                ),
                reserved=tuple(
                    (_text(limit), float(_typed(at, (int, float))))
                    for limit, at in sorted(_typed(data.get("reserved", {}), dict).items())
                ),
                priority=_typed(data.get("priority", 0), int),
                message_group=_optional_text(data.get("group")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedEnvelope(f"invalid envelope field: {error}", **ids) from None
        if envelope.policy.max_attempts < 1 or envelope.policy.timeout <= 0 or envelope.copy < 0:
            raise MalformedEnvelope("attempt policy or copy out of range", **ids)
        return envelope


def decode_arguments(text: str) -> tuple[list[Any], dict[str, Any]]:
    """The (args, kwargs) a stored arguments document holds; ValueError if it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("arguments are not a JSON object")
    args, kwargs = data.get("args", []), data.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError("arguments must be a list and an object")
    return args, kwargs


def parse_object(body: str) -> dict[str, Any]:
    """A JSON object, or MalformedEnvelope: bodies come from outside and may be anything."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        raise MalformedEnvelope("body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedEnvelope("body is not a JSON object")
    return data


def _arguments(data: dict[str, Any]) -> StoredJSON:
    if "arguments_ref" in data:
        return StoredJSON(ref=PayloadRef.from_dict(_typed(data["arguments_ref"], dict)))
    arguments = _typed(data["arguments"], dict)
    _typed(arguments.get("args", []), list)
    _typed(arguments.get("kwargs", {}), dict)
    return StoredJSON(text=json.dumps(arguments, separators=(",", ":"), allow_nan=False))


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind}, got {type(value).__name__}")
    return value


def _aware(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return moment
