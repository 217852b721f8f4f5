"""What becomes of an SQS message after its record was handled.

Returning normally lets Lambda delete the message; raising ReturnToQueue reports it in
batchItemFailures, so it comes back when its visibility timeout runs out, which we set.
"""

import logging
from datetime import datetime

from django.utils import timezone

from sqs_tasks import aws, queues
from sqs_tasks.codec import SIGNATURE_ATTRIBUTE, OutgoingMessage, string_attribute
from sqs_tasks.errors import MESSAGE_LIMIT
from sqs_tasks.runner.outcome import (
    AlreadyFinished,
    Busy,
    Failed,
    Lost,
    Outcome,
    RetryLater,
    Succeeded,
)
from sqs_tasks.runner.retry import MAX_VISIBILITY
from sqs_tasks.worker.message import IncomingMessage

logger = logging.getLogger("sqs_tasks.worker")

# A postponed message is held by visibility this many receives, then sent afresh, so its
# receive count never nears the queue's maxReceiveCount however long the delay.
HOLD_RECEIVES = 2


class ReturnToQueue(Exception):
    """Report this record in batchItemFailures: it comes back later, nothing is lost."""


def apply(message: IncomingMessage, outcome: Outcome, *, task_id: str, task_path: str) -> None:
    match outcome:
        case Succeeded() | AlreadyFinished() | Lost():
            return
        case RetryLater(delay=delay) | Busy(delay=delay):
            return_later(message, delay)
        case Failed(error=error, attempts=attempts, first_failed_at=first_failed_at):
            dead_letter(
                message,
                task_id=task_id,
                task_path=task_path,
                exception_class=error.exception_class_path,
                exception_message=error.message,
                attempts=attempts,
                first_failed_at=first_failed_at,
            )


def return_later(message: IncomingMessage, delay: float) -> None:
    """Hide the message for `delay` seconds, then report it failed so Lambda keeps it."""
    seconds = max(0, min(int(delay), MAX_VISIBILITY))
    try:
        aws.client("sqs").change_message_visibility(
            QueueUrl=message.queue_url,
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=seconds,
        )
    except Exception:  # the queue's own visibility timeout still brings it back
        logger.warning("could not change visibility", exc_info=True)
    raise ReturnToQueue(f"returns in {seconds}s")


def postpone(message: IncomingMessage, until: datetime) -> None:
    """A message that arrived before its run_after: hold it, or resend it for later."""
    remaining = (until - timezone.now()).total_seconds()
    if message.receive_count <= HOLD_RECEIVES:
        return_later(message, remaining)
    queues.send(
        message.queue_url,
        OutgoingMessage(task_id="", body=message.body, attributes=message.api_attributes()),
        delay=remaining,
    )


def dead_letter(
    message: IncomingMessage,
    *,
    task_id: str,
    task_path: str,
    exception_class: str,
    exception_message: str,
    attempts: int,
    first_failed_at: str | None = None,
) -> None:
    """Send the message, body unchanged, to its queue's dead-letter queue, with attributes
    that say what failed at a glance in the console (contract 6). The caller returns
    normally afterwards, so Lambda deletes the original only once this send succeeded."""
    now = timezone.now().isoformat()
    # SQS allows ten attributes: keep the signature (so a redrive verifies) and add ours.
    attributes = {
        name: value
        for name, value in message.api_attributes().items()
        if name == SIGNATURE_ATTRIBUTE
    }
    attributes |= {
        "task_id": string_attribute(task_id or "unknown"),
        "task_path": string_attribute(task_path or "unknown"),
        "exception_class": string_attribute(exception_class),
        "exception_message": string_attribute(exception_message[:MESSAGE_LIMIT] or "-"),
        "attempts": {"DataType": "Number", "StringValue": str(attempts)},
        "first_failed_at": string_attribute(first_failed_at or now),
        "last_failed_at": string_attribute(now),
        "source_queue": string_attribute(message.queue_name),
    }
    queues.send(
        queues.dead_letter_url(message.queue_url),
        OutgoingMessage(task_id=task_id, body=message.body, attributes=attributes),
    )
    logger.error(
        "message dead-lettered",
        extra={"exception_class": exception_class, "reason": exception_message[:200]},
    )
