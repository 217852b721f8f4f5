"""Send dead letters back to their source queue, exactly the selected ones, once.

Receive, send, delete: AWS's StartMessageMoveTask cannot filter (and moto lacks it).
The result item records each redrive's progress, so a run that stops halfway can be run
again: a letter already sent is only deleted, never sent twice, and nothing is deleted
before its send succeeded. A task that succeeded meanwhile is not run again.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from sqs_tasks import queues
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.codec import SIGNATURE_ATTRIBUTE, OutgoingMessage
from sqs_tasks.operations.dead_letters import DeadLetter, Selection, delete, scan
from sqs_tasks.results import FAILED, READY, RUNNING, SUCCESSFUL

SENDING, SENT = "sending", "sent"
# The attributes a fresh message carries (the worker's dead-letter notes are dropped).
KEPT_ATTRIBUTES = (SIGNATURE_ATTRIBUTE, "task_id", "task_path")


@dataclass
class RedriveReport:
    redriven: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # with a "reason"

    def as_dict(self) -> dict[str, Any]:
        return {"redriven": self.redriven, "skipped": self.skipped}


class RateLimit:
    """At most `per_second` calls a second: a redrive must not flood the workers."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1 / per_second if per_second > 0 else 0
        self._next = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self._next:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


def redrive(
    backend: SQSBackend,
    selection: Selection,
    *,
    dry_run: bool = False,
    per_second: float = 10,
    limit: int | None = None,
    progress: Callable[[int], None] = lambda done: None,
) -> RedriveReport:
    report = RedriveReport()
    rate = RateLimit(per_second)
    with scan(backend, selection) as letters:
        for letter in letters:
            if limit is not None and len(report.redriven) >= limit:
                break
            reason = _skip_reason(backend, letter)
            if reason == "already redriven":
                delete(letter)  # a run interrupted after the send: finish it
            if reason:
                report.skipped.append({**letter.summary(), "reason": reason})
                continue
            if not dry_run:
                rate.wait()
                _redrive_one(backend, letter)
            report.redriven.append(letter.summary())
            progress(len(report.redriven))
    return report


def _skip_reason(backend: SQSBackend, letter: DeadLetter) -> str:
    if not letter.task_id:
        return "no task id: not a task message"
    item = backend.results.get(letter.task_id)
    if item is None:
        return "no result record"
    marker = item.get("redrive") or {}
    if marker.get("dlq_message_id") == letter.message_id and marker.get("state") == SENT:
        return "already redriven"
    if item["status"] == SUCCESSFUL:
        return "task has since succeeded"
    if item["status"] == RUNNING and item.get("lease_expires_at", 0) > time.time():
        return "task is running"
    return ""


def _redrive_one(backend: SQSBackend, letter: DeadLetter) -> None:
    item = backend.results.get(letter.task_id) or {}
    now = timezone.now()
    # READY again with its history kept, and a fresh allowance of attempts. Written only
    # if nobody changed the item since we read it.
    reset = backend.results.finish(
        letter.task_id,
        status=READY,
        now=now,
        fields={
            "attempts": 0,
            "redrive": {
                "dlq_message_id": letter.message_id,
                "state": SENDING,
                "at": now.isoformat(),
            },
        },
        remove=["finished_at"],
        expect={"status": item.get("status", FAILED), "updated_at": item.get("updated_at", "")},
    )
    if not reset:
        raise RuntimeError(f"task {letter.task_id} changed during the redrive; run it again")
    message_id = queues.send(
        letter.source_url,
        OutgoingMessage(
            task_id=letter.task_id,
            body=letter.body,
            attributes={k: v for k, v in letter.attributes.items() if k in KEPT_ATTRIBUTES},
        ),
    )
    backend.results.set_fields(
        letter.task_id,
        {
            "redrive": {
                "dlq_message_id": letter.message_id,
                "state": SENT,
                "message_id": message_id,
                "at": now.isoformat(),
            }
        },
    )
    delete(letter)
