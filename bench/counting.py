"""Counting AWS requests by service and operation.

In-process, with botocore's event hooks: every client emits
`before-parameter-build.<service>.<Op>` once per API call, with the call's own parameters
(`before-call` carries the serialized request instead, and moto answers from `before-send`
so that event never reaches a later handler). The counter registers on each client created
while it is active (ours come from `sqs_tasks.aws.client()`, Zappa's from boto3 at its
import), so nothing in the code under test changes. The hook fires once per call, before
any retry: against moto there are none, so calls and billed requests coincide.

Out of process (Celery's worker sends some requests through pycurl, not botocore), the
moto server counts what it receives: see bench.counting_server. Both feed `record()`.
"""

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import botocore.session

from stack.emulator_dynamodb import inserted_item

Operation = tuple[str, str]  # (service, operation), e.g. ("sqs", "SendMessageBatch")

# Time spent by the benchmark's own hooks (bench.items reads items back): per thread, so a
# call's timing can leave it out, and in all, so an invocation's can.
_hooks = threading.local()
_hooks_lock = threading.Lock()
_hooks_total = [0.0]

SQS_CHUNK = 64 * 1024  # SQS bills each 64 KB of a request's payload as one request
_SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def inserted_keys(params: dict[str, Any], table: str, key: str) -> list[str] | None:
    """The keys of the items a BatchExecuteStatement of INSERTs into `table` writes, in
    order; None if it is anything else."""
    inserted = [inserted_item(statement) for statement in params.get("Statements", [])]
    if not inserted or not all(each and each[0] == table for each in inserted):
        return None
    return [each[1][key]["S"] for each in inserted if each]


def statement_outcomes(
    operation: str, status_code: int, parsed: dict[str, Any], count: int
) -> list[str]:
    """For each item a write request named: "written", "refused" (a conditional write
    whose condition failed: billed all the same) or "" (not carried out)."""
    if operation == "BatchExecuteStatement":
        if status_code != 200:
            return [""] * count
        codes = [answer.get("Error", {}).get("Code") for answer in parsed["Responses"]]
        return [
            "written" if code is None else "refused" if code == "DuplicateItem" else ""
            for code in codes
        ]
    if status_code == 200:
        return ["written"]
    refused = parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    return ["refused" if refused else ""]


