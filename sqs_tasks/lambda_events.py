"""Lambda's SQS event and context, built from ReceiveMessage output.

Used where Lambda is not there to build them: the test helper and the local stack.
The shape follows what Lambda delivers (lower-camel message attributes, string counts).
"""

import uuid
from dataclasses import dataclass, field
from time import monotonic
from typing import Any


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS event source mapping's batch for `ReceiveMessage` messages (which must have
    been received with AttributeNames=["All"] and MessageAttributeNames=["All"])."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's context object that handlers use."""

    function_name: str = "local-worker"
    timeout_seconds: float = 900.0  # Lambda's maximum; the local stack passes the real one
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=monotonic, repr=False)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (monotonic() - self._started)) * 1000))
