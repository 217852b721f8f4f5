"""The transactional outbox: an enqueue is a database row until a relay sends it.

    caller's transaction        after commit (the enqueuing process)     every minute
      your writes                 relay its rows, from memory:             relay-outbox:
      INSERT outbox row(s)  ───▶    put each item (if absent)        ◀───   lock rows left behind
      COMMIT                        send each message                        (SKIP LOCKED), oldest
                                    delete the rows that went                first; the same

Rows leave only once their message is sent, so a relay that dies midway leaves them to the
next one. The committing process relays the rows it has just written in autocommit,
without a lock (a relay-outbox run that takes them too only sends them twice), and deletes
them in one statement, passing over any such run's locked rows; relay-outbox locks its
rows and deletes them in the transaction that holds the locks. A relay may therefore send
a task that an earlier relay already sent (it died before its delete committed): the item
is created only if absent (conditional put) and the task id is the same, so the task still
runs once. A relay never raises into the code that committed: a failure is logged,
counted, and left to the next relay (contract 9).

Items are created only if absent: one task's with a conditional PutItem, a batch's with
PartiQL INSERTs, 25 a request (several requests in parallel). BatchWriteItem would take 25
too but cannot be conditional: a relay that stalled and wrote late could reset a task
another relay already sent and a worker finished.
"""

import contextvars
import json
import logging
import threading
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from sqs_tasks import aws, metrics, queues
from sqs_tasks.envelope import Envelope
from sqs_tasks.item import (
    READY,
    StoredJSON,
    TaskItem,
    stored_json_attributes,
    stored_json_from,
)
from sqs_tasks.models import OutboxEntry
from sqs_tasks.results import INSERT_BATCH, ResultStore
from sqs_tasks.workflows.records import WorkflowRecords, workflow_key

if TYPE_CHECKING:
    from sqs_tasks.backends.sqs import SQSBackend

logger = logging.getLogger("sqs_tasks.outbox")

RELAY_BATCH = 100  # rows one relay-outbox transaction locks and sends
WRITE_THREADS = 8  # parallel requests writing a batch's items
LAST_ERROR_LIMIT = 500  # characters of a row's last_error
MAX_PASSED_OVER = 1_000  # failed rows one relay-outbox run steps past before it gives up
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


def add(using: str, envelopes: Sequence[Envelope], now: datetime) -> list[OutboxEntry]:
    """Write one row per envelope, in one statement (SQLite splits a long list), in the
    caller's transaction; outside one, a single row in autocommit, so a web request's one
    task costs one round trip to the database, not a BEGIN, an INSERT and a COMMIT."""
    rows = [
        OutboxEntry(
            task_id=envelope.task_id,
            queue_name=envelope.queue_name,
            envelope=envelope.to_json(),
            created_at=now,
        )
        for envelope in envelopes
    ]
    if len(rows) == 1:
        rows[0].save(using=using, force_insert=True)  # no transaction of its own
    elif rows:
        # All or none: bulk_create splits a long list into several INSERTs, in autocommit
        # outside a transaction (no savepoint inside one).
        with transaction.atomic(using=using, savepoint=False):
            OutboxEntry.objects.using(using).bulk_create(rows)
    return rows


def add_workflow(
    using: str, backend: str, workflow_id: str, plan: StoredJSON, now: datetime
) -> OutboxEntry:
    """Write a workflow's record as a row, sent before the rows of its first steps."""
    record = {"workflow": workflow_id, "backend": backend, **stored_json_attributes("plan", plan)}
    return OutboxEntry.objects.using(using).create(
        task_id=workflow_key(workflow_id),
        kind=OutboxEntry.WORKFLOW,
        queue_name="",
        envelope=json.dumps(record),
        created_at=now,
    )


def add_unique(using: str, envelope: Envelope, now: datetime) -> OutboxEntry | None:
    """Write the row of a deduplicated task; None if a row with its id exists (another
    enqueue with the same key, possibly in a transaction that has not committed yet)."""
    try:
        with transaction.atomic(using=using):  # a savepoint: the caller's transaction lives on
            return add(using, [envelope], now)[0]
    except IntegrityError:
        return None


def relay_after_commit(backend: "SQSBackend", using: str, rows: Sequence[OutboxEntry]) -> None:
    """Relay these rows, just written, once the transaction they join commits (at once,
    outside one): with the rows of the transaction's other enqueues, in one relay."""
    if rows:
        hook = _AfterCommit(backend, using, list(rows))
        due = _hooks_due(using)
        due[:] = [ref for ref in due if ref() is not None]
        due.append(weakref.ref(hook))
        transaction.on_commit(hook, using=using, robust=True)


