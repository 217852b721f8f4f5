"""Dead letters: a failed task's message, in its queue's dead-letter queue, said once.

The item records that a letter is owed before it is sent (`dead_letter: {copy, sent:
false}`, written with FAILED), and that it went out after:

    worker          item (DynamoDB)                       dead-letter queue
      │ record_failure ─▶ FAILED, dead_letter {copy n, sent: false}
      │ send ─────────────────────────────────────────────▶ letter (body of copy n)
      │ mark ────────────▶ dead_letter {copy n, sent: true}
      │ return ──▶ Lambda deletes copy n

    dies before the send: copy n comes back, finds the letter owed, sends it and marks it:
      a FAILED task always ends with its letter, never dropped.
    dies between send and mark: the next delivery sends it again. Both letters carry copy
      n's body; redrive and the reconciler treat letters of one copy as one.
    dies after the mark: copy n comes back and is deleted: the letter went out.
"""

import logging

from django.utils import timezone

from sqs_tasks import queues
from sqs_tasks.codec import SIGNATURE_ATTRIBUTE, OutgoingMessage, string_attribute
from sqs_tasks.errors import MESSAGE_LIMIT
from sqs_tasks.results import ResultStore
from sqs_tasks.runner.outcome import Letter

logger = logging.getLogger("sqs_tasks.worker")


def letter_message(
    letter: Letter, *, body: str, signature: str | None, source_queue: str
) -> OutgoingMessage:
    """The message, body unchanged, with attributes that say what failed at a glance in
    the console (contract 6). SQS allows ten attributes: the signature (so a redrive
    verifies) and ours."""
    now = timezone.now().isoformat()
    attributes = {SIGNATURE_ATTRIBUTE: string_attribute(signature)} if signature else {}
    attributes |= {
        "task_id": string_attribute(letter.task_id or "unknown"),
        "task_path": string_attribute(letter.task_path or "unknown"),
        "exception_class": string_attribute(letter.exception_class),
        "exception_message": string_attribute(letter.exception_message[:MESSAGE_LIMIT] or "-"),
        "attempts": {"DataType": "Number", "StringValue": str(letter.attempts)},
        "first_failed_at": string_attribute(letter.first_failed_at or now),
        "last_failed_at": string_attribute(now),
        "source_queue": string_attribute(source_queue),
    }
    return OutgoingMessage(task_id=letter.task_id, body=body, attributes=attributes)


def send_letter(
    results: ResultStore | None,
    letter: Letter,
    *,
    dead_letter_url: str,
    body: str,
    signature: str | None,
    source_queue: str,
) -> None:
    """Send the letter, then mark it sent on the item (when the letter is an item's)."""
    queues.send(
        dead_letter_url,
        letter_message(letter, body=body, signature=signature, source_queue=source_queue),
    )
    if results is not None:
        results.mark_letter_sent(letter.task_id, letter.copy)
    logger.error(
        "message dead-lettered",
        extra={"exception_class": letter.exception_class, "reason": letter.exception_message[:200]},
    )
