"""Where messages go: queue URLs by name or ARN, dead-letter queues, and sends.

URLs and redrive policies are looked up once per process and kept: they never change
while a function lives, and each lookup is a request on the hot path otherwise.
"""

import json
import math
from collections.abc import Sequence
from functools import cache

from django.core.exceptions import ImproperlyConfigured

from sqs_tasks import aws
from sqs_tasks.codec import OutgoingMessage

MAX_DELAY_SECONDS = 900  # SQS's limit for DelaySeconds
# Receives of one message that are not attempts: a copy handed back this many times is
# replaced by a fresh one (worker/disposition.py), except while another attempt's lease
# holds the task: then it waits hidden until the lease ends, one receive more per lease it
# waits out (only a duplicate delivery meets a running task). Every task's max_attempts
# must leave room for them under the queue's maxReceiveCount; a message SQS still moves
# on its own is resumed by reconcile-tasks.
NON_ATTEMPT_RECEIVES = 2
BATCH_SIZE = 10  # SendMessageBatch entries per request
BATCH_BYTES = 1024 * 1024 - 16 * 1024  # SendMessageBatch payload limit, less attribute headroom


@cache
def url_for_name(queue_name: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]


def url_for_arn(arn: str) -> str:
    return url_for_name(name_from_arn(arn))


def name_from_arn(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def name_from_url(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


@cache
def dead_letter_url(source_url: str) -> str:
    """The source queue's own RedrivePolicy names its dead-letter queue: one truth, the template."""
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=source_url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    if "RedrivePolicy" not in attributes:
        raise ImproperlyConfigured(f"Queue {source_url} has no RedrivePolicy (dead-letter queue).")
    return url_for_arn(json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"])


def clear_caches() -> None:
    url_for_name.cache_clear()
    dead_letter_url.cache_clear()


def whole_seconds(seconds: float, at_most: int) -> int:
    """Seconds as SQS takes them for a delay or a visibility timeout: whole, rounded up (a
    copy that arrives early costs one more receive), from 0 to `at_most`."""
    return max(0, min(at_most, math.ceil(seconds)))


def delay_seconds(seconds: float) -> int:
    """A message's delay: at most 15 minutes."""
    return whole_seconds(seconds, MAX_DELAY_SECONDS)


def send(queue_url: str, message: OutgoingMessage, *, delay: float = 0) -> str:
    response = aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=message.body,
        MessageAttributes=message.attributes,
        DelaySeconds=delay_seconds(delay),
        **_group(message),
    )
    return response["MessageId"]


def _group(message: OutgoingMessage) -> dict[str, str]:
    """MessageGroupId on a standard queue: SQS fair queues (2025) serve groups fairly."""
    return {"MessageGroupId": message.group} if message.group else {}


def send_batch(queue_url: str, messages: Sequence[tuple[OutgoingMessage, float]]) -> list[str]:
    """Send (message, delay) pairs, ten per request; returns the task ids SQS refused."""
    refused: list[str] = []
    sqs = aws.client("sqs")
    for chunk in _chunks(messages):
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": message.body,
                    "MessageAttributes": message.attributes,
                    "DelaySeconds": delay_seconds(delay),
                    **_group(message),
                }
                for index, (message, delay) in enumerate(chunk)
            ],
        )
        refused += [chunk[int(entry["Id"])][0].task_id for entry in response.get("Failed", [])]
    return refused


def _chunks(
    messages: Sequence[tuple[OutgoingMessage, float]],
) -> list[list[tuple[OutgoingMessage, float]]]:
    """Groups that respect both SendMessageBatch limits: ten entries and 1 MiB."""
    chunks: list[list[tuple[OutgoingMessage, float]]] = [[]]
    size = 0
    for item in messages:
        item_size = len(item[0].body.encode())
        if len(chunks[-1]) == BATCH_SIZE or (chunks[-1] and size + item_size > BATCH_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return [chunk for chunk in chunks if chunk]
