"""Small helpers the tests share."""

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

import boto3

from sqs_tasks import aws
from sqs_tasks.lambda_events import LambdaContext, sqs_event
from sqs_tasks.testing import queue_arn, receive_batch
from stack import emulator_dynamodb

REGION = "us-east-1"


def sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def visible_messages(queue_url: str) -> list[dict[str, Any]]:
    """Every visible message, received and made visible again at once."""
    messages = receive_batch(queue_url)
    for message in messages:
        sqs().change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return messages


def count(queue_url: str, attribute: str = "ApproximateNumberOfMessages") -> int:
    return int(
        sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=[attribute])["Attributes"][
            attribute
        ]
    )


def event_for(queue_url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return sqs_event(messages, queue_arn(queue_url), REGION)


def send_raw(queue_url: str, body: str, attributes: dict[str, str] | None = None) -> None:
    sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in (attributes or {}).items()
        },
    )


def attributes_of(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}


def body_of(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(message["Body"])


def short_context(seconds: float) -> LambdaContext:
    return LambdaContext(timeout_seconds=seconds)


def expire_delays(queue_url: str) -> None:
    """Fast-forward SQS delays: moto keeps them in real time, and tests cannot wait 15 min."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"][REGION].queues[queue_url.rsplit("/", 1)[-1]]
    for message in queue._messages:
        message.delayed_until = 0


def expire_visibility(queue_url: str) -> None:
    """Fast-forward hidden messages to visible, as if their visibility timeouts ran out."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"][REGION].queues[queue_url.rsplit("/", 1)[-1]]
    for message in queue._messages:
        message.visible_at = 0


def force_status(task_id: str, status: str) -> None:
    """Set an item's status behind the task system's back, as a race would."""
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName="app-test-tasks",
        Key={"id": {"S": task_id}},
        UpdateExpression="SET #status = :status",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": {"S": status}},
    )


TABLE_OF_LIMITS = "app-test-rate-limits"


def rate_tat(item_id: str) -> float:
    """A rate counter's `tat` (limits/counters.py), read strongly; 0 when it has none."""
    item = aws.client("dynamodb").get_item(
        TableName=TABLE_OF_LIMITS, Key={"id": {"S": item_id}}, ConsistentRead=True
    )
    return float(item["Item"]["tat"]["N"]) if "Item" in item else 0.0


def sent_envelopes() -> list[dict]:
    """The bodies of the messages sent from now on, as JSON."""
    sent: list[dict] = []
    aws.events("sqs").register(
        "provide-client-params.sqs.SendMessage",
        lambda params, **kw: sent.append(json.loads(params["MessageBody"])),
    )
    return sent


@contextmanager
def refused_statements(
    codes: Mapping[str, str] | Callable[[str], str | None],
) -> Iterator[None]:
    """DynamoDB refuses each INSERT of a batch (stack.emulator_dynamodb) whose task id
    `codes` gives an error code for (by task id, or a function of it), with that code, and
    writes nothing for it; the batch's other statements go through, as on AWS."""
    code_for = codes.get if isinstance(codes, Mapping) else codes
    insert = emulator_dynamodb._insert

    def refusing(backend: Any, statement: dict[str, Any]) -> dict[str, Any]:
        found = emulator_dynamodb.inserted_item(statement)
        code = code_for(found[1]["id"]["S"]) if found else None
        if code:
            return {"Error": {"Code": code, "Message": "refused by the test"}}
        return insert(backend, statement)

    with mock.patch.object(emulator_dynamodb, "_insert", refusing):
        yield
