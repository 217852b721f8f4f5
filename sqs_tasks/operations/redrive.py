"""Send dead letters back to their source queue: exactly the selected ones, once.

Receive, act, delete: AWS's StartMessageMoveTask cannot filter (and moto lacks it). Each
letter is verified first: its task is the one its signed body names, never the one its
(unsigned) attributes claim, and a letter that does not verify is never acted on.

Redriving a failed task writes the intent on its item before anything is sent, like
every write to two systems here (worker/copies.py):

    operator        item (DynamoDB)                         source queue     DLQ
      │ begin_redrive ─▶ READY, attempts 0, copy n+1, copy_sending,
      │                  redriven_from n                      │              letter (copy n)
      │ send ──────────────────────────────────────────────▶ copy n+1        │
      │ confirm ───────▶ REMOVE copy_sending                   │              │
      │ delete ───────────────────────────────────────────────────────────▶ gone

    interrupted before the send: the letter is still there, and its copy is now the
      predecessor of an unsent copy: a rerun (or the reconciler) sends copy n+1.
    interrupted after: a rerun finds the item redriven from this letter and only deletes it.
A task that succeeded meanwhile, or a letter of an older failure, is left as it is.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.envelope import Envelope
from sqs_tasks.item import FAILED, TaskItem
from sqs_tasks.operations.dead_letters import DeadLetter, Selection, delete, envelope_of, scan
from sqs_tasks.runner import verdict
from sqs_tasks.worker.copies import Copies


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
    copies = Copies(backend.results, backend.codec)
    with scan(backend, selection) as letters:
        for letter in letters:
            if limit is not None and len(report.redriven) >= limit:
                break
            envelope = envelope_of(backend, letter)
            item = backend.results.get(envelope.task_id) if envelope else None
            plan = _plan(envelope, item)
            if plan == "finish":  # a run interrupted after its send: only delete
                if not dry_run:
                    delete(letter)
                report.skipped.append({**letter.summary(), "reason": "already redriven"})
                continue
            if plan != "redrive":
                report.skipped.append({**letter.summary(), "reason": plan})
                continue
            assert envelope is not None and item is not None
            if not dry_run:
                rate.wait()
                _redrive_one(backend, copies, letter, envelope, item)
                progress(len(report.redriven) + 1)
            report.redriven.append(letter.summary())
    return report


def _plan(envelope: Envelope | None, item: TaskItem | None) -> str:
    """'redrive', 'finish', or why the letter is skipped."""
    if envelope is None:
        return "does not verify: not redriven (tasks_purge removes it)"
    now = timezone.now().timestamp()
    match verdict.judge(item, envelope.copy, now):
        case verdict.Missing():
            return "no result record"
        case verdict.Done() | verdict.LetterOwed() if item and item.status == FAILED:
            note = item.dead_letter
            if note is None or note.copy == envelope.copy:
                return "redrive"
            return "an older failure's letter"
        case verdict.Done():
            return "task has since succeeded"
        case verdict.Predecessor() if item and item.redriven_from == envelope.copy:
            return "redrive"  # interrupted before its send: send again
        case verdict.Stray() | verdict.Busy() if item and item.redriven_from == envelope.copy:
            return "finish"  # (Busy: the redriven copy is running already)
        case verdict.Busy():
            return "task is running"
        case _:
            return "task is not failed (the reconciler resumes it)"


def _redrive_one(
    backend: SQSBackend, copies: Copies, letter: DeadLetter, envelope: Envelope, item: TaskItem
) -> None:
    if item.status == FAILED:
        if not backend.results.begin_redrive(item, now=timezone.now()):
            raise RuntimeError(f"task {item.id} changed during the redrive; run it again")
        successor = item.copy + 1
    else:  # READY on a copy not yet sent: the earlier run stopped before its send
        successor = item.copy
    copies.send(letter.source_url, envelope.with_copy(successor))
    delete(letter)
