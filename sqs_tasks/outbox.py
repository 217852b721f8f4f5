"""The transactional outbox: an enqueue is a database row until a relay sends it.

    caller's transaction        after commit (the enqueuing process)     every minute
      your writes                 relay its rows:                          relay-outbox:
      INSERT outbox row(s)  ───▶    lock them (SKIP LOCKED)          ◀───   the same, for rows
      COMMIT                        put each item (if absent)                left behind,
                                    send each message                        oldest first
                                    delete the rows that went

Rows leave only once their message is sent, in the transaction that holds their lock, so
a relay that dies midway leaves them to the next one. A relay may therefore send a task
that an earlier relay already sent (it died before its delete committed): the item is
created only if absent (conditional put) and the task id is the same, so the task still
runs once. A relay never raises into the code that committed: a failure is logged,
counted, and left to the next relay (contract 9).

Items are written with conditional PutItem, one request each (in parallel for a batch),
not BatchWriteItem: a batch write cannot be conditional, and an unconditional write from a
relay that stalled could reset a task another relay already sent and a worker finished.
"""

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from sqs_tasks import metrics, queues
from sqs_tasks.codec import OutgoingMessage
from sqs_tasks.envelope import Envelope
from sqs_tasks.item import READY, TaskItem
from sqs_tasks.models import OutboxEntry

if TYPE_CHECKING:
    from sqs_tasks.backends.sqs import SQSBackend

logger = logging.getLogger("sqs_tasks.outbox")

RELAY_BATCH = 100  # rows one relay-outbox transaction locks and sends
PUT_THREADS = 8  # parallel PutItems for a batch
# Per thread (Django's connections are): the ids enqueued since the last relay.
_local = threading.local()


@dataclass
class RelayReport:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    oldest_pending_age: float | None = None  # seconds, of what is left unsent

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": len(self.sent),
            "failed": len(self.failed),
            "oldest_pending_age_s": self.oldest_pending_age,
        }


def database_for_enqueue(aliases: Sequence[str]) -> str:
    """The outbox database an enqueue joins: the one with an atomic block open (the first
    listed, if several are), else the first, in a transaction of its own."""
    for alias in aliases:
        if connections[alias].in_atomic_block:
            return alias
    return aliases[0]


def add(using: str, envelopes: Sequence[Envelope], now: datetime) -> None:
    """Write one row per envelope, in one statement."""
    OutboxEntry.objects.using(using).bulk_create(
        [
            OutboxEntry(
                task_id=envelope.task_id,
                queue_name=envelope.queue_name,
                envelope=envelope.to_json(),
                created_at=now,
            )
            for envelope in envelopes
        ]
    )


def add_unique(using: str, envelope: Envelope, now: datetime) -> bool:
    """Write the row of a deduplicated task; False if a row with its id exists (another
    enqueue with the same key, possibly in a transaction that has not committed yet)."""
    try:
        with transaction.atomic(using=using):  # a savepoint: the caller's transaction lives on
            add(using, [envelope], now)
    except IntegrityError:
        return False
    return True


def relay_after_commit(backend: "SQSBackend", using: str, task_ids: Sequence[str]) -> None:
    """Relay these rows once the transaction they join commits (at once, outside one).

    Every enqueue of a transaction adds its ids to this thread's list and registers a hook;
    the first hook to run relays the whole list in one relay, the others find it empty. A
    rolled-back transaction's hooks never run: its ids wait in the list for the next
    commit, whose relay finds no rows for them."""
    _ids_to_relay(using).extend(task_ids)
    transaction.on_commit(partial(_relay_listed, backend, using), using=using, robust=True)


def _relay_listed(backend: "SQSBackend", using: str) -> None:
    listed = _ids_to_relay(using)
    if listed:
        task_ids = list(listed)
        listed.clear()
        relay(backend, using, task_ids=task_ids, limit=len(task_ids))


def _ids_to_relay(using: str) -> list[str]:
    lists = _local.__dict__.setdefault("ids", {})
    return lists.setdefault(using, [])


def pending(using_any: Iterable[str], task_id: str) -> Envelope | None:
    """The envelope of a task committed but not sent yet, if there is one."""
    for using in using_any:
        row = OutboxEntry.objects.using(using).filter(task_id=task_id).first()
        if row is not None:
            return Envelope.from_json(row.envelope)
    return None


def relay(
    backend: "SQSBackend",
    using: str,
    *,
    task_ids: Sequence[str] | None = None,
    limit: int = RELAY_BATCH,
) -> RelayReport:
    """Send what is pending (these ids, or the oldest), and never raise: what fails stays."""
    report = RelayReport()
    try:
        with transaction.atomic(using=using):
            rows = _lock(using, task_ids, limit)
            if rows:
                _send(backend, using, rows, report)
        report.oldest_pending_age = oldest_age(using)
    except Exception:
        logger.exception("outbox relay failed; the rows stay for the next relay")
        report.failed += [task_id for task_id in task_ids or () if task_id not in report.sent]
    metrics.record_relay(len(report.sent), len(report.failed), report.oldest_pending_age)
    return report


