"""AWS requests per task, ours: the whole life of no-op tasks against in-process moto.

Bulk enqueue (`enqueue_many`: BatchWriteItem + SendMessageBatch), processing in batches
of ten through `functions.worker.handler` with the event source mapping's own requests
(ReceiveMessage, DeleteMessageBatch) counted as the mapping would make them, and every
result read back once (`get_result`: one GetItem). Process-wide lookups (queue URLs,
the dead-letter queue) are counted too: a cold Lambda container makes them once.
"""

import time

from bench import inprocess
from bench.counting import RequestCounter, counting
from bench.pricing import Usage, item_bytes
from bench.tasks import noop
from sqs_tasks import aws, queues
from sqs_tasks.testing import delete_done

# Ours: the table's one index, `failed`, is sparse: only a FAILED item carries its key
# (failed_key), so a task that succeeds writes no index entry at all (docs: "Take advantage
# of sparse indexes").
INDEX_WRITES_PER_SUCCESS = 0
WORKER_MEMORY_MB = 512  # template.yaml: Globals MemorySize (WorkerDefaultFunction)


def measure(tasks: int) -> tuple[Usage, RequestCounter]:
    usage = Usage("ours (SQS + Lambda worker + DynamoDB)", tasks, lambda_memory_mb=WORKER_MEMORY_MB)
    with inprocess.mocked_aws() as urls:
        queue_url = urls["default"]
        arn = inprocess.arn_of(queue_url)
        aws.reset_clients()  # fresh clients, so the counter sees them
        queues.clear_caches()
        with counting() as counter:
            with counter.during("enqueue"):
                ids = inprocess.enqueue(tasks)
            _process(counter, queue_url, arn, usage)
            with counter.during("read results"):
                statuses = {noop.get_result(task_id).status for task_id in ids}
        if statuses != {"SUCCESSFUL"}:
            raise RuntimeError(f"not every task succeeded: {statuses}")
        table = aws.client("dynamodb").scan(TableName=noop.get_backend().results.table_name)
        usage.item_bytes = max(item_bytes(item) for item in table["Items"])
    usage.sqs_requests = counter.sqs_chunks
    usage.dynamodb_writes = counter.dynamodb_writes
    usage.dynamodb_reads = counter.dynamodb_reads
    usage.dynamodb_index_writes = INDEX_WRITES_PER_SUCCESS * counter.dynamodb_writes
    return usage, counter


def _process(counter: RequestCounter, queue_url: str, arn: str, usage: Usage) -> None:
    """Poll, invoke, delete, as the event source mapping does, until the queue is empty."""
    while True:
        with counter.during("event source mapping (Lambda's poller)"):
            messages = inprocess.receive(queue_url)
        if not messages:
            return
        with counter.during("worker (functions.worker.handler)"):
            calls, started = counter.calls, time.perf_counter()
            answer = inprocess.invoke(messages, arn)
            usage.add_invocation(time.perf_counter() - started, counter.calls - calls)
        with counter.during("event source mapping (Lambda's poller)"):
            delete_done(queue_url, messages, answer)
