"""Helpers for application tests: run what was enqueued, through the real worker handler.

    from sqs_tasks.testing import drain_queue

    def test_report(aws):
        build_report.enqueue(42)
        drain_queue("default")
        ...

Messages go through `functions.worker.handler` exactly as Lambda would deliver them,
and the partial batch response is honoured: successes are deleted, failures stay.
"""

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings

from sqs_tasks import aws
from sqs_tasks.lambda_events import LambdaContext, sqs_event
from sqs_tasks.worker.batch import backend_for_worker, handle_batch


@dataclass
class DrainReport:
    batches: int = 0
    processed: int = 0
    returned: list[str] = field(default_factory=list)  # message ids left in the queue


@cache  # a queue's ARN never changes, and Lambda knows it without asking
def queue_arn(queue_url: str) -> str:
    return aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]


def receive_batch(queue_url: str, batch_size: int = 10) -> list[dict[str, Any]]:
    return (
        aws.client("sqs")
        .receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        .get("Messages", [])
    )


def deliver(
    queue_url: str, messages: list[dict[str, Any]], context: LambdaContext | None = None
) -> dict[str, Any]:
    """Call the worker with one batch, then delete what it did not report as failed."""
    event = sqs_event(messages, queue_arn(queue_url), settings.AWS_REGION)
    response = handle_batch(event, context or LambdaContext())
    delete_done(queue_url, messages, response)
    return response


def delete_done(queue_url: str, messages: list[dict[str, Any]], response: dict[str, Any]) -> None:
    """What Lambda's event source mapping does after an invocation: delete every message
    the partial batch response does not name."""
    failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        aws.client("sqs").delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ],
        )


def drain_queue(
    queue_name: str = "default", *, batch_size: int = 10, max_batches: int = 100
) -> DrainReport:
    """Deliver batches until the queue has nothing visible (or max_batches is reached)."""
    queue_url = backend_for_worker().queue_url(queue_name)
    report = DrainReport()
    for _ in range(max_batches):
        messages = receive_batch(queue_url, batch_size)
        if not messages:
            break
        response = deliver(queue_url, messages)
        report.batches += 1
        report.processed += len(messages)
        report.returned += [item["itemIdentifier"] for item in response["batchItemFailures"]]
    return report
