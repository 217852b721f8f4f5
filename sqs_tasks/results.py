"""The results table: one DynamoDB item per task, the single truth about its status.

Every transition is a conditional write, so two deliveries of one message, or a worker
whose lease ran out, can never both record an outcome. Attribute names are the ones an
operator sees in the DynamoDB console; `by-status` (status, updated_at) lists failures.
"""

import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.tasks import TaskResultStatus

from sqs_tasks import aws
from sqs_tasks.dynamo import from_item, to_attribute, to_item

READY = TaskResultStatus.READY.value
RUNNING = TaskResultStatus.RUNNING.value
FAILED = TaskResultStatus.FAILED.value
SUCCESSFUL = TaskResultStatus.SUCCESSFUL.value
FINISHED = {FAILED, SUCCESSFUL}
STATUS_INDEX = "by-status"
_EXPIRED_AND_FINISHED = "expires_at < :now AND #status IN (:successful, :failed)"
BATCH_WRITE_SIZE = 25


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of trying to claim a task; `before` is the item as it was (or None)."""

    granted: bool
    before: dict[str, Any] | None

    @property
    def lease_lost(self) -> bool:
        """An earlier attempt claimed the task and never reported back."""
        return self.before is not None and self.before["status"] == RUNNING


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class ResultStore:
    def __init__(self, table_name: str, ttl_seconds: int) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def _expires_at(self, not_before: float = 0) -> int:
        """When DynamoDB may drop the item: the TTL counts from now, or from a later start,
        so a task deferred past the TTL still has its result when it runs."""
        return int(max(time.time(), not_before)) + self.ttl_seconds

    def new_item(self, values: dict[str, Any]) -> dict[str, Any]:
        """A READY item: the caller's fields plus the bookkeeping every item carries."""
        run_after = values.get("run_after")
        starts = datetime.fromisoformat(run_after).timestamp() if run_after else 0
        return {
            "status": READY,
            "attempts": 0,
            "worker_ids": [],
            "errors": [],
            "expires_at": self._expires_at(not_before=starts),
            **values,
        }

    def create(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """Write a new READY item; if one with that id exists, return it and write nothing."""
        db = self._db
        try:
            db.put_item(
                TableName=self.table_name,
                Item=to_item(self.new_item(values)),
                ConditionExpression="attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except db.exceptions.ConditionalCheckFailedException as error:
            return from_item(error.response.get("Item") or {}) or self.get(values["id"])
        return None

    def create_many(self, items: list[dict[str, Any]]) -> list[str]:
        """BatchWriteItem in 25s; returns the ids DynamoDB still refused after retries."""
        refused: list[str] = []
        for start in range(0, len(items), BATCH_WRITE_SIZE):
            requests = [
                {"PutRequest": {"Item": to_item(self.new_item(values))}}
                for values in items[start : start + BATCH_WRITE_SIZE]
            ]
            for delay in (0.05, 0.2, 0.8, None):
                unprocessed = self._db.batch_write_item(
                    RequestItems={self.table_name: requests}
                ).get("UnprocessedItems", {})
                requests = unprocessed.get(self.table_name, [])
                if not requests or delay is None:
                    break
                time.sleep(delay)
            refused += [request["PutRequest"]["Item"]["id"]["S"] for request in requests]
        return refused

    def get(self, task_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self.table_name, Key={"id": {"S": task_id}}, ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None

    def claim(
        self, task_id: str, *, worker_id: str, max_attempts: int, lease_until: float, now: datetime
    ) -> Claim:
        """Mark the task RUNNING for this worker, if it is READY, or RUNNING under a lease
        that ran out, and has attempts left."""
        db = self._db
        try:
            response = db.update_item(
                TableName=self.table_name,
                Key={"id": {"S": task_id}},
                UpdateExpression=(
                    "SET #status = :running, started_at = if_not_exists(started_at, :now), "
                    "last_attempted_at = :now, updated_at = :now, lease_owner = :worker, "
                    "lease_expires_at = :lease, worker_ids = list_append(worker_ids, :workers) "
                    "ADD attempts :one"
                ),
                ConditionExpression=(
                    "attribute_exists(id) AND attempts < :max AND (#status = :ready OR "
                    "(#status = :running AND lease_expires_at < :epoch))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        ":running": RUNNING,
                        ":ready": READY,
                        ":now": _iso(now),
                        ":worker": worker_id,
                        ":workers": [worker_id],
                        ":lease": int(lease_until) + 1,
                        ":epoch": int(now.timestamp()),
                        ":one": 1,
                        ":max": max_attempts,
                    }
                ),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except db.exceptions.ConditionalCheckFailedException as error:
            item = error.response.get("Item")
            return Claim(granted=False, before=from_item(item) if item else None)
        return Claim(granted=True, before=from_item(response["Attributes"]))

    def finish(
        self,
        task_id: str,
        *,
        status: str,
        now: datetime,
        errors: Sequence[dict[str, Any]] = (),
        fields: dict[str, Any] | None = None,
        remove: Sequence[str] = (),
        owner: str | None = None,
        expect: dict[str, Any] | None = None,
    ) -> bool:
        """Move the task to `status`, appending `errors` and setting `fields`.

        Who may write: with `owner`, only the worker holding the lease; with `expect`,
        only while those attributes still hold those values (cancel, redrive); else any
        task that has not finished (a lost worker, an unrunnable message).
        Returns False when that condition did not hold, and nothing was written.
        """
        fields = fields or {}
        values: dict[str, Any] = {
            ":status": status,
            ":now": _iso(now),
            ":errors": list(errors),
            ":expires": self._expires_at(),
            **{f":{name}": value for name, value in fields.items()},
        }
        assignments = [
            "#status = :status",
            "updated_at = :now",
            "expires_at = :expires",
            "errors = list_append(errors, :errors)",
            *(f"{name} = :{name}" for name in fields),
        ]
        if status in FINISHED:
            assignments.append("finished_at = :now")
        if owner is not None:
            condition = "#status = :running AND lease_owner = :owner"
            values |= {":running": RUNNING, ":owner": owner}
        elif expect:
            condition = " AND ".join(f"#{name} = :expected_{name}" for name in expect)
            values |= {f":expected_{name}": value for name, value in expect.items()}
        else:
            condition = "attribute_exists(id) AND NOT #status IN (:failed, :successful)"
            values |= {":failed": FAILED, ":successful": SUCCESSFUL}
        names = {"#status": "status", **{f"#{name}": name for name in expect or {}}}
        db = self._db
        try:
            db.update_item(
                TableName=self.table_name,
                Key={"id": {"S": task_id}},
                UpdateExpression=f"SET {', '.join(assignments)} "
                f"REMOVE {', '.join(['lease_owner', 'lease_expires_at', *remove])}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
        except db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def set_fields(self, task_id: str, fields: dict[str, Any]) -> None:
        """Set bookkeeping fields without a status change (e.g. a redrive's progress)."""
        self._db.update_item(
            TableName=self.table_name,
            Key={"id": {"S": task_id}},
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeNames={f"#{name}": name for name in fields},
            ExpressionAttributeValues=to_item({f":{k}": v for k, v in fields.items()}),
        )

    def by_status(
        self,
        status: str,
        *,
        since: str = "0",
        until: str = "9",
        queue: str = "",
        due_by: datetime | None = None,
        oldest_first: bool = False,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items with `status`, newest first (or oldest), through the `by-status` index.
        `since`/`until` bound `updated_at` (ISO strings sort as times do); `queue` keeps
        one queue's; `due_by` keeps those whose run_after (if any) has come by then."""
        filters, values = [], {":status": status, ":since": since, ":until": until}
        if queue:
            filters.append("queue_name = :queue")
            values[":queue"] = queue
        if due_by is not None:
            filters.append("(attribute_not_exists(run_after) OR run_after <= :due)")
            values[":due"] = _iso(due_by)
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=STATUS_INDEX,
            KeyConditionExpression="#status = :status AND updated_at BETWEEN :since AND :until",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(values),
            ScanIndexForward=oldest_first,
            **({"FilterExpression": " AND ".join(filters)} if filters else {}),
        )
        items = (from_item(item) for page in pages for item in page["Items"])
        yield from itertools.islice(items, limit)

    def expired_finished(self, now: datetime) -> Iterator[dict[str, Any]]:
        """Finished items whose `expires_at` has passed: what the table's TTL will drop,
        late (DynamoDB deletes within days) or never (moto). Unfinished ones are left:
        a task deferred or running past its expiry is still live."""
        pages = self._db.get_paginator("scan").paginate(
            TableName=self.table_name,
            FilterExpression=_EXPIRED_AND_FINISHED,
            **self._expired_values(now),
        )
        for page in pages:
            yield from map(from_item, page["Items"])

    def delete_if_expired(self, task_id: str, now: datetime) -> bool:
        """Delete the item if it is still expired and finished (it may have been written
        again since it was read); False when it was not deleted."""
        db = self._db
        try:
            db.delete_item(
                TableName=self.table_name,
                Key={"id": {"S": task_id}},
                ConditionExpression=_EXPIRED_AND_FINISHED,
                **self._expired_values(now),
            )
        except db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @staticmethod
    def _expired_values(now: datetime) -> dict[str, Any]:
        return {
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(
                {":now": int(now.timestamp()), ":successful": SUCCESSFUL, ":failed": FAILED}
            ),
        }

    def report_progress(self, task_id: str, progress: dict[str, Any]) -> None:
        self._db.update_item(
            TableName=self.table_name,
            Key={"id": {"S": task_id}},
            UpdateExpression="SET progress = :progress",
            ConditionExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":progress": to_attribute(progress),
                ":running": to_attribute(RUNNING),
            },
        )
