"""The results table: every change to a task's item, each one a conditional write.

The item (item.py) is the single truth about a task, and these are the only ways it
changes. Each write says what must still hold for it to happen, so two deliveries of a
message, a worker whose lease ran out, or an operator racing a worker can never both win:

                    claim (due, attempts left, live copy)
        READY ─────────────────────────────────────────────▶ RUNNING ───▶ SUCCESSFUL
          ▲  ▲                                                  │
          │  └─────── retry: not_before = now + backoff ◀───────┤
          │                                                     └───────▶ FAILED ──▶ letter sent
          └──────────── redrive: attempts = 0, a new copy ◀─────────────────┘
        READY ─ cancel ─▶ FAILED (no letter)
        RUNNING whose lease ran out ─ claim ─▶ RUNNING (the lost attempt is recorded)
        READY/RUNNING with no attempts left ─ fail_unrunnable ─▶ FAILED

A claim reads the item as it was (ReturnValues ALL_OLD, on success and on refusal): a
refused copy learns in the same request why it was refused, and for how long (judge.py).

A FAILED item carries `failed_key`, which puts it in the sparse `failed` index; nothing
else is ever written to an index, so a task that succeeds costs its three writes only.
"""

import heapq
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from sqs_tasks import aws, refusals
from sqs_tasks.dynamo import Update, from_item, to_item
from sqs_tasks.errors import ErrorRecord
from sqs_tasks.item import (
    FAILED,
    FAILED_INDEX,
    FAILED_SHARDS,
    READY,
    RUNNING,
    SUCCESSFUL,
    Progress,
    StoredJSON,
    TaskItem,
    failed_index_attributes,
    failed_partition,
    stored_json_attributes,
)

# The attributes a task's attempt holds while it runs; every transition out of RUNNING
# drops them.
LEASE = ("lease_owner", "lease_until")
INSERT_BATCH = 25  # statements in one BatchExecuteStatement: DynamoDB's limit
INSERT_TRIES = 3  # requests for a batch's statements refused for a passing reason
INSERT_BACKOFF = 0.025  # seconds; doubled each time, with full jitter
# How long a transaction is asked for again with one ClientRequestToken: DynamoDB answers a
# token for ten minutes after the first try that used it; a replay later would write again
# (its condition refuses it, but its releases would be given back twice: runner.py).
TOKEN_WINDOW = 540.0


