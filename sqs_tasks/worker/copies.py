"""Fresh copies of a task's message, replacing one whose receives pile up.

SQS moves a message to the dead-letter queue on its own after `maxReceiveCount` receives,
and every receive counts: an attempt, but also a copy that came back too early, found its
task busy, or arrived too late in an invocation to start. Attempts are counted in the
item; a message handed back without an attempt more than once is replaced by a fresh copy
(receive count 0), and the item names the live copy, so every other copy deletes itself.
Not while an attempt holds a live lease (begin_copy refuses): it may be running that very
message (a duplicate delivery), and owe a dead letter only that message can carry; a busy
copy waits hidden until the lease ends (disposition.py), a receive more per lease.

Replacing copy n, the intent is written before the send (Powertools' idempotency has the
same shape: record first, act, then confirm):

    worker          item (DynamoDB)                      queue (SQS)
      │ begin_copy ─▶ copy = n+1, copy_sending            │   (copy n still live)
      │ send ─────────────────────────────────────────────▶ copy n+1
      │ confirm ────▶ REMOVE copy_sending                  │
      │ return ─────────────────────────────────────────────▶ Lambda deletes copy n

    dies after begin_copy or send: copy n comes back, sees copy_sending for n+1 (it is the
      predecessor: runner verdict), sends n+1 again (a duplicate of one copy runs once: the
      claim is conditional) and confirms.
    dies after confirm: copy n comes back, is a stray, deletes itself.
    copy n+1 arrives before the confirm: its claim confirms it.
"""

import logging
from dataclasses import replace

from sqs_tasks import queues, sensitive
from sqs_tasks.codec import MessageCodec
from sqs_tasks.envelope import Envelope
from sqs_tasks.item import TaskItem
from sqs_tasks.limits.gate import Reservations
from sqs_tasks.results import ResultStore

logger = logging.getLogger("sqs_tasks.worker")


class CopyChanged(Exception):
    """The item no longer names this copy, or an attempt holds it under a live lease:
    judge it again on its next receive. `item`: the item as the refusal found it."""

    def __init__(self, message: str, item: TaskItem | None = None) -> None:
        super().__init__(message)
        self.item = item


class Copies:
    def __init__(self, results: ResultStore, codec: MessageCodec) -> None:
        self.results = results
        self.codec = codec

    def replace(
        self, queue_url: str, envelope: Envelope, delay: float, reserved: Reservations = ()
    ) -> None:
        """Send copy n+1 of this copy n, due in `delay` seconds, carrying the starts
        `reserved` for it, and retire copy n. The fresh copy is signed, and its sensitive
        values' MAC made, with today's key."""
        fresh = envelope.with_copy(envelope.copy + 1, reserved)
        if fresh.sensitive is not None:
            mac = sensitive.reseal(fresh.sensitive, signer=self.codec.signer, task_id=fresh.task_id)
            fresh = replace(fresh, sensitive=mac)
        written = self.results.begin_copy(envelope.task_id, from_copy=envelope.copy)
        if not written.done:
            raise CopyChanged(
                f"task {envelope.task_id} moved on from copy {envelope.copy}, or is running",
                written.before,
            )
        self.send(queue_url, fresh, delay)

    def send(self, queue_url: str, envelope: Envelope, delay: float = 0) -> None:
        """Send this copy (named live, or about to be) and confirm it on the item."""
        queues.send(queue_url, self.codec.encode(envelope), delay=delay)
        self.results.confirm_copy(envelope.task_id, envelope.copy)
        logger.info("message copy sent", extra={"copy": envelope.copy, "delay_s": round(delay, 1)})
