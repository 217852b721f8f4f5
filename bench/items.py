"""DynamoDB writes as DynamoDB bills them, read from the items themselves.

A counter of requests cannot say what a write costs: that depends on the item's size
before and after it, and on whether the write moved the item in or out of a secondary
index, or changed what the index projects. So this watch reads every item the code under
test writes back, right after the write (with a client of its own, which nothing
counts), and applies DynamoDB's rules to the two states:

- a write costs one write unit per 1 KB of the larger of the item before and after it
  (PutItem, UpdateItem, DeleteItem and each INSERT of a BatchExecuteStatement alike); a
  conditional write that is refused (an INSERT's DuplicateItem too) still costs the
  units of the item it was checked against (at least one);
- a global secondary index is written when the item gains its key (a put), loses it (a
  delete), changes it (both), or keeps it while a projected attribute changes (a put):
  each costs one write unit per 1 KB of the index entry (its keys, the table's key and
  the projected attributes). An item without the index key costs the index nothing.

(docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html and
GSI.ThroughputConsiderations.html.) So index writes are counted from what happens, not
assumed: a task that succeeds writes none, a task that fails for good writes one.
"""

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.counting import hook_time, inserted_keys, statement_outcomes
from bench.pricing import WRU_BYTES, item_bytes

Item = dict[str, dict[str, Any]]
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchExecuteStatement")


@dataclass(frozen=True)
class IndexShape:
    """A global secondary index: its key attributes and the attributes it projects."""

    name: str
    keys: tuple[str, ...]
    projected: tuple[str, ...]  # beyond the keys and the table's key


@dataclass
class WriteCost:
    """What the watched writes cost."""

    writes: int = 0
    refused: int = 0  # conditional writes whose condition failed (billed all the same)
    table_units: int = 0
    index_writes: Counter[str] = field(default_factory=Counter)  # index -> entries written
    index_units: Counter[str] = field(default_factory=Counter)
    largest: int = 0  # bytes, the largest item seen after any write
    largest_by_status: dict[str, int] = field(default_factory=dict)
    largest_index_entry: int = 0

    @property
    def units(self) -> int:
        return self.table_units + sum(self.index_units.values())


def units(size: int) -> int:
    """Write units for a write of `size` bytes: one per KB, at least one."""
    return max(1, math.ceil(size / WRU_BYTES))


class ItemWatch:
    """Watch the writes to one table (whose key is `key`) from the clients it is given."""

    def __init__(self, reader: Any, table: str, key: str, indexes: tuple[IndexShape, ...]):
        self.reader = reader  # a client of its own: its reads are not the code's
        self.table = table
        self.key = key
        self.indexes = indexes
        self.cost = WriteCost()
        self._items: dict[str, Item | None] = {}
        self._lock = threading.Lock()

    def watch(self, client: Any) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            events = client.meta.events
            for operation in _WRITES:
                events.register(f"before-parameter-build.dynamodb.{operation}", self._before)
                events.register(f"after-call.dynamodb.{operation}", self._after)
        return client

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with hook_time():
            self._note(params, context)

    def _after(
        self,
        event_name: str,
        http_response: Any,
        parsed: dict[str, Any],
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        with hook_time():
            operation = event_name.rsplit(".", 1)[1]
            self._count(operation, http_response.status_code, parsed, context)

    def _note(self, params: dict[str, Any], context: dict[str, Any]) -> None:
        keys = inserted_keys(params, self.table, self.key)  # a batch's INSERTs
        if keys is None and params.get("TableName") == self.table:
            key = (params.get("Key") or params.get("Item") or {}).get(self.key, {}).get("S")
            keys = [key] if key is not None else None
        if keys is None:
            return
        context["bench_item_keys"] = keys
        for key in keys:
            with self._lock:
                known = key in self._items
            if not known:  # an item written before the watch began: its state now
                self._remember(key, self._read(key))

    def _count(
        self, operation: str, status_code: int, parsed: dict[str, Any], context: dict[str, Any]
    ) -> None:
        keys = context.get("bench_item_keys")
        if keys is None:
            return
        outcomes = statement_outcomes(operation, status_code, parsed, len(keys))
        for key, outcome in zip(keys, outcomes, strict=True):
            if outcome:
                self._count_one(key, outcome)

    def _count_one(self, key: str, outcome: str) -> None:
        with self._lock:
            before = self._items.get(key)
        if outcome == "refused":
            with self._lock:
                self.cost.refused += 1
                self.cost.table_units += units(item_bytes(before or {}))
            return
        after = self._read(key)
        with self._lock:
            cost = self.cost
            cost.writes += 1
            cost.table_units += units(max(item_bytes(before or {}), item_bytes(after or {})))
            for index in self.indexes:
                for entry in _index_writes(index, before, after, self.key):
                    size = item_bytes(entry)
                    cost.index_writes[index.name] += 1
                    cost.index_units[index.name] += units(size)
                    cost.largest_index_entry = max(cost.largest_index_entry, size)
            if after is not None:
                size = item_bytes(after)
                cost.largest = max(cost.largest, size)
                status = after.get("status", {}).get("S", "?")
                cost.largest_by_status[status] = max(cost.largest_by_status.get(status, 0), size)
        self._remember(key, after)

    def _read(self, key: str) -> Item | None:
        response = self.reader.get_item(
            TableName=self.table, Key={self.key: {"S": key}}, ConsistentRead=True
        )
        return response.get("Item")

    def _remember(self, key: str, item: Item | None) -> None:
        with self._lock:
            self._items[key] = item


def _index_writes(
    index: IndexShape, before: Item | None, after: Item | None, table_key: str
) -> list[Item]:
    """The index entries a write puts or deletes, each as the entry it writes or removes."""
    old, new = _entry(index, before, table_key), _entry(index, after, table_key)
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [old or new]  # type: ignore[list-item]
    if any(old.get(k) != new.get(k) for k in index.keys):
        return [old, new]  # the key moved: the old entry is deleted, the new one put
    return [new] if old != new else []


def _entry(index: IndexShape, item: Item | None, table_key: str) -> Item | None:
    if item is None or not all(k in item for k in index.keys):
        return None
    names = (*index.keys, table_key, *index.projected)
    return {name: item[name] for name in names if name in item}