class StatementRefused(Exception):
    """One statement of a batch that DynamoDB refused (throttled, too large...): its row
    stays. If it was written after all (an internal error after the write), the next
    relay's INSERT finds the item and reads it back."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def insert_statement(table: str, item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A PartiQL INSERT of `item` (attribute values as DynamoDB's JSON): every value a
    parameter, so nothing in a task's arguments is ever read as PartiQL."""
    names = ", ".join("'{}': ?".format(name.replace("'", "''")) for name in item)
    return {
        "Statement": f'INSERT INTO "{table}" VALUE {{{names}}}',
        "Parameters": list(item.values()),
        # The API reference says a refused statement then carries the item that was there
        # (BatchStatementError.Item); create_many reads it back where it does not.
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of trying to claim a task; `before` is the item as it was (or None)."""

    granted: bool
    before: TaskItem | None

    @property
    def lease_lost(self) -> bool:
        """The claim took over an attempt that never reported back."""
        return self.granted and self.before is not None and self.before.status == RUNNING


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of a conditional write; `before` is the item as it was when refused."""

    done: bool
    before: TaskItem | None = None


@dataclass(frozen=True, slots=True)
class Also:
    """A write to another item that must happen with a task's (a limit's place given back,
    limits/counters.py): both in one TransactWriteItems, or neither."""

    table: str
    key: str
    update: Update


@dataclass(frozen=True, slots=True)
class FailedEntry:
    """One row of the failed index."""

    task_id: str
    task_path: str
    queue: str
    attempts: int
    exception_class: str
    message: str
    expected: bool
    failed_at: datetime


class ResultStore:
    def __init__(self, table_name: str, ttl_seconds: int) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def expires_at(self, not_before: float = 0) -> int:
        """When DynamoDB may drop the item: the TTL counts from now, or from a later start,
        so a task deferred past the TTL still has its result when it runs."""
        return int(max(time.time(), not_before)) + self.ttl_seconds

    # -- reads --------------------------------------------------------------------------

    def get(self, task_id: str, *, consistent: bool = True) -> TaskItem | None:
        response = self._db.get_item(
            TableName=self.table_name, Key={"id": {"S": task_id}}, ConsistentRead=consistent
        )
        return TaskItem.from_dynamo(response["Item"]) if "Item" in response else None

    def get_many(self, task_ids: list[str], *, consistent: bool = True) -> list[TaskItem]:
        """The items that exist of up to 100 ids, in no particular order (BatchGetItem,
        asking again for what DynamoDB left unprocessed)."""
        request = {
            self.table_name: {
                "Keys": [{"id": {"S": task_id}} for task_id in task_ids],
                "ConsistentRead": consistent,
            }
        }
        found: list[TaskItem] = []
        for pause in (0.05, 0.2, 0.8, 1.6, None):
            response = self._db.batch_get_item(RequestItems=request)
            found += map(TaskItem.from_dynamo, response["Responses"].get(self.table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            if pause is None:
                break
            time.sleep(pause)
        raise RuntimeError(f"DynamoDB left {len(request[self.table_name]['Keys'])} keys unread")

    def failed(
        self,
        *,
        queues: list[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[FailedEntry]:
        """Failed tasks, newest first, from the sparse index: one query per shard and
        queue, merged by failure time. Work is proportional to the failures listed."""
        streams = [
            self._failed_shard(failed_partition(queue, shard), since, until)
            for queue in queues
            for shard in range(FAILED_SHARDS)
        ]
        yield from heapq.merge(*streams, key=lambda entry: entry.failed_at, reverse=True)

    def _failed_shard(
        self, partition: str, since: datetime | None, until: datetime | None
    ) -> Iterator[FailedEntry]:
        values = {
            ":key": partition,
            ":since": since.isoformat() if since else "0",
            ":until": until.isoformat() if until else "9",
        }
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=FAILED_INDEX,
            KeyConditionExpression="failed_key = :key AND finished_at BETWEEN :since AND :until",
            ExpressionAttributeValues=to_item(values),
            ScanIndexForward=False,
        )
        for page in pages:
            for raw in page["Items"]:
                data = from_item(raw)
                failure = data.get("failure") or {}
                yield FailedEntry(
                    task_id=data["id"],
                    task_path=data.get("task_path", ""),
                    queue=data.get("queue", ""),
                    attempts=int(data.get("attempts", 0)),
                    exception_class=failure.get("exception_class", ""),
                    message=failure.get("message", ""),
                    expected=bool(failure.get("expected", False)),
                    failed_at=datetime.fromisoformat(data["finished_at"]),
                )

    # -- enqueue ------------------------------------------------------------------------

    def create(self, item: TaskItem) -> TaskItem | None:
        """Write a new item; if one with that id exists, return it and write nothing
        (a relay sending a task twice, or a deduplicated enqueue)."""
        db = self._db
        try:
            db.put_item(
                TableName=self.table_name,
                Item=item.to_dynamo(),
                ConditionExpression="attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except db.exceptions.ConditionalCheckFailedException as error:
            existing = error.response.get("Item")
            return TaskItem.from_dynamo(existing) if existing else self.get(item.id)
        return None

    def create_many(self, items: Sequence[TaskItem]) -> list[TaskItem | Exception | None]:
        """Write up to 25 new items in one request (INSERT_BATCH), each only if absent, as
        `create` does one; for each, in order: None (created now), the item that exists,
        or the error that kept this one out (the others are written).

        A PartiQL INSERT is the one conditional write DynamoDB takes in batches
        (BatchWriteItem cannot be conditional, TransactWriteItems bills each write twice);
        it costs what a PutItem costs. A DuplicateItem may come without the item that
        existed: those are read back (one BatchGetItem, strongly consistent). Rare: a relay
        sending rows another relay already sent."""
        if len(items) > INSERT_BATCH:
            raise ValueError(f"at most {INSERT_BATCH} items a request, not {len(items)}")
        statements = [insert_statement(self.table_name, item.to_dynamo()) for item in items]
        results: list[TaskItem | Exception | None] = [None] * len(items)
        unread: dict[int, str] = {}  # index -> id of an item that existed, not returned
        pending = list(range(len(items)))
        # A web request's relay asks once more, not twice: its rows are relay-outbox's next.
        tries = INSERT_TRIES - 1 if aws.prompting() else INSERT_TRIES
        for attempt in range(tries):
            if not pending:
                break
            if attempt:
                # botocore retries a refused request, not a refused statement: these are
                # retried here, as it would (an INSERT that went through after all is a
                # DuplicateItem next time, read back like any other).
                refusals.clock.sleep(refusals.backoff(INSERT_BACKOFF, attempt))
            try:
                answers = self._db.batch_execute_statement(
                    Statements=[statements[index] for index in pending]
                )["Responses"]
            except Exception:
                if not attempt:
                    raise
                break  # what the first request answered stands; the rest keep their refusal
            again: list[int] = []
            for index, answer in zip(pending, answers, strict=True):
                error = answer.get("Error")
                code = (error or {}).get("Code", "")
                if error is None:
                    results[index] = None
                elif code in ("DuplicateItem", "ConditionalCheckFailed"):
                    if "Item" in error:
                        results[index] = TaskItem.from_dynamo(error["Item"])
                    else:
                        unread[index] = items[index].id
                else:
                    results[index] = StatementRefused(code, error.get("Message", ""))
                    if code in refusals.PASSING_REASONS:
                        again.append(index)
            pending = again
        if unread:
            self._read_back(unread, results)
        return results

    def _read_back(
        self, unread: dict[int, str], results: list[TaskItem | Exception | None]
    ) -> None:
        """Put in `results` the items that existed (DuplicateItem) or, for each that cannot
        be read, why: the batch's other items stand (they are written)."""
        try:
            found = {item.id: item for item in self.get_many(list(unread.values()))}
        except Exception as error:
            found, failure = {}, error
        else:
            # Missing: deleted since (an operator); the row stays and is written again.
            failure = StatementRefused("DuplicateItem", "the item existed, then was not found")
        for index, task_id in unread.items():
            results[index] = found.get(task_id) or failure

    # -- attempts -----------------------------------------------------------------------

    def claim(
        self,
        task_id: str,
        *,
        copy: int,
        worker_id: str,
        lease_until: float,
        now: datetime,
        reserved: str = "",
    ) -> Claim:
        """RUNNING for this worker, if this copy is the live one, the task is due (READY
        and past not_before, or RUNNING under a lease that ran out) and has attempts
        left. Confirms the copy (a fresh copy being received proves it was sent)."""
        moment = now.timestamp()
        update = (
            Update()
            .set("status", RUNNING)
            .set_expression("started_at", "if_not_exists(#started_at, :now)", now=now.isoformat())
            .set("last_attempted_at", now.isoformat())
            .set("lease_owner", worker_id)
            .set("lease_until", round(lease_until, 3))
            .append("worker_ids", [worker_id])
            .add("attempts", 1)
            .remove("copy_sending", "waiting")
            .when(
                "#copy = :copy AND #attempts < #max_attempts AND "
                "((#status = :ready AND #not_before <= :now) OR "
                "(#status = :running AND #lease_until < :now))",
                copy=copy,
                ready=READY,
                running=RUNNING,
                now=moment,
            )
        )
        if reserved:  # a reservation admits one claim, ever, whichever copy carries it
            update.set("reservation_spent", reserved).when(
                "attribute_not_exists(#reservation_spent) OR #reservation_spent <> :spent",
                spent=reserved,
            )
        written = self._update(task_id, update, return_old=True)
        return Claim(granted=written.done, before=written.before)

    def record_success(
        self,
        task_id: str,
        *,
        owner: str,
        now: datetime,
        value: StoredJSON,
        carried: list[ErrorRecord],
        also: Sequence[Also] = (),
        until: float | None = None,
    ) -> Written:
        """SUCCESSFUL, with its return value. `until`: see _update."""
        update = self._finishing(now, carried)
        update.set("status", SUCCESSFUL)
        for name, attribute in stored_json_attributes("return_value", value).items():
            update.set(name, attribute)
        return self._update(task_id, self._owned(update, owner), also=also, until=until)

    def record_retry(
        self,
        task_id: str,
        *,
        owner: str,
        now: datetime,
        errors: list[ErrorRecord],
        not_before: float,
        also: Sequence[Also] = (),
        until: float | None = None,
    ) -> Written:
        """READY again, not before `not_before`. `until`: see _update."""
        update = (
            Update()
            .set("status", READY)
            .set("not_before", round(not_before, 3))
            .set("expires_at", self.expires_at(not_before))
            .append("errors", [error.to_dict() for error in errors])
            .remove(*LEASE)
        )
        return self._update(task_id, self._owned(update, owner), also=also, until=until)

    def record_failure(
        self,
        item: TaskItem,
        *,
        now: datetime,
        errors: list[ErrorRecord],
        letter_copy: int | None,
        owner: str | None = None,
        expected: bool = False,
        also: Sequence[Also] = (),
        until: float | None = None,
    ) -> Written:
        """FAILED for good. `letter_copy` is the message copy whose body the dead letter
        will carry; None when the failure owes no letter (expected, or cancelled).

        With `owner`, only the attempt holding the lease may write (asking again until
        `until`: see _update); without, only while the item is still unfinished on the copy
        `item.copy` (an unrunnable message, a task out of attempts, a stranded task the
        reconciler found)."""
        all_errors = [*item.errors, *errors]
        update = self._finishing(now, errors)
        update.set("status", FAILED)
        for name, value in failed_index_attributes(
            item.id, item.queue, all_errors, expected=expected
        ).items():
            update.set(name, value)
        if letter_copy is not None:
            update.set("dead_letter", {"copy": letter_copy, "sent": False})
        if expected:
            update.set("expected_failure", True)
        if owner is not None:
            return self._update(item.id, self._owned(update, owner), also=also, until=until)
        update.when(
            "#copy = :copy AND #status IN (:ready, :running)",
            copy=item.copy,
            ready=READY,
            running=RUNNING,
        )
        return self._update(item.id, update, return_old=True)

    def mark_letter_sent(self, task_id: str, copy: int) -> bool:
        update = (
            Update()
            .set("dead_letter", {"copy": copy, "sent": True})
            .when("#status = :failed AND #dead_letter.#copy = :copy", failed=FAILED, copy=copy)
        )
        return self._update(task_id, update).done

    def note_waiting(self, task_id: str, *, copy: int, reason: str, until: float) -> None:
        """Say on the result that the task waits under a limit, and why (not an error)."""
        update = (
            Update()
            .set("waiting", {"reason": reason, "until": round(until, 3)})
            .when("#status = :ready AND #copy = :copy", ready=READY, copy=copy)
        )
        self._update(task_id, update)

    # -- message copies -----------------------------------------------------------------

    def begin_copy(self, task_id: str, *, from_copy: int) -> Written:
        """Name copy `from_copy + 1` the live one, while the task is unfinished, `from_copy`
        is live and no attempt holds a live lease (that attempt may be running copy
        `from_copy`, whose message its dead letter must come from): the intent, written
        before the fresh copy is sent."""
        update = (
            Update()
            .set("copy", from_copy + 1)
            .set("copy_sending", True)
            .when(
                "#copy = :copy AND (#status = :ready OR "
                "(#status = :running AND #lease_until < :now))",
                copy=from_copy,
                ready=READY,
                running=RUNNING,
                now=round(time.time(), 3),
            )
        )
        return self._update(task_id, update, return_old=True)

    def confirm_copy(self, task_id: str, copy: int) -> bool:
        """The fresh copy was sent: strays of older copies may now delete themselves."""
        update = Update().remove("copy_sending").when("#copy = :copy", copy=copy)
        return self._update(task_id, update).done

    # -- operators ----------------------------------------------------------------------

    def begin_redrive(self, item: TaskItem, *, now: datetime) -> bool:
        """READY again with a fresh allowance of attempts and a new copy (sent next), if
        the item is still the FAILED one that was read. History (errors, worker ids) stays."""
        update = (
            Update()
            .set("status", READY)
            .set("attempts", 0)
            .set("not_before", round(now.timestamp(), 3))
            .set("copy", item.copy + 1)
            .set("copy_sending", True)
            .set("redriven_from", item.dead_letter.copy if item.dead_letter else item.copy)
            .set("expires_at", self.expires_at())
            .remove("finished_at", "failed_key", "failure", "dead_letter", "expected_failure")
            .remove(*LEASE)
            .when("#status = :failed AND #copy = :copy", failed=FAILED, copy=item.copy)
        )
        return self._update(item.id, update).done

    def cancel(self, task_id: str, *, now: datetime, error: ErrorRecord) -> Written:
        """FAILED with the cancellation as its error, if it has not started. No dead
        letter: an operator chose this, nothing needs fixing."""
        item = self.get(task_id)
        if item is None or item.status != READY:
            return Written(False, item)
        update = self._finishing(now, [error]).set("status", FAILED)
        for name, value in failed_index_attributes(
            item.id, item.queue, [*item.errors, error], expected=True
        ).items():
            update.set(name, value)
        update.set("expected_failure", True)
        update.when("#status = :ready AND #copy = :copy", ready=READY, copy=item.copy)
        return self._update(task_id, update, return_old=True)

    # -- while running ------------------------------------------------------------------

    def report_progress(self, task_id: str, owner: str, progress: Progress) -> None:
        update = Update().set("progress", progress.as_dict())
        self._update(task_id, self._owned(update, owner))

    # -- helpers ------------------------------------------------------------------------

    def _finishing(self, now: datetime, errors: list[ErrorRecord]) -> Update:
        return (
            Update()
            .set("finished_at", now.isoformat())
            .set("expires_at", self.expires_at())
            .append("errors", [error.to_dict() for error in errors])
            .remove(*LEASE)
        )

    @staticmethod
    def _owned(update: Update, owner: str) -> Update:
        return update.when(
            "#status = :running AND #lease_owner = :owner", running=RUNNING, owner=owner
        )

    def _update(
        self,
        task_id: str,
        update: Update,
        *,
        return_old: bool = False,
        also: Sequence[Also] = (),
        until: float | None = None,
    ) -> Written:
        """Write `update` to the task's item (with `also`, in one transaction). Refused for a
        passing reason (refusals.py), it is asked again until `until` (time.time()), the
        same request each time; with None, once (botocore's own retries aside)."""
        if also:
            return self._transact(task_id, update, also, until)
        # A refused write always says why, free: the item as it was (ALL_OLD). A write
        # whose response was lost and that was asked again (by botocore, or until `until`)
        # is refused by its own first try, and only the item tells the caller so (runner.py).
        request = {
            "TableName": self.table_name,
            "Key": {"id": {"S": task_id}},
            **update.request(),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **({"ReturnValues": "ALL_OLD"} if return_old else {}),
        }
        try:
            response = refusals.keep_asking(lambda: self._db.update_item(**request), until)
        except ClientError as error:
            if refusals.error_code(error) != "ConditionalCheckFailedException":
                raise
            old = error.response.get("Item")
            return Written(False, TaskItem.from_dynamo(old) if old else None)
        old = response.get("Attributes")
        return Written(True, TaskItem.from_dynamo(old) if old else None)

    def _transact(
        self, task_id: str, update: Update, also: Sequence[Also], until: float | None
    ) -> Written:
        """The task's write and the others, all or none. Only the task's is conditional;
        when it fails, the item as it was comes back, as from a plain UpdateItem.

        A try that may have gone through (its answer lost, a server error, a transaction
        with this token still in progress) is asked again with the same ClientRequestToken:
        within ten minutes of the first that went through, DynamoDB answers it as it
        answered that one and writes nothing again (so the tries stop within TOKEN_WINDOW).
        A try cancelled (TransactionCanceledException) wrote nothing, and the next is a new
        request with a token of its own: what DynamoDB does with a token whose transaction
        was cancelled is not documented."""
        writes = [
            {
                "Update": {
                    "TableName": table,
                    "Key": {"id": {"S": key}},
                    **write.request(),
                    **(
                        {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
                        if table == self.table_name and key == task_id
                        else {}
                    ),
                }
            }
            for table, key, write in [
                (self.table_name, task_id, update),
                *((a.table, a.key, a.update) for a in also),
            ]
        ]
        token = str(uuid.uuid4())

        def send() -> dict:
            nonlocal token
            try:
                return self._db.transact_write_items(TransactItems=writes, ClientRequestToken=token)
            except ClientError as error:
                if refusals.error_code(error) == "TransactionCanceledException":
                    token = str(uuid.uuid4())
                raise

        if until is not None:
            until = min(until, time.time() + TOKEN_WINDOW)
        try:
            refusals.keep_asking(send, until)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or [{}]
            if (
                refusals.error_code(error) != "TransactionCanceledException"
                or reasons[0].get("Code") != "ConditionalCheckFailed"
            ):
                raise
            old = reasons[0].get("Item")
            return Written(False, TaskItem.from_dynamo(old) if old else None)
        return Written(True)