class _AfterCommit:
    """One enqueue's rows, waiting for its transaction to commit.

    Each enqueue registers one of these with Django. A rollback (of the transaction, or
    of the savepoint an enqueue ran in) makes Django drop its hooks, and with them the
    only strong reference to each: what this thread's weak list still holds when the
    first hook runs is exactly the committed enqueues, and that hook relays all their rows
    in one relay (the others find themselves done). A hook kept alive elsewhere after a
    rollback would be relayed too; Django keeps none."""

    __slots__ = ("__weakref__", "backend", "done", "rows", "using")

    def __init__(self, backend: "SQSBackend", using: str, rows: list[OutboxEntry]) -> None:
        self.backend, self.using, self.rows, self.done = backend, using, rows, False

    def __call__(self) -> None:
        if self.done:
            return
        due = [hook for ref in _hooks_due(self.using) if (hook := ref()) and not hook.done]
        _hooks_due(self.using).clear()
        for hook in due:
            hook.done = True
        relay(self.backend, self.using, rows=[row for hook in due for row in hook.rows])


def _hooks_due(using: str) -> list[weakref.ref[_AfterCommit]]:
    """This thread's (Django's connections are per thread) hooks not yet run, weakly."""
    lists = _local.__dict__.setdefault("due", {})
    return lists.setdefault(using, [])


def read_through[T, R](
    read_item: Callable[[], T | None],
    read_row: Callable[[], R | None],
    read_item_again: Callable[[], T | None] | None = None,
) -> T | R | None:
    """The item, else the row of what was committed but not sent yet, else the item again
    (`read_item_again`: a strongly consistent read, when the first was not).

    A relay creates the item before it deletes the row, so a task (or workflow) that
    exists is always found by one of the three reads, even when a relay runs between
    them; what exists is found by the first read alone, which is nearly always."""
    found = read_item()
    if found is not None:
        return found
    row = read_row()
    return row if row is not None else (read_item_again or read_item)()


def pending(using_any: Iterable[str], task_id: str) -> Envelope | None:
    """The envelope of a task committed but not sent yet, if there is one."""
    row = _pending_row(using_any, task_id, OutboxEntry.TASK)
    return Envelope.from_json(row.envelope) if row else None


def pending_workflow(using_any: Iterable[str], workflow_id: str) -> StoredJSON | None:
    """The plan of a workflow committed but not sent yet, if there is one."""
    row = _pending_row(using_any, workflow_key(workflow_id), OutboxEntry.WORKFLOW)
    return stored_json_from(json.loads(row.envelope), "plan") if row else None


def _pending_row(using_any: Iterable[str], key: str, kind: str) -> OutboxEntry | None:
    for using in using_any:
        row = OutboxEntry.objects.using(using).filter(task_id=key, kind=kind).first()
        if row is not None:
            return row
    return None


def relay(
    backend: "SQSBackend",
    using: str,
    *,
    task_ids: Sequence[str] | None = None,
    limit: int = RELAY_BATCH,
    rows: list[OutboxEntry] | None = None,
) -> RelayReport:
    """Send what is pending, and never raise: what fails stays, counted, and the outbox's
    age is reported then (its alarm is for exactly the outage that makes relays fail).

    `rows`: the committing process's own rows, just committed, sent from memory without a
    lock or a transaction; only a failure is counted (relay-outbox reports the age every
    minute, and in an outage that stops it too, each failed relay here does). Otherwise
    one batch (these ids, or the oldest) under row locks, always counted."""
    if rows is not None:
        return _relay_committed(backend, using, rows)
    report = _relay_batch(backend, using, task_ids=task_ids, limit=limit)
    report.oldest_pending_age = _oldest_age_or_none(using)
    _emit(report)
    return report


def _relay_committed(backend: "SQSBackend", using: str, rows: list[OutboxEntry]) -> RelayReport:
    report = RelayReport()
    with aws.prompt():  # someone waits on this (a web request): give up soon
        try:
            _send(backend, using, rows, report, locked=False)
        except Exception:
            logger.exception("outbox relay failed; the rows stay for the next relay")
            report.sent.clear()
            report.failed = [row.task_id for row in rows]
    if report.failed:
        report.oldest_pending_age = _oldest_age_or_none(using)
        _emit(report)
    return report


