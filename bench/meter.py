"""What a bill depends on beyond the count of requests, measured request by request: the
DynamoDB units each read and write costs, and the time a Lambda invocation spends outside
its AWS calls. Used by bench.workflows, whose items are not all alike (see there).

Units. A write costs one unit per KB of the larger of its item before and after it (at
least one; a conditional write that is refused costs the units of the item it was checked
against), a strongly consistent read one per 4 KB of the item (at least one, found or
not), an eventually consistent read half that (docs.aws.amazon.com/amazondynamodb/latest/
developerguide/read-write-operations.html). Sizes are read back after each write with a
client of its own, which nothing counts. Secondary indexes are not counted here: the
caller checks that no item is in one.

Time. moto answers in-process, in a time that says nothing about AWS (milliseconds, more
on a loaded machine). So an invocation is billed as the CPU time of the thread that runs
it, less the time inside its AWS calls and in these hooks, plus pricing.ASSUMED_ROUND_TRIP
per call; calls made on other threads (outbox.deliver's parallel requests) overlap, and
are billed as a round trip per WRITE_THREADS of them (rounded up: a few in parallel take
one round trip).
"""

import math
import threading
import time
from collections import Counter
from typing import Any

from bench.counting import RequestCounter, inserted_keys, statement_outcomes
from bench.pricing import ASSUMED_ROUND_TRIP, RRU_BYTES, WRU_BYTES, item_bytes
from sqs_tasks.outbox import WRITE_THREADS

_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


class Meter:
    """Attach with `install(counter)` right after bench.counting.counting() starts: every
    client the counter watches is metered too."""

    def __init__(self, reader: Any, table: str) -> None:
        self.reader = reader  # a DynamoDB client made before counting began
        self.table = table
        self.write_units = 0
        self.read_units = 0.0
        self.unpriced: Counter[str] = Counter()  # DynamoDB requests this meter cannot price
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._main = threading.get_ident()
        self._cpu_mark = 0.0
        self._excluded = 0.0  # CPU of the main thread inside calls and hooks since the mark
        self._calls: Counter[bool] = Counter()  # since the mark, by "on the main thread"
        self._counter: RequestCounter | None = None  # metering while it counts

    def install(self, counter: RequestCounter) -> None:
        self._counter = counter
        watch = counter.watch

        def watch_and_meter(client: Any) -> Any:
            return self.watch(watch(client))

        counter.watch = watch_and_meter  # type: ignore[method-assign]

    def watch(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build.*.*", self._before)
        client.meta.events.register("after-call.*.*", self._after)
        return client

    # -- Lambda time ----------------------------------------------------------------------

    def mark(self) -> None:
        """An invocation (or the work before the first) ends here."""
        self._cpu_mark = time.thread_time()
        with self._lock:
            self._excluded = 0.0
            self._calls.clear()

    def invocation_seconds(self) -> float:
        """Billed seconds since the mark: the main thread's own CPU time, and a round trip
        per call (per WRITE_THREADS calls on other threads). Marks again."""
        own = time.thread_time() - self._cpu_mark - self._excluded
        trips = self._calls[True] + math.ceil(self._calls[False] / WRITE_THREADS)
        self.mark()
        return max(0.0, own) + trips * ASSUMED_ROUND_TRIP

    # -- hooks ----------------------------------------------------------------------------

    def _before(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        self._local.writes = None
        if self._counter is None or not self._counter.active:
            return
        started = time.thread_time()
        _, service, operation = event_name.split(".", 2)
        if service == "dynamodb" and params.get("TableName", self.table) == self.table:
            # (BatchGetItem names its tables inside: _price checks them.)
            self._price(operation, params)
        self._exclude(time.thread_time() - started)
        self._local.call_started = time.thread_time()

    def _after(self, event_name: str, http_response: Any, parsed: Any, **_: Any) -> None:
        if self._counter is None or not self._counter.active:
            return
        finished = time.thread_time()
        self._exclude(finished - getattr(self._local, "call_started", finished))
        with self._lock:
            self._calls[threading.get_ident() == self._main] += 1
        writes = self._local.writes
        if writes is not None:
            operation = event_name.split(".", 2)[2]
            outcomes = statement_outcomes(operation, http_response.status_code, parsed, len(writes))
            for (key, before), outcome in zip(writes, outcomes, strict=True):
                if outcome == "written":
                    after = self._read(key)
                    with self._lock:
                        self.write_units += units(max(before, after), WRU_BYTES)
                        self._sizes[key] = after
                elif outcome == "refused":
                    with self._lock:
                        self.write_units += units(before, WRU_BYTES)
        self._exclude(time.thread_time() - finished)

    def _price(self, operation: str, params: dict[str, Any]) -> None:
        inserted = inserted_keys(params, self.table, "id")
        if operation in _WRITES:
            key = _key(params.get("Key") or params["Item"])
            self._local.writes = [(key, self._size(key))]
        elif operation == "BatchExecuteStatement" and inserted is not None:
            self._local.writes = [(key, self._size(key)) for key in inserted]
        elif operation == "GetItem":
            self._add_read(params, [params["Key"]])
        elif operation == "BatchGetItem" and set(params["RequestItems"]) == {self.table}:
            request = params["RequestItems"][self.table]
            self._add_read(request, request["Keys"])
        else:
            with self._lock:
                self.unpriced[operation] += 1

    def _add_read(self, request: dict[str, Any], keys: list[dict[str, Any]]) -> None:
        share = 1.0 if request.get("ConsistentRead") else 0.5
        read = share * sum(units(self._size(_key(key)), RRU_BYTES) for key in keys)
        with self._lock:
            self.read_units += read

    def _exclude(self, seconds: float) -> None:
        if threading.get_ident() == self._main:
            with self._lock:
                self._excluded += seconds

    def _size(self, key: str) -> int:
        with self._lock:
            known = self._sizes.get(key)
        if known is None:
            known = self._read(key)
            with self._lock:
                self._sizes[key] = known
        return known

    def _read(self, key: str) -> int:
        response = self.reader.get_item(
            TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True
        )
        return item_bytes(response["Item"]) if "Item" in response else 0


def units(size: int, unit_bytes: int) -> int:
    """Units of a request touching an item of `size` bytes: one per `unit_bytes`, at least
    one."""
    return max(1, math.ceil(size / unit_bytes))


def _key(item: dict[str, Any]) -> str:
    return item["id"]["S"]
