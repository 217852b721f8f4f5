"""The reconciler: make the dead-letter queues and the results table agree.

SQS moves a message to its queue's dead-letter queue on its own after `maxReceiveCount`
receives (crashed invocations count too), and a worker can die between writing an item
and sending the letter it owes. What the reconciler finds in the dead-letter queues, and
does, judged on each letter's verified envelope and its task's item (runner/verdict.py):

    the task succeeded                      delete the letter (it was a false alarm)
    the task failed and this is its letter  keep it; mark it sent if the worker could not
    failed, letter owed, this copy, bare    send the letter with its attributes, delete this
    a stale or duplicate copy               delete it (a redrive, or a second delivery)
    a copy whose successor may be unsent    send the successor, delete this
    the live copy of an unfinished task     resume it: a fresh copy in its queue, delete this
    the live copy, no attempts left         fail the task for good (WorkerLost), letter
    running under a live lease              leave it for the next run
    unverifiable, or no item                leave it for an operator (tasks_purge)

Every unfinished task has a live message (in its queue, or here), or an outbox row: so a
task cannot be stuck READY or RUNNING without the reconciler meeting its message. Work per
run is bounded (letters and seconds) and proportional to what is in the dead-letter queues,
never to the number of tasks.
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from sqs_tasks import queues
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.envelope import Envelope
from sqs_tasks.item import TaskItem
from sqs_tasks.operations.dead_letters import DeadLetter, Selection, delete, envelope_of, scan
from sqs_tasks.runner import verdict
from sqs_tasks.runner.outcome import Failed, Letter
from sqs_tasks.runner.runner import TaskRunner, dead_letter_of
from sqs_tasks.worker.copies import Copies, CopyChanged
from sqs_tasks.worker.letters import send_letter
from sqs_tasks.workflows.engine import Engine

logger = logging.getLogger("sqs_tasks.reconciler")

MAX_LETTERS = 500  # per run
HOLD_SECONDS = 300  # letters received by a run stay out of other readers' sight this long


@dataclass
class ReconcileReport:
    seen: int = 0
    actions: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"seen": self.seen, **dict(sorted(self.actions.items()))}


def reconcile(
    backend: SQSBackend, *, budget_seconds: float = 60, max_letters: int = MAX_LETTERS
) -> ReconcileReport:
    from botocore.exceptions import BotoCoreError, ClientError

    report = ReconcileReport()
    deadline = time.monotonic() + budget_seconds
    reconciler = _Reconciler(backend)
    try:
        with scan(backend, Selection(), hold_seconds=HOLD_SECONDS) as letters:
            for letter in letters:
                if report.seen >= max_letters or time.monotonic() > deadline:
                    report.actions["stopped early"] += 1
                    break
                report.seen += 1
                try:
                    action = reconciler.settle(letter)
                except Exception:  # one bad letter must not stop the sweep
                    logger.exception("could not reconcile a dead letter")
                    action = "error"
                report.actions[action] += 1
    except (BotoCoreError, ClientError):
        # SQS would not list a dead-letter queue now: what was read is settled, the rest
        # waits for the next run. Raising would fail this run for good (max_attempts=1),
        # and leave a dead letter of its own for a throttled request.
        logger.warning("could not read the dead-letter queues; stopping early", exc_info=True)
        report.actions["stopped early"] += 1
    if report.actions:
        logger.info("reconciled dead letters", extra=report.as_dict())
    return report


class _Reconciler:
    def __init__(self, backend: SQSBackend) -> None:
        self.backend = backend
        self.results = backend.results
        self.copies = Copies(backend.results, backend.codec)
        self.runner = TaskRunner(backend)
        self.engine = Engine(backend)

    def settle(self, letter: DeadLetter) -> str:
        """Do what the letter's task needs; say what, in a few words."""
        envelope = envelope_of(self.backend, letter)
        if envelope is None:
            return "left: does not verify"
        item = self.results.get(envelope.task_id)
        now = timezone.now()
        match verdict.judge(item, envelope.copy, now.timestamp()):
            case verdict.Missing():
                return "left: no result record"
            case verdict.Done(status="SUCCESSFUL"):
                if envelope.workflow is not None:  # what follows may not have started
                    self.engine.step_succeeded(envelope.workflow)
                delete(letter)
                return "deleted: task succeeded"
            case verdict.Done():
                assert item is not None
                return self._settle_failed(letter, envelope, item)
            case verdict.LetterOwed():
                assert item is not None and item.dead_letter is not None
                if not letter.annotated:
                    self._send_letter(letter, dead_letter_of(item, envelope.copy))
                    delete(letter)
                    return "dead-lettered: failure recorded, letter was missing"
                self.results.mark_letter_sent(item.id, envelope.copy)
                return "kept: letter marked sent"
            case verdict.Predecessor(successor=successor):
                self.copies.send(letter.source_url, envelope.with_copy(successor))
                delete(letter)
                return "resumed: sent the unsent copy"
            case verdict.Stray():
                delete(letter)
                return "deleted: stale copy"
            case verdict.Busy():
                return "left: running"
            case verdict.NotDue(until=until):
                return self._resume(letter, envelope, max(0.0, until - now.timestamp()))
            case verdict.Due():
                return self._resume(letter, envelope, 0.0)
            case verdict.OutOfAttempts():
                assert item is not None
                outcome = self.runner.fail_out_of_attempts(item, envelope.copy, now)
                if not isinstance(outcome, Failed):
                    return "left: changed meanwhile"
                self._send_letter(letter, outcome.letter)
                delete(letter)
                return "failed: no attempts left"

    def _settle_failed(self, letter: DeadLetter, envelope: Envelope, item: TaskItem) -> str:
        note = item.dead_letter
        if note is not None and note.copy == envelope.copy and letter.annotated:
            return "kept: the task's dead letter"
        delete(letter)  # a bare copy of a failure already lettered, or of an older failure
        return "deleted: duplicate of a failure's letter"

    def _resume(self, letter: DeadLetter, envelope: Envelope, delay: float) -> str:
        try:
            self.copies.replace(letter.source_url, envelope, delay)
        except CopyChanged:
            return "left: changed meanwhile"
        delete(letter)
        return "resumed: fresh copy sent"

    def _send_letter(self, letter: DeadLetter, content: Letter) -> None:
        send_letter(
            self.results,
            content,
            dead_letter_url=letter.dlq_url,
            body=letter.body,
            signature=letter.attribute("signature") or None,
            source_queue=queues.name_from_url(letter.source_url),
        )
