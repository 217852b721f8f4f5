"""Amazon SQS in memory, on the virtual clock: exactly the calls this project makes (and
Lambda's event source mapping makes for it), with SQS's own semantics where moto is kinder:

- a receive hides a message for the queue's visibility timeout (or the one asked for) and
  counts it: `ApproximateReceiveCount` counts every receive, and the receive after
  `maxReceiveCount` moves the message to the dead-letter queue instead (same message id,
  body and attributes: SQS moves it as it is);
- every receive issues a new receipt handle. An older one cannot change the message's
  visibility (`InvalidParameterValue`, as AWS answers), and a delete with it "succeeds, but
  the message might not be deleted" (the DeleteMessage reference): here, at random;
- `DelaySeconds` is at most 900, a visibility timeout at most 12 h from the receive;
- a receive returns a random sample of the visible messages, at most ten, sometimes fewer.

Faults come from outside (faults.py): every call first asks `Faults.before_call`, and after
it took effect, `Faults.after_call`; so a call can be refused, take effect and lose its
answer, or be the last thing a crashing process does.
"""

import hashlib
import heapq
import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

MAX_DELAY = 900
MAX_VISIBILITY = 12 * 3600
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_BATCH = 10
ACCOUNT = "123456789012"


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        operation,
    )


@dataclass(eq=False)
class Message:
    id: str
    body: str
    attributes: dict[str, dict[str, str]]
    sent_at: float
    visible_at: float
    receive_count: int = 0
    receipt: str | None = None
    received_at: float | None = None
    first_received_at: float | None = None
    version: int = 0  # bumped on every visibility change: older heap entries are stale


@dataclass(eq=False)
class Queue:
    name: str
    url: str
    arn: str
    visibility_timeout: int
    dead_letter: "Queue | None" = None
    max_receive_count: int = 0
    messages: dict[str, Message] = field(default_factory=dict)
    _heap: list[tuple[float, int, str, int]] = field(default_factory=list)
    _seq: Any = field(default_factory=itertools.count)

    def schedule(self, message: Message) -> None:
        message.version += 1
        entry = (message.visible_at, next(self._seq), message.id, message.version)
        heapq.heappush(self._heap, entry)

    def next_visible_at(self) -> float:
        while self._heap:
            at, _, message_id, version = self._heap[0]
            message = self.messages.get(message_id)
            if message is not None and message.version == version:
                return at
            heapq.heappop(self._heap)
        return float("inf")

    def visible(self, now: float, limit: int) -> list[Message]:
        """Up to `limit` visible messages, taken off the heap (the caller reschedules)."""
        found = []
        while len(found) < limit and self.next_visible_at() <= now:
            _, _, message_id, _ = heapq.heappop(self._heap)
            found.append(self.messages[message_id])
        return found

    def add(self, message: Message) -> None:
        self.messages[message.id] = message
        self.schedule(message)

    def remove(self, message: Message) -> None:
        self.messages.pop(message.id, None)
        message.version += 1

    def counts(self, now: float) -> dict[str, int]:
        visible = in_flight = delayed = 0
        for message in self.messages.values():
            if message.visible_at <= now:
                visible += 1
            elif message.receive_count:
                in_flight += 1
            else:
                delayed += 1
        return {
            "ApproximateNumberOfMessages": visible,
            "ApproximateNumberOfMessagesNotVisible": in_flight,
            "ApproximateNumberOfMessagesDelayed": delayed,
        }


@dataclass
class SQSStats:
    sent: int = 0
    received: int = 0
    moved_to_dead_letter_queue: int = 0
    visible_again_early: int = 0
    stale_deletes_ignored: int = 0
    stale_handles_refused: int = 0
    ghosts: int = 0


