"""The AWS resources the task path needs, created in moto for unit tests.

The infrastructure tests deploy template.yaml itself; these tests need only the same
names and shapes, made in milliseconds.
"""

import json
from typing import Any

from sqs_tasks.item import FAILED_INDEX, FAILED_PROJECTION

QUEUES = ("default", "heavy", "default-express")  # the last: the default queue's priority lane
PREFIX = "app-test"


def create_resources(session: Any) -> dict[str, str]:
    sqs = session.client("sqs")
    urls: dict[str, str] = {}
    for name in QUEUES:
        dlq = sqs.create_queue(QueueName=f"{PREFIX}-{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        urls[name] = sqs.create_queue(
            QueueName=f"{PREFIX}-{name}",
            Attributes={
                "VisibilityTimeout": "60",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 10}
                ),
            },
        )["QueueUrl"]
        urls[f"{name}-dlq"] = dlq
    session.client("dynamodb").create_table(
        TableName=f"{PREFIX}-tasks",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "failed_key", "AttributeType": "S"},
            {"AttributeName": "finished_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": FAILED_INDEX,
                "KeySchema": [
                    {"AttributeName": "failed_key", "KeyType": "HASH"},
                    {"AttributeName": "finished_at", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(FAILED_PROJECTION),
                },
            }
        ],
    )
    # The counters of the tasks' limits (template.yaml's rate-limits table).
    session.client("dynamodb").create_table(
        TableName=f"{PREFIX}-rate-limits",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    session.client("s3").create_bucket(Bucket=f"{PREFIX}-payloads")
    return urls
