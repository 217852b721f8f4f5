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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session

Operation = tuple[str, str]  # (service, operation), e.g. ("sqs", "SendMessageBatch")

SQS_CHUNK = 64 * 1024  # SQS bills each 64 KB of a request's payload as one request
_SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


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

    def watch(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build.*.*", self._on_call)
        return client

    def _on_call(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.record(service, operation, params)

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
def counting(*existing_clients: Any, keep_params: bool = False) -> Iterator[RequestCounter]:
    """Count the calls of every botocore client created inside the block, and of the
    clients passed in (created earlier, e.g. at a module's import)."""
    counter = RequestCounter(keep_params=keep_params)
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