class FakeSQS:
    """The `aws.client("sqs")` of the chaos world. Keyword arguments are those of boto3; one
    it does not model is a TypeError, so new code cannot rely on an unchecked parameter."""

    def __init__(
        self,
        *,
        region: str,
        rng: random.Random,
        now: Callable[[], float],
        faults: Any,
        on_send: Callable[[Queue, Message], None] = lambda queue, message: None,
    ) -> None:
        self.region = region
        self.rng = rng
        self._now = now
        self.faults = faults
        self.on_send = on_send
        self.queues: dict[str, Queue] = {}
        self._by_url: dict[str, Queue] = {}
        self._receipts: dict[str, tuple[Queue, str]] = {}
        self._ids = itertools.count(1)
        self.stats = SQSStats()
        # Chances the world sets (faults.py): a received message visible again at once (as
        # when a server holding a copy misses the receive), a deleted one coming back.
        self.visible_again_rate = 0.0
        self.ghost_rate = 0.0
        self.stale_delete_takes_effect = 0.5

    # -- set-up (not API) ------------------------------------------------------------------

    def create_queue(
        self,
        name: str,
        *,
        visibility_timeout: int = 30,
        dead_letter: str = "",
        max_receive: int = 0,
    ) -> Queue:
        queue = Queue(
            name=name,
            url=f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{name}",
            arn=f"arn:aws:sqs:{self.region}:{ACCOUNT}:{name}",
            visibility_timeout=visibility_timeout,
            dead_letter=self.queues[dead_letter] if dead_letter else None,
            max_receive_count=max_receive,
        )
        self.queues[name] = queue
        self._by_url[queue.url] = queue
        return queue

    def queue_at(self, url: str, operation: str) -> Queue:
        queue = self._by_url.get(url)
        if queue is None:
            raise client_error(
                "AWS.SimpleQueueService.NonExistentQueue",
                "The specified queue does not exist.",
                operation,
            )
        return queue

    def _new_id(self) -> str:
        return f"{self.rng.getrandbits(64):016x}-{next(self._ids):08d}"

    def _call(self, operation: str, action: Callable[[], Any]) -> Any:
        self.faults.before_call("sqs", operation)
        result = action()
        self.faults.after_call("sqs", operation)
        return result

    # -- queues -----------------------------------------------------------------------------

    def get_queue_url(self, *, QueueName: str, QueueOwnerAWSAccountId: str = "") -> dict:
        def action() -> dict:
            if QueueName not in self.queues:
                raise client_error(
                    "AWS.SimpleQueueService.NonExistentQueue",
                    "The specified queue does not exist.",
                    "GetQueueUrl",
                )
            return {"QueueUrl": self.queues[QueueName].url}

        return self._call("GetQueueUrl", action)

    def get_queue_attributes(self, *, QueueUrl: str, AttributeNames: list[str]) -> dict:
        def action() -> dict:
            queue = self.queue_at(QueueUrl, "GetQueueAttributes")
            attributes: dict[str, str] = {
                "QueueArn": queue.arn,
                "VisibilityTimeout": str(queue.visibility_timeout),
                **{name: str(count) for name, count in queue.counts(self._now()).items()},
            }
            if queue.dead_letter is not None:
                attributes["RedrivePolicy"] = json.dumps(
                    {
                        "deadLetterTargetArn": queue.dead_letter.arn,
                        "maxReceiveCount": queue.max_receive_count,
                    }
                )
            wanted = set(AttributeNames)
            return {
                "Attributes": {
                    name: value
                    for name, value in attributes.items()
                    if "All" in wanted or name in wanted
                }
            }

        return self._call("GetQueueAttributes", action)

    # -- sending ----------------------------------------------------------------------------

    def send_message(
        self,
        *,
        QueueUrl: str,
        MessageBody: str,
        MessageAttributes: dict | None = None,
        DelaySeconds: int = 0,
    ) -> dict:
        def action() -> dict:
            queue = self.queue_at(QueueUrl, "SendMessage")
            self._check_message(MessageBody, MessageAttributes or {}, DelaySeconds, "SendMessage")
            message = self._enqueue(queue, MessageBody, MessageAttributes or {}, DelaySeconds)
            return {"MessageId": message.id, "MD5OfMessageBody": _md5(MessageBody)}

        return self._call("SendMessage", action)

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:
        def action() -> dict:
            queue = self._batch_queue(QueueUrl, Entries, "SendMessageBatch")
            if len({entry["Id"] for entry in Entries}) != len(Entries):
                raise client_error(
                    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                    "Two or more batch entries in the request have the same Id.",
                    "SendMessageBatch",
                )
            if sum(len(entry["MessageBody"].encode()) for entry in Entries) > MAX_MESSAGE_BYTES:
                raise client_error(
                    "AWS.SimpleQueueService.BatchRequestTooLong",
                    "Batch requests cannot be longer than 1048576 bytes.",
                    "SendMessageBatch",
                )
            successful, failed = [], []
            for entry in Entries:
                if set(entry) - {"Id", "MessageBody", "MessageAttributes", "DelaySeconds"}:
                    raise TypeError(f"unmodelled SendMessageBatch entry fields: {sorted(entry)}")
                attributes = entry.get("MessageAttributes") or {}
                delay = entry.get("DelaySeconds", 0)
                self._check_message(entry["MessageBody"], attributes, delay, "SendMessageBatch")
                if self.faults.refuse_entry("sqs", "SendMessageBatch"):
                    failed.append(_refused_entry(entry))
                    continue
                message = self._enqueue(queue, entry["MessageBody"], attributes, delay)
                successful.append(
                    {
                        "Id": entry["Id"],
                        "MessageId": message.id,
                        "MD5OfMessageBody": _md5(entry["MessageBody"]),
                    }
                )
            return _batch_response(successful, failed)

        return self._call("SendMessageBatch", action)

    def _batch_queue(self, url: str, entries: list[dict], operation: str) -> Queue:
        queue = self.queue_at(url, operation)
        if not entries or len(entries) > MAX_BATCH:
            raise client_error(
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                "Maximum number of entries per request are 10.",
                operation,
            )
        return queue

    def _check_message(self, body: str, attributes: dict, delay: int, operation: str) -> None:
        _check_range("DelaySeconds", delay, MAX_DELAY, operation)
        if len(body.encode()) > MAX_MESSAGE_BYTES:
            raise client_error(
                "InvalidParameterValue", "One or more parameters are invalid.", operation
            )
        if len(attributes) > 10 or not all(
            set(value) <= {"DataType", "StringValue"} and "StringValue" in value
            for value in attributes.values()
        ):
            raise client_error(
                "InvalidParameterValue", "Message attributes are invalid.", operation
            )

    def _enqueue(
        self, queue: Queue, body: str, attributes: dict, delay: int, *, sent: bool = True
    ) -> Message:
        now = self._now()
        message = Message(
            id=self._new_id(),
            body=body,
            attributes={name: dict(value) for name, value in attributes.items()},
            sent_at=now,
            visible_at=now + delay,
        )
        queue.add(message)
        if sent:
            self.stats.sent += 1
            self.on_send(queue, message)
        return message

    def inject(self, queue: Queue, body: str, attributes: dict) -> Message:
        """A copy of a message that nobody sent now (a late duplicate): not an API call."""
        return self._enqueue(queue, body, attributes, 0, sent=False)

    # -- receiving --------------------------------------------------------------------------

    def receive_message(
        self,
        *,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        VisibilityTimeout: int | None = None,
        AttributeNames: list[str] = (),  # type: ignore[assignment]
        MessageAttributeNames: list[str] = (),  # type: ignore[assignment]
        WaitTimeSeconds: int = 0,
    ) -> dict:
        def action() -> dict:
            queue = self.queue_at(QueueUrl, "ReceiveMessage")
            if not 1 <= MaxNumberOfMessages <= MAX_BATCH:
                raise client_error(
                    "InvalidParameterValue",
                    "Value for parameter MaxNumberOfMessages is invalid.",
                    "ReceiveMessage",
                )
            return {
                "Messages": [
                    self._delivered(message, AttributeNames, MessageAttributeNames)
                    for message in self._receive(queue, MaxNumberOfMessages, VisibilityTimeout)
                ]
            }

        response = self._call("ReceiveMessage", action)
        if not response["Messages"]:
            del response["Messages"]  # as SQS answers: no key at all
        return response

    def _receive(self, queue: Queue, limit: int, visibility: int | None) -> list[Message]:
        now = self._now()
        # SQS samples a subset of its servers: a random few of the visible messages.
        candidates = queue.visible(now, 3 * limit)
        self.rng.shuffle(candidates)
        take = limit if self.rng.random() < 0.8 else self.rng.randint(1, limit)
        chosen, rest = candidates[:take], candidates[take:]
        for message in rest:
            queue.schedule(message)
        received = []
        for message in chosen:
            if queue.dead_letter is not None and message.receive_count >= queue.max_receive_count:
                self._move_to_dead_letter_queue(queue, message)
                continue
            message.receive_count += 1
            message.receipt = f"{message.id}/{message.receive_count}/{self.rng.getrandbits(32):x}"
            self._receipts[message.receipt] = (queue, message.id)
            message.received_at = now
            message.first_received_at = message.first_received_at or now
            hidden = queue.visibility_timeout if visibility is None else visibility
            if self.rng.random() < self.visible_again_rate:
                hidden = self.rng.uniform(0.5, 30.0)  # another receiver gets it meanwhile
                self.stats.visible_again_early += 1
            message.visible_at = now + hidden
            queue.schedule(message)
            received.append(message)
        self.stats.received += len(received)
        return received

    def _move_to_dead_letter_queue(self, queue: Queue, message: Message) -> None:
        assert queue.dead_letter is not None
        queue.remove(message)
        moved = Message(
            id=message.id,
            body=message.body,
            attributes=message.attributes,
            sent_at=message.sent_at,
            visible_at=self._now(),
        )
        queue.dead_letter.add(moved)
        self.stats.moved_to_dead_letter_queue += 1

    def _delivered(
        self, message: Message, attribute_names: list[str], message_attribute_names: list[str]
    ) -> dict:
        system = {
            "SenderId": "AIDACHAOS",
            "SentTimestamp": str(int(message.sent_at * 1000)),
            "ApproximateReceiveCount": str(message.receive_count),
            "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or 0) * 1000)),
        }
        names = set(attribute_names)
        wanted = set(message_attribute_names)
        delivered: dict[str, Any] = {
            "MessageId": message.id,
            "ReceiptHandle": message.receipt,
            "MD5OfBody": _md5(message.body),
            "Body": message.body,
            "Attributes": {k: v for k, v in system.items() if "All" in names or k in names},
        }
        attributes = {
            name: dict(value)
            for name, value in message.attributes.items()
            if "All" in wanted or ".*" in wanted or name in wanted
        }
        if attributes:
            delivered["MessageAttributes"] = attributes
        return delivered

    # -- after a receive --------------------------------------------------------------------

    def _held(self, queue: Queue, handle: str, operation: str) -> tuple[Message | None, bool]:
        """The message a receipt handle names, and whether the handle is its latest."""
        known = self._receipts.get(handle)
        if known is None or known[0] is not queue:
            raise client_error(
                "ReceiptHandleIsInvalid",
                f'The input receipt handle "{handle}" is not valid.',
                operation,
            )
        message = queue.messages.get(known[1])
        return message, message is not None and message.receipt == handle

    def change_message_visibility(
        self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> dict:
        def action() -> dict:
            queue = self.queue_at(QueueUrl, "ChangeMessageVisibility")
            self._change_visibility(queue, ReceiptHandle, VisibilityTimeout)
            return {}

        return self._call("ChangeMessageVisibility", action)

    def _change_visibility(self, queue: Queue, handle: str, timeout: int) -> None:
        operation = "ChangeMessageVisibility"
        now = self._now()
        _check_range("VisibilityTimeout", timeout, MAX_VISIBILITY, operation)
        message, latest = self._held(queue, handle, operation)
        if message is None or not latest:
            self.stats.stale_handles_refused += 1
            raise client_error(
                "InvalidParameterValue",
                f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does "
                "not exist or is not available for visibility timeout change.",
                operation,
            )
        if message.visible_at <= now:
            raise client_error(
                "AWS.SimpleQueueService.MessageNotInflight",
                "The message referred to is not in flight.",
                operation,
            )
        if now + timeout - (message.received_at or now) > MAX_VISIBILITY:
            raise client_error(
                "InvalidParameterValue",
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
                operation,
            )
        message.visible_at = now + timeout
        queue.schedule(message)

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> dict:
        def action() -> dict:
            queue = self.queue_at(QueueUrl, "DeleteMessage")
            self._delete(queue, ReceiptHandle, "DeleteMessage")
            return {}

        return self._call("DeleteMessage", action)

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:
        def action() -> dict:
            queue = self._batch_queue(QueueUrl, Entries, "DeleteMessageBatch")
            successful, failed = [], []
            for entry in Entries:
                if self.faults.refuse_entry("sqs", "DeleteMessageBatch"):
                    failed.append(_refused_entry(entry))
                    continue
                try:
                    self._delete(queue, entry["ReceiptHandle"], "DeleteMessageBatch")
                except ClientError as error:
                    failed.append(
                        {
                            "Id": entry["Id"],
                            "SenderFault": True,
                            "Code": error.response["Error"]["Code"],
                        }
                    )
                    continue
                successful.append({"Id": entry["Id"]})
            return _batch_response(successful, failed)

        return self._call("DeleteMessageBatch", action)

    def _delete(self, queue: Queue, handle: str, operation: str) -> None:
        message, latest = self._held(queue, handle, operation)
        if message is None:
            return  # already gone: the delete succeeds
        if not latest and self.rng.random() >= self.stale_delete_takes_effect:
            self.stats.stale_deletes_ignored += 1
            return  # "the request will still succeed, but the message might not be deleted"
        queue.remove(message)
        if self.rng.random() < self.ghost_rate:
            # "It is possible you will receive a message even after you have deleted it":
            # a server holding a copy missed the delete.
            ghost = Message(
                id=message.id,
                body=message.body,
                attributes=message.attributes,
                sent_at=message.sent_at,
                visible_at=self._now() + self.rng.uniform(1, 900),
                receive_count=message.receive_count,
            )
            queue.add(ghost)
            self.stats.ghosts += 1


def _check_range(name: str, value: object, high: int, operation: str) -> None:
    if not isinstance(value, int) or not 0 <= value <= high:
        raise client_error(
            "InvalidParameterValue",
            f"Value {value} for parameter {name} is invalid. Reason: must be between 0 and {high}.",
            operation,
        )


def _refused_entry(entry: dict) -> dict:
    return {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"}


def _batch_response(successful: list[dict], failed: list[dict]) -> dict:
    response: dict[str, Any] = {"Successful": successful}
    if failed:
        response["Failed"] = failed
    return response


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