def relay_all(backend: "SQSBackend", *, budget_seconds: float) -> RelayReport:
    """What relay-outbox runs: batches, oldest first, from each outbox database, until
    nothing is left or the time budget is spent."""
    report = RelayReport()
    deadline = time.monotonic() + budget_seconds
    for using in backend.config.outbox_databases:
        while time.monotonic() < deadline:
            batch = relay(backend, using)
            report.sent += batch.sent
            report.failed += batch.failed
            if not batch.sent or batch.failed:
                break
    ages = [oldest_age(using) for using in backend.config.outbox_databases]
    known = [age for age in ages if age is not None]
    report.oldest_pending_age = max(known) if known else None
    return report


def oldest_age(using: str) -> float | None:
    oldest = (
        OutboxEntry.objects.using(using)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return (timezone.now() - oldest).total_seconds() if oldest else None


def _lock(using: str, task_ids: Sequence[str] | None, limit: int) -> list[OutboxEntry]:
    """The rows to send, locked until this relay commits; rows another relay holds are
    skipped (PostgreSQL; SQLite has one writer and no row locks)."""
    rows = OutboxEntry.objects.using(using).select_for_update(skip_locked=True)
    if task_ids is not None:
        rows = rows.filter(task_id__in=list(task_ids))
    return list(rows.order_by("created_at")[:limit])


def _send(backend: "SQSBackend", using: str, rows: list[OutboxEntry], report: RelayReport) -> None:
    envelopes = [Envelope.from_json(row.envelope) for row in rows]

    def create(envelope: Envelope) -> TaskItem | Exception | None:
        """The item as it was (None: created now), or why it could not be written: one
        row's failure holds back that row only, not the batch."""
        try:
            return backend.results.create(new_item(backend, envelope))
        except Exception as error:
            logger.warning("could not write a task's item; its row stays", exc_info=True)
            return error

    if len(envelopes) == 1:  # a web request's one task: no thread to start
        existing = [create(envelopes[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(PUT_THREADS, len(envelopes))) as pool:
            existing = list(pool.map(create, envelopes))
    unwritten = {
        envelope.task_id
        for envelope, item in zip(envelopes, existing, strict=True)
        if isinstance(item, Exception)
    }
    # A task whose item has finished was sent before (by a relay that died before its
    # delete): sending it again would only be deleted unrun.
    to_send = [
        envelope
        for envelope, item in zip(envelopes, existing, strict=True)
        if item is None or (isinstance(item, TaskItem) and not item.finished)
    ]
    refused = set(_send_messages(backend, to_send))
    sent = [envelope for envelope in envelopes if envelope.task_id not in refused | unwritten]
    OutboxEntry.objects.using(using).filter(
        task_id__in=[envelope.task_id for envelope in sent]
    ).delete()
    for held, why in ((refused, "SQS refused the message"), (unwritten, "the item write failed")):
        if held:
            OutboxEntry.objects.using(using).filter(task_id__in=list(held)).update(
                relay_attempts=F("relay_attempts") + 1, last_error=why
            )
    report.sent += [envelope.task_id for envelope in sent]
    report.failed += sorted(refused | unwritten)
    went = Counter(envelope.queue_name for envelope in to_send if envelope.task_id not in refused)
    for queue_name, count in went.items():
        metrics.record_enqueued(queue_name, count)


def _send_messages(backend: "SQSBackend", envelopes: list[Envelope]) -> list[str]:
    """Sign and send, ten per request per queue, each delayed toward its run_after (SQS
    delays 15 minutes at most: a copy that arrives early waits on the item). Returns the
    task ids SQS refused."""
    now = time.time()
    by_queue: dict[str, list[tuple[OutgoingMessage, float]]] = defaultdict(list)
    for envelope in envelopes:
        delay = envelope.run_after.timestamp() - now if envelope.run_after else 0.0
        by_queue[envelope.queue_name].append((backend.codec.encode(envelope), delay))
    return [
        task_id
        for queue_name, batch in by_queue.items()
        for task_id in queues.send_batch(backend.queue_url(queue_name), batch)
    ]


def new_item(backend: "SQSBackend", envelope: Envelope) -> TaskItem:
    """The READY item a task starts as: not before its run_after (if any), copy 0."""
    not_before = envelope.run_after.timestamp() if envelope.run_after else 0.0
    return TaskItem(
        id=envelope.task_id,
        task_path=envelope.task_path,
        backend=envelope.backend,
        queue=envelope.queue_name,
        status=READY,
        enqueued_at=envelope.enqueued_at,
        not_before=not_before,
        max_attempts=envelope.policy.max_attempts,
        arguments=envelope.arguments,
        copy=envelope.copy,
        run_after=envelope.run_after,
        request_id=envelope.request_id,
        expires_at=backend.results.expires_at(not_before),
    )
