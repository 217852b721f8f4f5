"""The message format: a versioned JSON envelope that says everything a worker needs.

The envelope is the only thing a worker trusts, and only after its signature verifies.
It carries the attempt policy that was in force at enqueue time, so a deploy between
enqueue and run cannot change how many times an enqueued task is tried.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqs_tasks.exceptions import MalformedEnvelope

VERSION = 1


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
    args: list[Any]
    kwargs: dict[str, Any]
    enqueued_at: datetime
    policy: AttemptPolicy
    run_after: datetime | None = None
    request_id: str | None = None  # the web request that enqueued it, for tracing
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": VERSION,
                "id": self.task_id,
                "task": self.task_path,
                "backend": self.backend,
                "queue": self.queue_name,
                "args": self.args,
                "kwargs": self.kwargs,
                "enqueued_at": self.enqueued_at.isoformat(),
                "run_after": self.run_after.isoformat() if self.run_after else None,
                "policy": {
                    "max_attempts": self.policy.max_attempts,
                    "retry_on": list(self.policy.retry_on),
                    "timeout": self.policy.timeout,
                },
                "request_id": self.request_id,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, body: str) -> "Envelope":
        data = parse_object(body)
        if data.get("v") != VERSION:
            raise MalformedEnvelope(f"unknown envelope version {data.get('v')!r}")
        try:
            policy = data["policy"]
            envelope = cls(
                task_id=_text(data["id"]),
                task_path=_text(data["task"]),
                backend=_text(data["backend"]),
                queue_name=_text(data["queue"]),
                args=_typed(data["args"], list),
                kwargs=_typed(data["kwargs"], dict),
                enqueued_at=_aware(data["enqueued_at"]),
                run_after=_aware(data["run_after"]) if data.get("run_after") else None,
                policy=AttemptPolicy(
                    max_attempts=_typed(policy["max_attempts"], int),
                    retry_on=tuple(_text(path) for path in _typed(policy["retry_on"], list)),
                    timeout=float(_typed(policy["timeout"], (int, float))),
                ),
                request_id=data.get("request_id"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedEnvelope(
                f"invalid envelope field: {error}",
                task_id=str(data.get("id", "")),
                task_path=str(data.get("task", "")),
            ) from None
        if envelope.policy.max_attempts < 1 or envelope.policy.timeout <= 0:
            raise MalformedEnvelope("attempt policy out of range", task_id=envelope.task_id)
        return envelope


def parse_object(body: str) -> dict[str, Any]:
    """A JSON object, or MalformedEnvelope: bodies come from outside and may be anything."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        raise MalformedEnvelope("body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedEnvelope("body is not a JSON object")
    return data


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind}, got {type(value).__name__}")
    return value


def _aware(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return moment
