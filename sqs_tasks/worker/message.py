"""One SQS record as Lambda delivers it, reduced to what the worker acts on."""

from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sqs_tasks import queues
from sqs_tasks.codec import SIGNATURE_ATTRIBUTE


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    message_id: str
    receipt_handle: str
    body: str
    queue_arn: str
    receive_count: int
    # Lambda's lower-camel shape ({"stringValue": ..., "dataType": ...}), kept as delivered.
    attributes: dict[str, dict[str, object]]
    sent_at: float | None = None  # epoch seconds (SQS's SentTimestamp)

    @classmethod
    def from_record(cls, record: SQSRecord) -> "IncomingMessage":
        raw = record.raw_event
        try:
            receive_count = int(raw.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        except ValueError:
            receive_count = 1
        return cls(
            message_id=raw["messageId"],
            receipt_handle=raw.get("receiptHandle", ""),
            body=raw.get("body") or "",
            queue_arn=raw.get("eventSourceARN", ""),
            receive_count=receive_count,
            attributes=raw.get("messageAttributes") or {},
            sent_at=_epoch_seconds(raw.get("attributes", {}).get("SentTimestamp")),
        )

    def attribute(self, name: str) -> str | None:
        value = self.attributes.get(name, {}).get("stringValue")
        return value if isinstance(value, str) else None

    @property
    def signature(self) -> str | None:
        return self.attribute(SIGNATURE_ATTRIBUTE)

    @property
    def queue_name(self) -> str:
        return queues.name_from_arn(self.queue_arn)

    @property
    def queue_url(self) -> str:
        return queues.url_for_arn(self.queue_arn)

    def api_attributes(self) -> dict[str, dict[str, str]]:
        """The attributes in the SQS API's shape, to send the message on unchanged."""
        return {
            name: {"DataType": str(value["dataType"]), "StringValue": str(value["stringValue"])}
            for name, value in self.attributes.items()
            if "stringValue" in value
        }


def _epoch_seconds(milliseconds: object) -> float | None:
    try:
        return int(str(milliseconds)) / 1000
    except ValueError:
        return None
