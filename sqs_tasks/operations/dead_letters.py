"""Reading dead-letter queues without losing anything.

A scan receives every message once, holding each out of sight for the scan's length so
it is not seen twice; what the caller does not take is made visible again at the end.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from sqs_tasks import aws, queues
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.codec import SIGNATURE_ATTRIBUTE
from sqs_tasks.envelope import Envelope
from sqs_tasks.exceptions import InvalidSignature, MalformedEnvelope

logger = logging.getLogger("sqs_tasks.dead_letters")

# What SQS answers for a receipt handle whose message was deleted during the scan.
GONE = {"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    queue_name: str  # the Django queue it came from
    source_url: str
    dlq_url: str
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, dict[str, str]]  # SQS API shape
    sent_at: datetime  # when it reached the dead-letter queue

    def attribute(self, name: str) -> str:
        return self.attributes.get(name, {}).get("StringValue", "")

    @property
    def task_id(self) -> str:
        """From the attribute the worker set, else from the body of a message that SQS
        itself moved here after maxReceiveCount. For display and filters only: nothing
        here is verified (act on `envelope_of` instead)."""
        if (value := self.attribute("task_id")) and value != "unknown":
            return value
        try:
            body = json.loads(self.body)
        except (ValueError, RecursionError):
            return ""
        return str(body.get("id", "")) if isinstance(body, dict) else ""

    @property
    def annotated(self) -> bool:
        """Written by our worker with what failed; a bare one was moved here by SQS."""
        return bool(self.attribute("exception_class"))

    @property
    def task_path(self) -> str:
        return self.attribute("task_path")

    @property
    def exception_class(self) -> str:
        return self.attribute("exception_class")

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "queue": self.queue_name,
            "task_id": self.task_id,
            "task_path": self.task_path,
            "exception_class": self.exception_class,
            "exception_message": self.attribute("exception_message"),
            "attempts": self.attribute("attempts"),
            "dead_lettered_at": self.sent_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters an operation applies to; empty fields match everything."""

    queue: str = ""
    task: str = ""  # task path, or its last part (the function name)
    exception: str = ""  # exception class path, or its last part
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    task_id: str = ""

    def matches(self, letter: DeadLetter, now: datetime) -> bool:
        age = now - letter.sent_at
        return (
            _names_match(self.task, letter.task_path)
            and _names_match(self.exception, letter.exception_class)
            and (not self.task_id or letter.task_id == self.task_id)
            and (self.older_than is None or age >= self.older_than)
            and (self.newer_than is None or age <= self.newer_than)
        )


def _names_match(wanted: str, actual: str) -> bool:
    return not wanted or actual == wanted or actual.rsplit(".", 1)[-1] == wanted


def dead_letter_queues(backend: SQSBackend, queue: str = "") -> list[tuple[str, str, str]]:
    """(Django queue name, source URL, dead-letter URL) for each SQS queue of the backend
    (a queue's priority lanes included)."""
    return [
        (name, url, queues.dead_letter_url(url))
        for name, lane in backend.sqs_queues()
        if not queue or name == queue
        for url in [backend.queue_url(name, lane)]
    ]


@contextmanager
def scan(
    backend: SQSBackend, selection: Selection, *, hold_seconds: int = 300
) -> Iterator[Iterator[DeadLetter]]:
    """Yield the selected dead letters. Each one the caller does not delete is released
    when the scan ends, so an interrupted run loses nothing."""
    sqs = aws.client("sqs")
    held: list[tuple[str, str]] = []

    def letters() -> Iterator[DeadLetter]:
        now = timezone.now()
        for queue_name, source_url, dlq_url in dead_letter_queues(backend, selection.queue):
            while batch := sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", []):
                # Hold the whole batch before yielding any of it: if the caller stops
                # midway, every message received is still released.
                held.extend((dlq_url, message["ReceiptHandle"]) for message in batch)
                for message in batch:
                    letter = DeadLetter(
                        queue_name=queue_name,
                        source_url=source_url,
                        dlq_url=dlq_url,
                        message_id=message["MessageId"],
                        receipt_handle=message["ReceiptHandle"],
                        body=message["Body"],
                        attributes=message.get("MessageAttributes", {}),
                        sent_at=datetime.fromtimestamp(
                            int(message["Attributes"]["SentTimestamp"]) / 1000, tz=UTC
                        ),
                    )
                    if selection.matches(letter, now):
                        yield letter

    try:
        yield letters()
    finally:
        for dlq_url, receipt_handle in held:
            release(dlq_url, receipt_handle)


def release(dlq_url: str, receipt_handle: str) -> None:
    """Make a held message visible again; one already deleted is simply gone. One SQS will
    not release now (throttled, unreachable) comes back by itself when its hold ends: that
    is logged, not raised, or a scan that did its work would end as a failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("sqs").change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
        )
    except ClientError as error:
        if error.response["Error"]["Code"] not in GONE:
            logger.warning("a held dead letter returns when its hold ends", exc_info=True)
    except BotoCoreError:
        logger.warning("a held dead letter returns when its hold ends", exc_info=True)


def envelope_of(backend: SQSBackend, letter: DeadLetter) -> Envelope | None:
    """The letter's envelope if its signature verifies, else None: an unverified letter
    may name any task, and nothing is done to a task on its word."""
    try:
        return backend.codec.decode(letter.body, letter.attribute(SIGNATURE_ATTRIBUTE) or None)
    except (InvalidSignature, MalformedEnvelope):
        return None


def delete(letter: DeadLetter) -> None:
    aws.client("sqs").delete_message(QueueUrl=letter.dlq_url, ReceiptHandle=letter.receipt_handle)
