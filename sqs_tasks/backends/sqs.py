"""The SQS backend: Django's Tasks API on SQS queues, with results in DynamoDB.

`enqueue` validates at once, in the caller's thread, so a bad argument raises before
anything is written; the write and the send then wait for the surrounding transaction
to commit, so a rolled-back view sends nothing.
"""

import inspect
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.json import normalize_json

from sqs_tasks import log_context, metrics, queues
from sqs_tasks.claim_check import PayloadStore
from sqs_tasks.codec import MessageCodec, OutgoingMessage
from sqs_tasks.config import BackendConfig
from sqs_tasks.envelope import AttemptPolicy, Envelope
from sqs_tasks.errors import ErrorRecord, class_path
from sqs_tasks.exceptions import EnqueueError, InvalidTaskArguments
from sqs_tasks.results import FAILED, ResultStore
from sqs_tasks.task import SQSTask
from sqs_tasks.task_results import to_task_result

_DEDUP_NAMESPACE = uuid.UUID("6f1d3c52-93a4-4c0e-9a51-7c2b9e0e5d11")

Call = tuple[Task, Sequence[Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A validated call, ready to be written and sent once the transaction commits."""

    result: TaskResult
    envelope: Envelope


class SQSBackend(BaseTaskBackend):
    task_class = SQSTask
    supports_defer = True
    supports_get_result = True
    supports_async_task = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.config = BackendConfig.from_options(self.options)
        self.results = ResultStore(self.config.table_name, self.config.result_ttl)
        self.payloads = PayloadStore(self.config.bucket_name)
        self.codec = MessageCodec(
            self.config.signer, self.payloads, self.config.claim_check_threshold
        )

    # -- validation ---------------------------------------------------------------

    def validate_task(self, task: Task) -> None:
        super().validate_task(task)
        max_attempts = getattr(task, "max_attempts", None)
        if max_attempts is not None and (not isinstance(max_attempts, int) or max_attempts < 1):
            raise InvalidTask("max_attempts must be a whole number of at least 1.")
        timeout = getattr(task, "timeout", None)
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise InvalidTask("timeout must be a positive number of seconds.")
        retry_on = getattr(task, "retry_on", None)
        if retry_on is not None and not (
            isinstance(retry_on, tuple)
            and all(isinstance(k, type) and issubclass(k, BaseException) for k in retry_on)
        ):
            raise InvalidTask("retry_on must be a tuple of exception classes.")

    def policy_for(self, task: Task) -> AttemptPolicy:
        retry_on = getattr(task, "retry_on", None)
        return AttemptPolicy(
            max_attempts=getattr(task, "max_attempts", None) or self.config.max_attempts,
            retry_on=self.config.retry_on if retry_on is None else tuple(map(class_path, retry_on)),
            timeout=float(getattr(task, "timeout", None) or self.config.timeout),
        )

    def queue_url(self, queue_name: str) -> str:
        return queues.url_for_name(self.config.queue_name_prefix + queue_name)

    # -- enqueue ------------------------------------------------------------------

    def enqueue(self, task: Task, args: Sequence[Any], kwargs: dict[str, Any]) -> TaskResult:
        prepared = self._prepare(task, args, kwargs)
        self._after_commit(lambda: self._dispatch_one(prepared))
        return prepared.result

    def enqueue_many(self, calls: Sequence[Call]) -> list[TaskResult]:
        """Enqueue many calls at once: BatchWriteItem in 25s, SendMessageBatch in 10s."""
        prepared = [self._prepare(task, args, kwargs) for task, args, kwargs in calls]
        self._after_commit(lambda: self._dispatch_many(prepared))
        return [p.result for p in prepared]

    def _after_commit(self, send: Callable[[], None]) -> None:
        if self.config.enqueue_on_commit:
            transaction.on_commit(send, robust=False)
        else:
            send()

    def _prepare(self, task: Task, args: Sequence[Any], kwargs: dict[str, Any]) -> _Prepared:
        self.validate_task(task)
        args, kwargs = self._validated_arguments(task, args, kwargs)
        dedup_key = getattr(task, "dedup_key", None)
        task_id = (
            uuid.uuid5(_DEDUP_NAMESPACE, f"{task.module_path}:{dedup_key}").hex
            if dedup_key
            else uuid.uuid4().hex
        )
        now = timezone.now()
        envelope = Envelope(
            task_id=task_id,
            task_path=task.module_path,
            backend=self.alias,
            queue_name=task.queue_name,
            args=args,
            kwargs=kwargs,
            enqueued_at=now,
            run_after=task.run_after,
            policy=self.policy_for(task),
            request_id=log_context.current("request_id"),
        )
        result = TaskResult(
            task=task,
            id=task_id,
            status=TaskResultStatus.READY,
            enqueued_at=now,
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        return _Prepared(result, envelope)

    def _validated_arguments(
        self, task: Task, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        try:
            args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
            size = len(json.dumps([args, kwargs], allow_nan=False).encode())
        except (TypeError, ValueError) as error:
            raise InvalidTaskArguments(f"Task arguments must be JSON: {error}") from None
        if size > self.config.max_payload_bytes:
            raise InvalidTaskArguments(
                f"Task arguments are {size} bytes; the limit is {self.config.max_payload_bytes}."
            )
        check_arguments(task, args, kwargs)
        return args, kwargs

    def _item(self, prepared: _Prepared, message: OutgoingMessage) -> dict[str, Any]:
        envelope = prepared.envelope
        item: dict[str, Any] = {
            "id": envelope.task_id,
            "task_path": envelope.task_path,
            "backend": self.alias,
            "queue_name": envelope.queue_name,
            "enqueued_at": envelope.enqueued_at.isoformat(),
            "updated_at": envelope.enqueued_at.isoformat(),
            "max_attempts": envelope.policy.max_attempts,
        }
        if pointer := self.codec.claim_check_pointer(message.body):
            item["payload_ref"] = pointer  # the arguments live with the offloaded envelope
        else:
            item |= {"args": envelope.args, "kwargs": envelope.kwargs}
        if envelope.run_after:
            item["run_after"] = envelope.run_after.isoformat()
        if envelope.request_id:
            item["request_id"] = envelope.request_id
        return item

    def _delay(self, envelope: Envelope) -> float:
        if envelope.run_after is None:
            return 0
        return (envelope.run_after - timezone.now()).total_seconds()

    def _dispatch_one(self, prepared: _Prepared) -> None:
        envelope = prepared.envelope
        message = self.codec.encode(envelope)
        existing = self.results.create(self._item(prepared, message))
        if existing is not None:
            return  # deduplicated: that task was enqueued before, and its message sent
        try:
            queues.send(self.queue_url(envelope.queue_name), message, delay=self._delay(envelope))
        except Exception as error:
            self._mark_unsent([envelope.task_id], error)
            raise EnqueueError(
                f"Could not send task {envelope.task_id}", [envelope.task_id]
            ) from error
        task_enqueued.send(type(self), task_result=prepared.result)
        metrics.record_enqueued(envelope.queue_name, 1)

    def _dispatch_many(self, prepared: list[_Prepared]) -> None:
        if any(p.result.task.dedup_key for p in prepared if isinstance(p.result.task, SQSTask)):
            for one in prepared:
                self._dispatch_one(one)
            return
        messages = [self.codec.encode(p.envelope) for p in prepared]
        refused = self.results.create_many(
            [self._item(p, m) for p, m in zip(prepared, messages, strict=True)]
        )
        if refused:
            raise EnqueueError(
                f"DynamoDB refused {len(refused)} results; nothing sent for them.", refused
            )
        by_queue: dict[str, list[tuple[OutgoingMessage, float]]] = defaultdict(list)
        for one, message in zip(prepared, messages, strict=True):
            by_queue[one.envelope.queue_name].append((message, self._delay(one.envelope)))
        unsent = [
            task_id
            for queue_name, batch in by_queue.items()
            for task_id in queues.send_batch(self.queue_url(queue_name), batch)
        ]
        if unsent:
            self._mark_unsent(unsent, EnqueueError("SQS refused the message", unsent))
            raise EnqueueError(f"SQS refused {len(unsent)} of {len(prepared)} messages.", unsent)
        for one in prepared:
            task_enqueued.send(type(self), task_result=one.result)
        for queue_name, batch in by_queue.items():
            metrics.record_enqueued(queue_name, len(batch))

    def _mark_unsent(self, task_ids: list[str], error: BaseException) -> None:
        """A result whose message never left must not sit READY forever."""
        now = timezone.now()
        record = ErrorRecord.from_exception(error, now).to_dict()
        for task_id in task_ids:
            self.results.finish(task_id, status=FAILED, now=now, errors=[record])

    # -- results ------------------------------------------------------------------

    def get_result(self, result_id: str) -> TaskResult:
        item = self.results.get(result_id)
        if item is None or item.get("backend") != self.alias:
            raise TaskResultDoesNotExist(result_id)
        return to_task_result(item, self.payloads)

    def get_progress(self, result_id: str) -> dict[str, Any] | None:
        """What a running task last reported through `context.report_progress`."""
        item = self.results.get(result_id)
        if item is None:
            raise TaskResultDoesNotExist(result_id)
        return item.get("progress")


def check_arguments(task: Task, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Raise InvalidTaskArguments unless the call fits the function's signature."""
    signature = inspect.signature(task.func)
    try:
        if task.takes_context:
            signature.bind(None, *args, **kwargs)
        else:
            signature.bind(*args, **kwargs)
    except TypeError as error:
        raise InvalidTaskArguments(f"Arguments do not fit {task.module_path}: {error}") from None
