"""AWS requests per task, ours: the whole life of no-op tasks against in-process moto.

Tasks go through in chunks of a hundred (enqueued, then run), enqueued two ways: in bulk
(`enqueue_many`: one outbox INSERT, conditional INSERTs 25 a request (BatchExecuteStatement),
SendMessageBatch in tens, one DELETE) or one task per `enqueue()` outside a transaction, as a
web request does (an INSERT and a DELETE in autocommit, a PutItem and a one-entry
SendMessageBatch each). Then processing in batches of ten through `functions.worker.handler`
with the event source mapping's own requests (ReceiveMessage, DeleteMessageBatch) counted
as the mapping would make them, and every result read back once (`get_result`: one
strongly consistent GetItem). Process-wide lookups (queue URLs, the dead-letter queue)
are counted too: a cold Lambda container makes them once. Write units, index writes and
item sizes are read from the items themselves (bench.items).
"""

from functools import partial

import boto3

from bench import inprocess, template_facts
from bench.counting import (
    RequestCounter,
    StatementCounter,
    counting,
    counting_statements,
    timed_invocation,
)
from bench.items import ItemWatch, WriteCost
from bench.pricing import Usage
from bench.tasks import noop
from sqs_tasks import aws, queues
from sqs_tasks.testing import delete_done

WORKER_MEMORY_MB = template_facts.function_memory("WorkerFunctiondefault")
# Tasks enqueued and run at a time: a steady stream rather than one deep queue. moto looks
# at every message of a queue for each message it returns, so a queue of thousands makes a
# run quadratic in time (not in requests: the counts are the same).
CHUNK = 100
PATHS = {
    "bulk": "`enqueue_many` (one outbox INSERT and DELETE, the items by conditional PartiQL "
    "INSERTs 25 a request (BatchExecuteStatement), SendMessageBatch in tens)",
    "single": "one `enqueue()` per task outside a transaction, as a view does (each: an "
    "outbox INSERT, a conditional PutItem, a one-entry SendMessageBatch, a DELETE)",
}


def measure(tasks: int, path: str = "bulk") -> tuple[Usage, RequestCounter]:
    enqueue = _enqueue_bulk if path == "bulk" else _enqueue_one_by_one
    usage = Usage(f"ours ({path})", tasks, lambda_memory_mb=WORKER_MEMORY_MB)
    with inprocess.mocked_aws() as urls:
        queue_url = urls["default"]
        arn = inprocess.arn_of(queue_url)
        aws.reset_clients()  # fresh clients, so the counter sees them
        queues.clear_caches()
        watch = tasks_table_watch()
        ids: list[str] = []
        with counting(watchers=[watch]) as counter:
            counter.database["enqueue"] = enqueue_statements = StatementCounter()
            for start in range(0, tasks, CHUNK):
                with counter.during("enqueue"), counting_statements() as statements:
                    ids += enqueue(min(CHUNK, tasks - start))
                enqueue_statements.add(statements)
                process(counter, queue_url, arn, usage, expect=len(ids) - start)
            process(counter, queue_url, arn, usage)  # the poll that finds the queue empty
            with counter.during("read results"):
                statuses = {noop.get_result(task_id).status for task_id in ids}
        if statuses != {"SUCCESSFUL"}:
            raise RuntimeError(f"not every task succeeded: {statuses}")
    record_writes(usage, watch.cost)
    usage.sqs_requests = counter.sqs_chunks
    usage.dynamodb_writes = counter.dynamodb_writes
    usage.dynamodb_reads = counter.dynamodb_reads
    return usage, counter


def tasks_table_watch() -> ItemWatch:
    """A watch on the tasks table, with the indexes template.yaml gives it; its reader is
    made here, before counting starts, so its reads are not counted."""
    reader = boto3.session.Session(region_name=inprocess.REGION).client("dynamodb")
    table = noop.get_backend().results.table_name
    return ItemWatch(reader, table, "id", template_facts.tasks_table_indexes())


def record_writes(usage: Usage, cost: WriteCost) -> None:
    usage.write_units = cost.units
    usage.dynamodb_index_writes = sum(cost.index_writes.values())
    usage.index_write_units = sum(cost.index_units.values())
    usage.item_bytes = cost.largest
    usage.largest_by_status = dict(cost.largest_by_status)


def _enqueue_bulk(count: int) -> list[str]:
    return inprocess.enqueue(count)


def _enqueue_one_by_one(count: int) -> list[str]:
    return [noop.enqueue().id for _ in range(count)]


def process(
    counter: RequestCounter, queue_url: str, arn: str, usage: Usage, expect: int | None = None
) -> None:
    """Poll, invoke, delete, as the event source mapping does, until `expect` messages
    were handled, or, without it, until a poll finds the queue empty."""
    handled = 0
    while expect is None or handled < expect:
        with counter.during("event source mapping (Lambda's poller)"):
            messages = inprocess.receive(queue_url)
        if not messages:
            return
        handled += len(messages)
        with counter.during("worker (functions.worker.handler)"):
            answer = timed_invocation(
                counter, usage.add_invocation, partial(inprocess.invoke, messages, arn)
            )
        with counter.during("event source mapping (Lambda's poller)"):
            delete_done(queue_url, messages, answer)
