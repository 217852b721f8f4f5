"""A workflow's own items, in the results table beside its steps' items.

    wf:<workflow id>                  the plan (or where it is in S3), when it finished,
                                      and where its value is
    wf:<workflow id>:<path>           a group or map: the join's shards that are complete,
                                      a map's size once known, and, once complete, its value
    wf:<workflow id>:<path>:s<n>      one shard of a join: which members have finished

A join counts its members in shards of SHARD_SIZE: a member's finish adds its index to its
shard's set (one small write, the same however often it is repeated), the member that
fills a shard adds the shard to its node's set, and the member that fills that set
completes the join. Sets make every step of it idempotent; shards keep every item small.
"""

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from sqs_tasks import aws
from sqs_tasks.dynamo import Update, from_item, to_item
from sqs_tasks.item import StoredJSON, stored_json_attributes, stored_json_from
from sqs_tasks.results import ResultStore
from sqs_tasks.workflows.plan import SHARD_SIZE

PREFIX = "wf:"


def workflow_key(workflow_id: str) -> str:
    return f"{PREFIX}{workflow_id}"


@dataclass(frozen=True, slots=True)
class ValueSource:
    """Where a node's value is: a step's result item, or a join's record."""

    task_id: str | None = None
    node_path: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {"task": self.task_id} if self.task_id else {"node": self.node_path or ""}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ValueSource":
        return cls(task_id=data.get("task"), node_path=data.get("node"))


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    id: str
    plan: StoredJSON
    created_at: datetime
    finished_at: datetime | None = None
    result: ValueSource | None = None


class WorkflowRecords:
    def __init__(self, results: ResultStore) -> None:
        self.results = results

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    # -- the workflow -------------------------------------------------------------------

    def create(self, workflow_id: str, plan: StoredJSON, created_at: datetime) -> None:
        """The workflow's record, if it does not exist yet (a relay may send it twice)."""
        item = {
            "id": workflow_key(workflow_id),
            "kind": "workflow",
            "created_at": created_at.isoformat(),
            "expires_at": self.results.expires_at(),
            **stored_json_attributes("plan", plan),
        }
        db = self._db
        with contextlib.suppress(db.exceptions.ConditionalCheckFailedException):
            db.put_item(
                TableName=self.results.table_name,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(id)",
            )

    def get(self, workflow_id: str) -> WorkflowRecord | None:
        data = self._get(workflow_key(workflow_id))
        if data is None or data.get("kind") != "workflow":
            return None
        return WorkflowRecord(
            id=workflow_id,
            plan=stored_json_from(data, "plan") or StoredJSON(text="{}"),
            created_at=datetime.fromisoformat(data["created_at"]),
            finished_at=(
                datetime.fromisoformat(data["finished_at"]) if data.get("finished_at") else None
            ),
            result=ValueSource.from_dict(data["result"]) if data.get("result") else None,
        )

    def finish(self, workflow_id: str, result: ValueSource) -> None:
        """The last node completed: the workflow succeeded, its value is `result`."""
        update = (
            Update()
            .set_expression(
                "finished_at", "if_not_exists(#finished_at, :now)", now=timezone.now().isoformat()
            )
            .set("result", result.as_dict())
            .set("expires_at", self.results.expires_at())
            .when("attribute_exists(#id)")
        )
        self._update(workflow_key(workflow_id), update)

    # -- joins --------------------------------------------------------------------------

    def set_size(self, workflow_id: str, path: str, size: int) -> None:
        """A map's number of calls, once its list is known (always the same list)."""
        update = Update().set("size", size).set("expires_at", self.results.expires_at())
        self._update(_node_key(workflow_id, path), update)

    def size(self, workflow_id: str, path: str) -> int | None:
        data = self._get(_node_key(workflow_id, path))
        return int(data["size"]) if data and "size" in data else None

    def member_finished(self, workflow_id: str, path: str, index: int, total: int) -> bool:
        """Record that member `index` of the join at `path` (of `total` members) finished;
        True when that completes the join (also on a repeat, once it is complete)."""
        shard, shards = index // SHARD_SIZE, -(-total // SHARD_SIZE)
        in_shard = min(SHARD_SIZE, total - shard * SHARD_SIZE)
        done = self._add(f"{_node_key(workflow_id, path)}:s{shard}", "done", index)
        if len(done) < in_shard:
            return False
        return len(self._add(_node_key(workflow_id, path), "shards_done", shard)) == shards

    def store_value(self, workflow_id: str, path: str, value: StoredJSON) -> None:
        update = Update().set("expires_at", self.results.expires_at())
        for name, attribute in stored_json_attributes("value", value).items():
            update.set(name, attribute)
        self._update(_node_key(workflow_id, path), update)

    def value(self, workflow_id: str, path: str) -> StoredJSON | None:
        data = self._get(_node_key(workflow_id, path))
        return stored_json_from(data, "value") if data else None

    # -- helpers ------------------------------------------------------------------------

    def _add(self, key: str, attribute: str, number: int) -> set[int]:
        response = self._db.update_item(
            TableName=self.results.table_name,
            Key={"id": {"S": key}},
            UpdateExpression="ADD #set :number SET expires_at = :expires",
            ExpressionAttributeNames={"#set": attribute},
            ExpressionAttributeValues={
                ":number": {"NS": [str(number)]},
                ":expires": {"N": str(self.results.expires_at())},
            },
            ReturnValues="ALL_NEW",  # the whole (small) item: UPDATED_NEW may omit a set unchanged
        )
        return {int(n) for n in response["Attributes"][attribute]["NS"]}

    def _get(self, key: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self.results.table_name, Key={"id": {"S": key}}, ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None

    def _update(self, key: str, update: Update) -> None:
        self._db.update_item(
            TableName=self.results.table_name, Key={"id": {"S": key}}, **update.request()
        )


def _node_key(workflow_id: str, path: str) -> str:
    return f"{PREFIX}{workflow_id}:{path}"
