"""What becomes of an SQS message after its record was handled.

Returning normally lets Lambda delete the message; raising ReturnToQueue reports it in
batchItemFailures, so it comes back when its visibility timeout runs out, which we set.
A message is deleted only when the item says nothing more needs it: the task finished
(with its dead letter sent, if it owes one), or another copy is the live one.
"""

import logging
import time
from collections.abc import Callable

from sqs_tasks import aws, queues
from sqs_tasks.envelope import Envelope
from sqs_tasks.item import SUCCESSFUL, WorkflowRef
from sqs_tasks.limits.gate import Reservations
from sqs_tasks.results import ResultStore
from sqs_tasks.runner.outcome import (
    Failed,
    Finished,
    Outcome,
    RetryLater,
    Succeeded,
    Superseded,
    Waiting,
)
from sqs_tasks.runner.retry import MAX_VISIBILITY
from sqs_tasks.worker.copies import Copies, CopyChanged
from sqs_tasks.worker.letters import send_letter
from sqs_tasks.worker.message import IncomingMessage

logger = logging.getLogger("sqs_tasks.worker")

# A message handed back this many times already is replaced by a fresh copy instead of
# going back again, so its receives never walk toward the queue's maxReceiveCount.
REPLACE_AFTER_RECEIVES = queues.NON_ATTEMPT_RECEIVES
# A copy that arrived too late in an invocation to start comes back this soon.
NOT_STARTED_DELAY = 2.0


class ReturnToQueue(Exception):
    """Report this record in batchItemFailures: it comes back later, nothing is lost."""


class Disposition:
    def __init__(
        self,
        results: ResultStore,
        copies: Copies,
        continue_workflow: Callable[[IncomingMessage, WorkflowRef], None],
    ) -> None:
        self.results = results
        self.copies = copies
        # What follows a workflow's step (workflows/engine.py), given its message: run (or
        # held for the batch's end) before the message is deleted, and again by any later
        # delivery of it, so a crash loses nothing.
        self.continue_workflow = continue_workflow

    def apply(self, message: IncomingMessage, envelope: Envelope, outcome: Outcome) -> None:
        match outcome:
            case Succeeded():
                self._after_success(message, envelope)
            case Finished(status=status) if status == SUCCESSFUL:
                self._after_success(message, envelope)
            case Finished() | Superseded(successor=None):
                return
            case Superseded(successor=int(successor)):
                self.copies.send(message.queue_url, envelope.with_copy(successor))
            case Waiting(delay=delay, reason="busy"):
                # Never replaced: the attempt holding the task may be running this very
                # copy (a duplicate delivery of it), and owe a dead letter only its message
                # can carry (letters.py). begin_copy would refuse; this spares the write.
                # It comes back once, when the lease ends; what starts it then (its
                # reservations, if spent) is decided then.
                return_later(message, delay)
            case Waiting(delay=delay, reserved=reserved) if (
                reserved is not None and reserved != envelope.reserved
            ):
                self.come_back(message, envelope, delay, reserved=reserved)
            case RetryLater(delay=delay) if envelope.reserved:
                # This attempt used the copy's reservation: the retry asks the limit again.
                self.come_back(message, envelope, delay, reserved=())
            case RetryLater(delay=delay) | Waiting(delay=delay):
                self.come_back(message, envelope, delay)
            case Failed(letter=letter):
                send_letter(
                    self.results,
                    letter,
                    dead_letter_url=queues.dead_letter_url(message.queue_url),
                    body=message.body,
                    signature=message.signature,
                    source_queue=message.queue_name,
                )

    def _after_success(self, message: IncomingMessage, envelope: Envelope) -> None:
        if envelope.workflow is not None:
            self.continue_workflow(message, envelope.workflow)

    def come_back(
        self,
        message: IncomingMessage,
        envelope: Envelope,
        delay: float,
        *,
        reserved: Reservations | None = None,
    ) -> None:
        """Have this task's message back in `delay` seconds: this copy, hidden that long,
        or a fresh copy in its place, once this one has been handed back before or when
        the copy must carry other `reserved` starts (limits/gate.py)."""
        if reserved is not None or message.receive_count >= REPLACE_AFTER_RECEIVES:
            carried = envelope.reserved if reserved is None else reserved
            try:
                self.copies.replace(message.queue_url, envelope, delay, carried)
            except CopyChanged as changed:
                # Judged again on its next receive: soon, or when a live lease ends (until
                # then it could only come back busy, a receive spent each time).
                lease = changed.item.lease if changed.item is not None else None
                return_at(message, lease.until if lease else 0.0, at_least=NOT_STARTED_DELAY)
            return
        return_later(message, delay)


def return_later(message: IncomingMessage, delay: float) -> None:
    """Hide the message for `delay` seconds (SQS allows 12 h), then report it failed so
    Lambda keeps it. If hiding fails, the queue's own visibility timeout still brings it
    back, later: the item, not the message, says when the task may run."""
    seconds = visibility_seconds(delay)
    try:
        aws.client("sqs").change_message_visibility(
            QueueUrl=message.queue_url,
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=seconds,
        )
    except Exception:
        logger.warning("could not change visibility", exc_info=True)
    raise ReturnToQueue(f"returns in {seconds}s")


def return_at(message: IncomingMessage, until: float, *, at_least: float) -> None:
    """return_later, until `until` (time.time()), and in `at_least` seconds at the soonest."""
    return_later(message, max(at_least, until - time.time()))


def visibility_seconds(delay: float) -> int:
    """A delay as a visibility timeout: at most 12 h."""
    return queues.whole_seconds(delay, MAX_VISIBILITY)