def relay_all(backend: "SQSBackend", *, budget_seconds: float) -> RelayReport:
    """What relay-outbox runs: batches, oldest first, from each outbox database, until
    nothing is left or the time budget is spent. Rows that fail are passed over for the
    rest of the run, so one broken queue does not hold back the others."""
    report = RelayReport()
    deadline = time.monotonic() + budget_seconds
    for using in backend.config.outbox_databases:
        failed: list[str] = []
        while time.monotonic() < deadline and len(failed) < MAX_PASSED_OVER:
            batch = _relay_batch(backend, using, task_ids=None, limit=RELAY_BATCH, skip=failed)
            report.sent += batch.sent
            failed += batch.failed
            if not batch.sent and not batch.failed:
                break
        report.failed += failed
    ages = [_oldest_age_or_none(using) for using in backend.config.outbox_databases]
    known = [age for age in ages if age is not None]
    report.oldest_pending_age = max(known) if known else None
    _emit(report)
    return report


def _relay_batch(
    backend: "SQSBackend",
    using: str,
    *,
    task_ids: Sequence[str] | None,
    limit: int,
    skip: Sequence[str] = (),
) -> RelayReport:
    report = RelayReport()
    locked: list[str] = []
    try:
        with transaction.atomic(using=using):
            rows = _lock(using, task_ids, limit, skip)
            locked = [row.task_id for row in rows]
            if rows:
                _send(backend, using, rows, report)
    except Exception:
        logger.exception("outbox relay failed; the rows stay for the next relay")
        # Rolled back: every row it took is still there, whatever went out.
        report.sent.clear()
        report.failed = list(task_ids if task_ids is not None else locked)
    return report


def _emit(report: RelayReport) -> None:
    metrics.record_relay(len(report.sent), len(report.failed), report.oldest_pending_age)


def _oldest_age_or_none(using: str) -> float | None:
    try:
        return oldest_age(using)
    except Exception:
        logger.exception("could not read the outbox's oldest row")
        return None


def oldest_age(using: str) -> float | None:
    oldest = (
        OutboxEntry.objects.using(using)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return (timezone.now() - oldest).total_seconds() if oldest else None


def _lock(
    using: str, task_ids: Sequence[str] | None, limit: int, skip: Sequence[str]
) -> list[OutboxEntry]:
    """The rows to send, locked until this relay commits; rows another relay holds are
    skipped (PostgreSQL; SQLite has one writer and no row locks)."""
    rows = OutboxEntry.objects.using(using).select_for_update(skip_locked=True)
    if task_ids is not None:
        rows = rows.filter(task_id__in=list(task_ids))
    if skip:
        rows = rows.exclude(task_id__in=list(skip))
    # A workflow's record goes before its steps, which were written in the same instant.
    return list(rows.order_by("created_at", "-kind")[:limit])


def _send(
    backend: "SQSBackend",
    using: str,
    rows: list[OutboxEntry],
    report: RelayReport,
    *,
    locked: bool = True,
) -> None:
    """Create the workflow records, then deliver each task with the backend its envelope
    names (one transaction may enqueue for several), then drop the rows that went
    (`locked`: this relay holds their row locks)."""
    for row in rows:
        if row.kind == OutboxEntry.WORKFLOW:
            data = json.loads(row.envelope)
            plan = stored_json_from(data, "plan") or StoredJSON(text="{}")
            owner = _backend_named(backend, data.get("backend", backend.alias))
            WorkflowRecords(owner.results).create(data["workflow"], plan, row.created_at)
    by_backend: dict[str, list[Envelope]] = defaultdict(list)
    for row in rows:
        if row.kind == OutboxEntry.TASK:
            envelope = Envelope.from_json(row.envelope)
            by_backend[envelope.backend].append(envelope)
    refused: dict[str, str] = {}
    for alias, envelopes in by_backend.items():
        refused |= deliver(_backend_named(backend, alias), envelopes, from_outbox=True)
    sent = [row.task_id for row in rows if row.task_id not in refused]
    if locked:
        OutboxEntry.objects.using(using).filter(task_id__in=sent).delete()
    else:
        _delete_unlocked(using, sent)
    for task_id, reason in refused.items():
        OutboxEntry.objects.using(using).filter(task_id=task_id).update(
            relay_attempts=F("relay_attempts") + 1, last_error=reason[:LAST_ERROR_LIMIT]
        )
    report.sent += sent
    report.failed += sorted(refused)


def _delete_unlocked(using: str, task_ids: list[str]) -> None:
    """Delete these rows in one statement, in autocommit (the ORM's delete opens a
    transaction), except those a relay-outbox run holds locked (PostgreSQL): waiting on
    its lock would hold up a web request, and that run deletes them once it has sent them."""
    if not task_ids:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    table, key = quote(OutboxEntry._meta.db_table), quote("task_id")
    where = f"{key} IN ({', '.join(['%s'] * len(task_ids))})"
    if connection.features.has_select_for_update_skip_locked:
        lock = connection.ops.for_update_sql(skip_locked=True)
        where = f"{key} IN (SELECT {key} FROM {table} WHERE {where} {lock})"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {where}", task_ids)  # names quoted, values bound


def _backend_named(relaying: "SQSBackend", alias: str) -> "SQSBackend":
    if alias == relaying.alias:
        return relaying
    from django.tasks import task_backends

    return task_backends[alias]  # type: ignore[return-value]


def deliver(
    backend: "SQSBackend", envelopes: list[Envelope], *, from_outbox: bool = False
) -> dict[str, str]:
    """Put each task's item (if absent) and send its message (unless it has finished);
    returns the ids that did not go, each with why. Safe to repeat: the same ids, the same
    items.

    `from_outbox`: each envelope is one enqueue's row. An item that exists with another
    `enqueued_at` was made by another enqueue of the same id (a deduplicated enqueue that
    lost a race with the winner's relay): the row is dropped and nothing is sent, so the
    task runs once, with the winner's arguments."""
    if not envelopes:
        return {}

    existing = _create_items(backend.results, [new_item(backend, e) for e in envelopes])
    unwritten = {
        envelope.task_id: f"the item write failed: {item}"
        for envelope, item in zip(envelopes, existing, strict=True)
        if isinstance(item, Exception)
    }
    # A task whose item has finished was sent before (by a relay that died before its
    # delete): sending it again would only be deleted unrun.
    to_send = [
        envelope
        for envelope, item in zip(envelopes, existing, strict=True)
        if item is None
        or (
            isinstance(item, TaskItem)
            and not (item.finished or (from_outbox and item.enqueued_at != envelope.enqueued_at))
        )
    ]
    refused = _send_messages(backend, to_send)
    went = Counter(envelope.queue_name for envelope in to_send if envelope.task_id not in refused)
    for queue_name, count in went.items():
        metrics.record_enqueued(queue_name, count)
    return unwritten | refused


def _create_items(store: ResultStore, items: list[TaskItem]) -> list[TaskItem | Exception | None]:
    """Create each item if absent: one by a PutItem (a web request's one task, no thread to
    start), more by INSERTs 25 a request, the requests in parallel. For each: the item as
    it was (None: created now), or why it could not be written."""
    if len(items) == 1:
        return _written(lambda: [store.create(items[0])], 1)
    batches = [items[i : i + INSERT_BATCH] for i in range(0, len(items), INSERT_BATCH)]

    def write(batch: list[TaskItem]) -> list[TaskItem | Exception | None]:
        return _written(lambda: store.create_many(batch), len(batch))

    if len(batches) == 1:
        return write(batches[0])
    with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(batches))) as pool:
        # Each thread runs in a copy of this context, so aws.prompt() holds there too.
        context = contextvars.copy_context()
        written = pool.map(lambda batch: context.copy().run(write, batch), batches)
        return [each for batch in written for each in batch]