class RequestCounter:
    """Calls per (service, operation), split into the phases the caller names, plus what
    the bill is computed from: SQS payload chunks, DynamoDB items written and read."""

    def __init__(self, *, keep_params: bool = False) -> None:
        self.phase = "other"
        self.active = True
        # (service, operation, params) of each call, when asked: to replay them verbatim
        self.log: list[tuple[str, str, dict[str, Any]]] | None = [] if keep_params else None
        self.by_phase: dict[str, Counter[Operation]] = {}
        self.sqs_chunks = 0  # billed SQS requests: one per 64 KB of payload, at least one
        self.dynamodb_writes = 0  # items written (a BatchWriteItem writes several)
        self.dynamodb_puts = 0  # of which new items (PutItem, BatchWriteItem puts)
        self.dynamodb_reads = 0.0  # items read, eventually consistent ones as half
        # Seconds spent inside API calls (client work plus moto's answer), for the callers
        # that replace moto's in-process answer with a real round trip.
        self.seconds_in_calls = 0.0
        self._started = threading.local()
        self._timing = threading.Lock()
        self.watchers: list[Any] = []  # more watches for every client counted (bench.items)
        self.database: dict[str, StatementCounter] = {}  # phase -> statements, where counted

    def watch(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build.*.*", self._on_call)
        client.meta.events.register("after-call.*.*", self._on_answer)
        for watcher in self.watchers:
            watcher.watch(client)
        return client

    def _on_call(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self._started.at = (time.perf_counter(), hook_seconds_here())
        self.record(service, operation, params)

    def _on_answer(self, **_: Any) -> None:
        started = getattr(self._started, "at", None)
        if started is not None and self.active:
            at, hooks = started
            spent = time.perf_counter() - at - (hook_seconds_here() - hooks)
            with self._timing:
                self.seconds_in_calls += spent
        self._started.at = None

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if not self.active:
            return
        self.by_phase.setdefault(self.phase, Counter())[(service, operation)] += 1
        if self.log is not None:
            self.log.append((service, operation, copy.deepcopy(params)))
        if service == "sqs":
            self.sqs_chunks += max(1, -(-_payload_bytes(params) // SQS_CHUNK))
        elif service == "dynamodb":
            self._record_dynamodb(operation, params)

    def _record_dynamodb(self, operation: str, params: dict[str, Any]) -> None:
        if operation in _SINGLE_WRITES:
            self.dynamodb_writes += 1
            self.dynamodb_puts += operation == "PutItem"
        elif operation == "BatchExecuteStatement":  # the outbox's INSERTs, one item each
            self.dynamodb_writes += len(params["Statements"])
            self.dynamodb_puts += len(params["Statements"])
        elif operation == "BatchWriteItem":
            requests = [r for rs in params.get("RequestItems", {}).values() for r in rs]
            self.dynamodb_writes += len(requests)
            self.dynamodb_puts += sum("PutRequest" in r for r in requests)
        elif operation == "GetItem":
            self.dynamodb_reads += 1 if params.get("ConsistentRead") else 0.5
        elif operation == "BatchGetItem":
            for request in params.get("RequestItems", {}).values():
                self.dynamodb_reads += len(request["Keys"]) * (
                    1 if request.get("ConsistentRead") else 0.5
                )

    @contextmanager
    def during(self, phase: str) -> Iterator[None]:
        """Attribute the calls made inside the block to `phase`."""
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous

    @property
    def total(self) -> Counter[Operation]:
        return sum(self.by_phase.values(), Counter())

    @property
    def calls(self) -> int:
        """Every call counted so far, whatever its phase."""
        return sum(sum(counts.values()) for counts in self.by_phase.values())


def _payload_bytes(params: dict[str, Any]) -> int:
    """What SQS counts toward a request's size: bodies and message attributes."""
    entries = params.get("Entries") or [params]
    size = 0
    for entry in entries:
        size += len(str(entry.get("MessageBody", "")).encode())
        for name, value in (entry.get("MessageAttributes") or {}).items():
            size += len(name) + len(value.get("DataType", ""))
            size += len(str(value.get("StringValue") or value.get("BinaryValue") or ""))
    return size


@contextmanager
def counting(
    *existing_clients: Any, keep_params: bool = False, watchers: Sequence[Any] = ()
) -> Iterator[RequestCounter]:
    """Count the calls of every botocore client created inside the block, and of the
    clients passed in (created earlier, e.g. at a module's import). `watchers` (objects
    with a `watch(client)` method, e.g. bench.items.ItemWatch) see the same clients."""
    counter = RequestCounter(keep_params=keep_params)
    counter.watchers.extend(watchers)
    for client in existing_clients:
        counter.watch(client)
    original = botocore.session.Session.create_client

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        return counter.watch(original(self, *args, **kwargs))

    botocore.session.Session.create_client = create_client
    try:
        yield counter
    finally:
        botocore.session.Session.create_client = original
        counter.active = False


@contextmanager
def hook_time() -> Iterator[None]:
    """Time spent in a benchmark's own hook: left out of calls' and invocations' times."""
    started = time.perf_counter()
    try:
        yield
    finally:
        spent = time.perf_counter() - started
        _hooks.seconds = hook_seconds_here() + spent
        with _hooks_lock:
            _hooks_total[0] += spent


def hook_seconds_here() -> float:
    return getattr(_hooks, "seconds", 0.0)


def hook_seconds() -> float:
    with _hooks_lock:
        return _hooks_total[0]


def timed_invocation[T](
    counter: RequestCounter, record: Callable[[float, int, float], None], invoke: Callable[[], T]
) -> T:
    """Run one function invocation; `record` gets its seconds, the calls it made and the
    seconds spent inside them (what pricing.Usage.add_invocation takes)."""
    calls, inside, hooks = counter.calls, counter.seconds_in_calls, hook_seconds()
    started = time.perf_counter()
    answer = invoke()
    elapsed = time.perf_counter() - started - (hook_seconds() - hooks)
    record(elapsed, counter.calls - calls, counter.seconds_in_calls - inside)
    return answer


_TRANSACTION_CONTROL = {"BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK"}


class StatementCounter:
    """Database statements by kind (INSERT, SELECT, ...) and commits, on one connection."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.commits = 0
        self.seconds: Counter[str] = Counter()  # by kind, and "COMMIT": time in the driver

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        kind = sql.lstrip().split(None, 1)[0].upper()
        self.kinds[kind] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[kind] += time.perf_counter() - started

    def add(self, other: "StatementCounter") -> None:
        self.kinds.update(other.kinds)
        self.commits += other.commits
        self.seconds.update(other.seconds)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def statements(self) -> int:
        """Statements that do work (transaction control is counted as commits)."""
        return sum(n for kind, n in self.kinds.items() if kind not in _TRANSACTION_CONTROL)


@contextmanager
def counting_statements(alias: str = "default") -> Iterator[StatementCounter]:
    """Count what the code inside the block sends to the database `alias` (Django's
    execute_wrapper), and its commits (what a transaction's COMMIT costs on a server)."""
    from django.db import connections

    counter = StatementCounter()
    connection = connections[alias]
    original = connection.commit

    def commit() -> None:
        counter.commits += 1
        started = time.perf_counter()
        try:
            original()
        finally:
            counter.seconds["COMMIT"] += time.perf_counter() - started

    connection.commit = commit
    try:
        with connection.execute_wrapper(counter):
            yield counter
    finally:
        del connection.commit
