"""Our task path in-process against moto: the steps the request-count and worker-overhead
benchmarks share, each as Lambda's SQS event source mapping would take it.

The mapping polls (ReceiveMessage), invokes `functions.worker.handler` with the batch in
Lambda's shape, and deletes what the answer does not name (DeleteMessageBatch). This is
`sqs_tasks.testing.deliver` without its per-batch GetQueueAttributes (an ARN lookup the
real mapping never makes), so the counts are what AWS would see.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from bench.tasks import noop
from sqs_tasks import aws, queues
from sqs_tasks.lambda_events import LambdaContext, sqs_event
from sqs_tasks.testing import queue_arn, receive_batch
from tests.aws_resources import create_resources

REGION = "us-east-1"
BATCH_SIZE = 10


@contextmanager
def mocked_aws() -> Iterator[dict[str, str]]:
    """A fresh in-process moto with the task path's queues, table and bucket (made as the
    test suite makes them); yields the queue URLs by name."""
    aws.reset_clients()
    queues.clear_caches()
    try:
        with mock_aws():
            yield create_resources(boto3.session.Session(region_name=REGION))
    finally:
        aws.reset_clients()
        queues.clear_caches()


def enqueue(count: int) -> list[str]:
    """Bulk-enqueue `count` no-op tasks (an outbox row each, their items 25 a request,
    SendMessageBatch in 10s)."""
    return [result.id for result in noop.enqueue_many([((), {})] * count)]


def invoke(messages: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    """One Lambda invocation of the worker with this batch."""
    from functions.worker import handler

    return handler(sqs_event(messages, arn, REGION), LambdaContext())


def receive(queue_url: str) -> list[dict[str, Any]]:
    """One poll of the mapping: up to ten messages, with all their attributes."""
    return receive_batch(queue_url, BATCH_SIZE)


def arn_of(queue_url: str) -> str:
    return queue_arn(queue_url)