def _written(
    write: Callable[[], list[TaskItem | Exception | None]], count: int
) -> list[TaskItem | Exception | None]:
    """What `write` answers for its `count` items: each as it was (None: created now), or
    why it could not be written. A request that fails holds back its own rows only."""
    try:
        return write()
    except Exception as error:
        logger.warning("could not write tasks' items; their rows stay", exc_info=True)
        return [error] * count


def _send_messages(backend: "SQSBackend", envelopes: list[Envelope]) -> dict[str, str]:
    """Sign and send, ten per request per queue, each delayed toward its run_after (SQS
    delays 15 minutes at most: a copy that arrives early waits on the item). Returns the
    task ids that did not go, with why: a queue that fails (missing, access denied) fails
    its own messages only."""
    now = time.time()
    by_queue: dict[tuple[str, str], list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        lane = backend.lane_for(envelope.queue_name, envelope.priority)
        by_queue[envelope.queue_name, lane].append(envelope)
    refused: dict[str, str] = {}
    for (queue_name, lane), batch in by_queue.items():
        try:
            url = backend.queue_url(queue_name, lane)
            messages = [
                (
                    backend.codec.encode(envelope),
                    envelope.run_after.timestamp() - now if envelope.run_after else 0.0,
                )
                for envelope in batch
            ]
            refused |= dict.fromkeys(queues.send_batch(url, messages), "SQS refused the message")
        except Exception as error:
            logger.exception("could not send to queue %s", queue_name)
            refused |= dict.fromkeys((e.task_id for e in batch), f"{queue_name}: {error}")
    return refused


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
        workflow=envelope.workflow,
        expires_at=backend.results.expires_at(not_before),
    )
