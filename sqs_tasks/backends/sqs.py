"""The SQS backend: Django's Tasks API on SQS queues, with results in DynamoDB.

`enqueue` validates at once, in the caller's thread, so a bad argument raises before
anything is written. The task is then a row in the outbox (outbox.py), written in the
caller's database transaction: a rolled-back view sends nothing, and a committed one
is sent by the process that committed, or by the next `relay-outbox` if that process
dies or SQS is down (contract 9). Nothing raises into the caller after its commit.
"""

import inspect
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.tasks import Task, TaskResult
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone

from sqs_tasks import log_context, outbox, queues, sensitive, strict_json
from sqs_tasks.claim_check import PayloadStore, PayloadTooLongLived
from sqs_tasks.codec import MessageCodec
from sqs_tasks.config import BackendConfig
from sqs_tasks.envelope import AttemptPolicy, Envelope
from sqs_tasks.errors import class_path
from sqs_tasks.exceptions import InvalidTaskArguments
from sqs_tasks.item import StoredJSON, TaskItem, WorkflowRef, arguments_json, is_task_id
from sqs_tasks.limits import gate as limits
from sqs_tasks.models import OutboxEntry
from sqs_tasks.results import ResultStore
from sqs_tasks.task import SQSTask
from sqs_tasks.task_results import pending_task_result, ready_result, to_task_result

_DEDUP_NAMESPACE = uuid.UUID("6f1d3c52-93a4-4c0e-9a51-7c2b9e0e5d11")
# A workflow's plan beyond this goes to S3: every continuation reads it (once per process).
WORKFLOW_PLAN_INLINE_LIMIT = 32 * 1024

Call = tuple[Task, Sequence[Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A validated call: Django's READY result for the caller, the envelope for the queue."""

    result: TaskResult
    envelope: Envelope


class SQSBackend(BaseTaskBackend):
    task_class = SQSTask
    supports_defer = True
    supports_priority = True  # by lanes: PRIORITY_LANES
    supports_get_result = True
    supports_async_task = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.config = BackendConfig.from_options(self.options)
        self.results = ResultStore(self.config.table_name, self.config.result_ttl)
        self.payloads = PayloadStore(self.config.bucket_name)
        self.codec = MessageCodec(self.config.signer)
        self.gate = limits.Gate(self.config.limits_table, self.config.limits)

    # -- validation ---------------------------------------------------------------

    def validate_task(self, task: Task) -> None:
        super().validate_task(task)
        max_attempts = getattr(task, "max_attempts", None)
        if max_attempts is not None and (not isinstance(max_attempts, int) or max_attempts < 1):
            raise InvalidTask("max_attempts must be a whole number of at least 1.")
        if (max_attempts or self.config.max_attempts) > self.max_attempts_allowed:
            raise InvalidTask(
                f"max_attempts must be at most {self.max_attempts_allowed}: the queue's "
                f"maxReceiveCount ({self.config.max_receive_count}) must leave room for "
                f"{queues.NON_ATTEMPT_RECEIVES} receives that are not attempts, or SQS moves the "
                f"message to its dead-letter queue before the last attempt."
            )
        timeout = getattr(task, "timeout", None)
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise InvalidTask("timeout must be a positive number of seconds.")
        retry_on = getattr(task, "retry_on", None)
        if retry_on is not None and not (
            isinstance(retry_on, tuple)
            and all(isinstance(k, type) and issubclass(k, BaseException) for k in retry_on)
        ):
            raise InvalidTask("retry_on must be a tuple of exception classes.")
        try:
            limits.declared(task, self.config.limits)
        except ValueError as error:
            raise InvalidTask(str(error)) from None
        if task.priority != 0 and not self.lane_for(task.queue_name, task.priority):
            lanes = self.config.priority_lanes.get(task.queue_name, {})
            raise InvalidTask(
                f"No lane of queue {task.queue_name!r} takes priority {task.priority} "
                f"(PRIORITY_LANES: {lanes or 'none'}; the queue itself takes 0)."
            )
        names = getattr(task, "sensitive", ())
        if not (isinstance(names, tuple) and all(isinstance(n, str) for n in names)):
            raise InvalidTask("sensitive must be a tuple of parameter names.")
        try:
            sensitive.check_names(task, names)
        except ValueError as error:
            raise InvalidTask(str(error)) from None

    @property
    def max_attempts_allowed(self) -> int:
        return self.config.max_receive_count - queues.NON_ATTEMPT_RECEIVES

    def policy_for(self, task: Task) -> AttemptPolicy:
        retry_on = getattr(task, "retry_on", None)
        return AttemptPolicy(
            max_attempts=getattr(task, "max_attempts", None) or self.config.max_attempts,
            retry_on=self.config.retry_on if retry_on is None else tuple(map(class_path, retry_on)),
            timeout=float(getattr(task, "timeout", None) or self.config.timeout),
        )

    def lane_for(self, queue_name: str, priority: int) -> str:
        """The lane of `queue_name` that takes `priority`: "" for the queue itself (0)."""
        for lane, (low, high) in self.config.priority_lanes.get(queue_name, {}).items():
            if low <= priority <= high:
                return lane
        return ""

    def sqs_queue_name(self, queue_name: str, lane: str = "") -> str:
        return self.config.queue_name_prefix + queue_name + (f"-{lane}" if lane else "")

    def queue_url(self, queue_name: str, lane: str = "") -> str:
        return queues.url_for_name(self.sqs_queue_name(queue_name, lane))

    def sqs_queues(self) -> list[tuple[str, str]]:
        """(Django queue, lane) of every SQS queue the backend sends to."""
        return [
            (queue, lane)
            for queue in sorted(self.queues)
            for lane in ["", *sorted(self.config.priority_lanes.get(queue, {}))]
        ]

    # -- enqueue ------------------------------------------------------------------

    def enqueue(self, task: Task, args: Sequence[Any], kwargs: dict[str, Any]) -> TaskResult:
        return self.enqueue_many([(task, args, kwargs)])[0]

    def enqueue_many(self, calls: Sequence[Call]) -> list[TaskResult]:
        """Enqueue many calls at once: one outbox statement, then the items 25 a request
        (outbox.deliver) and SendMessageBatch in tens. Deduplicated calls are written one by one.

        Without a dedup key, every call is validated before the one statement that writes
        them all, so nothing needs a savepoint (or, outside a transaction, a transaction
        of its own): a bad call raises before any row exists. A dedup key's row is written
        as its call is met, so those calls run in an atomic block: all or nothing."""
        using = outbox.database_for_enqueue(self.config.outbox_databases)
        now = timezone.now()
        if any(getattr(task, "dedup_key", None) for task, _, _ in calls):
            with transaction.atomic(using=using):
                return self._enqueue_calls(calls, using, now)
        return self._enqueue_calls(calls, using, now)

    def _enqueue_calls(self, calls: Sequence[Call], using: str, now: datetime) -> list[TaskResult]:
        results: list[TaskResult] = []
        fresh: list[_Prepared] = []
        rows: list[OutboxEntry] = []
        new_results: list[TaskResult] = []
        for task, args, kwargs in calls:
            self.validate_task(task)
            args, kwargs = self._validated_arguments(task, args, kwargs)
            dedup_key = getattr(task, "dedup_key", None)
            if dedup_key:
                task_id = uuid.uuid5(_DEDUP_NAMESPACE, f"{task.module_path}:{dedup_key}").hex
                if (existing := self._existing(task_id)) is not None:
                    results.append(existing)
                    continue
                prepared = self._prepare(task, task_id, args, kwargs, now)
                if (row := outbox.add_unique(using, prepared.envelope, now)) is None:
                    results.append(self.get_result(task_id))  # enqueued concurrently
                    continue
                rows.append(row)
            else:
                prepared = self._prepare(task, uuid.uuid4().hex, args, kwargs, now)
                fresh.append(prepared)
            results.append(prepared.result)
            new_results.append(prepared.result)
        rows += outbox.add(using, [p.envelope for p in fresh], now)
        for result in new_results:
            transaction.on_commit(partial(self._enqueued, result), using=using, robust=True)
        outbox.relay_after_commit(self, using, rows)
        return results

    def _enqueued(self, result: TaskResult) -> None:
        task_enqueued.send(type(self), task_result=result)

    # -- workflows (sqs_tasks/workflows/) -------------------------------------------

    def step_envelope(
        self,
        task: Task,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        *,
        task_id: str,
        workflow: WorkflowRef,
        now: datetime,
    ) -> Envelope:
        """A workflow step's envelope, validated like any enqueue, with its given id."""
        self.validate_task(task)
        args, kwargs = self._validated_arguments(task, args, kwargs)
        return self._prepare(task, task_id, args, kwargs, now, workflow=workflow).envelope

    def enqueue_workflow(self, workflow_id: str, plan: str, first_steps: list[Envelope]) -> None:
        """The workflow's record and its first steps, as rows of the caller's transaction
        (contract 9), sent after the commit: the record before any step."""
        using = outbox.database_for_enqueue(self.config.outbox_databases)
        now = timezone.now()
        stored = StoredJSON(text=plan)
        if len(plan.encode()) > WORKFLOW_PLAN_INLINE_LIMIT:
            lifetime = timedelta(seconds=self.config.result_ttl)
            stored = StoredJSON(ref=self.payloads.put_arguments(plan, lifetime))
        with transaction.atomic(using=using):
            record = outbox.add_workflow(using, self.alias, workflow_id, stored, now)
            steps = outbox.add(using, first_steps, now)
            outbox.relay_after_commit(self, using, [record, *steps])

    def _existing(self, task_id: str) -> TaskResult | None:
        """The real status of a task enqueued before with the same dedup key, if any."""
        try:
            return self.get_result(task_id)
        except TaskResultDoesNotExist:
            return None

    def _prepare(
        self,
        task: Task,
        task_id: str,
        args: list[Any],
        kwargs: dict[str, Any],
        now: datetime,
        *,
        workflow: WorkflowRef | None = None,
    ) -> _Prepared:
        wait = (task.run_after - now) if task.run_after else timedelta(0)
        lifetime = max(wait, timedelta(0)) + timedelta(seconds=self.config.result_ttl)
        try:
            limit_refs = limits.refs_for(task, self.config.limits, args, kwargs)
        except Exception as error:  # a key function that does not fit the call
            raise InvalidTaskArguments(f"a limit's key of {task.name} failed: {error!r}") from None
        sealed = None
        if names := getattr(task, "sensitive", ()):
            args, kwargs, values = sensitive.split(task, names, args, kwargs)
            sealed = self._sealed(values, lifetime)
        text = arguments_json(args, kwargs)
        arguments = StoredJSON(text=text)
        if len(text.encode()) > self.config.claim_check_threshold:
            try:
                arguments = StoredJSON(ref=self.payloads.put_arguments(text, lifetime))
            except PayloadTooLongLived as error:
                raise InvalidTaskArguments(
                    f"{error}: pass a reference to the data (an S3 key, a row id) instead"
                ) from None
        envelope = Envelope(
            task_id=task_id,
            task_path=task.module_path,
            backend=self.alias,
            queue_name=task.queue_name,
            arguments=arguments,
            enqueued_at=now,
            run_after=task.run_after,
            policy=self.policy_for(task),
            request_id=log_context.current("request_id"),
            sensitive=sealed,
            workflow=workflow,
            limits=limit_refs,
            priority=task.priority,
            message_group=self._message_group(task, args, kwargs),
        )
        result = ready_result(task, task_id, args, kwargs, now, backend=self.alias)
        return _Prepared(result, envelope)

    @staticmethod
    def _message_group(task: Task, args: list[Any], kwargs: dict[str, Any]) -> str | None:
        group = getattr(task, "message_group", None)
        if group is None or isinstance(group, str):
            return group
        try:
            return str(group(*args, **kwargs))[:128]  # SQS's limit for a group id
        except Exception as error:
            raise InvalidTaskArguments(f"message_group of {task.name} failed: {error!r}") from None

    def _sealed(self, values: sensitive.Values, lifetime: timedelta) -> sensitive.SealedRef | None:
        if not values.args and not values.kwargs:
            return None
        try:
            return sensitive.seal(
                values, bucket=self.config.bucket_name, signer=self.codec.signer, lifetime=lifetime
            )
        except PayloadTooLongLived as error:
            raise InvalidTaskArguments(f"{error}: pass a reference to the secret instead") from None

    def _validated_arguments(
        self, task: Task, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        try:
            args, kwargs = strict_json.normalized([list(args), dict(kwargs)])
            size = len(arguments_json(args, kwargs).encode())
        except ValueError as error:
            raise InvalidTaskArguments(f"Task arguments must be JSON: {error}") from None
        if size > self.config.max_payload_bytes:
            raise InvalidTaskArguments(
                f"Task arguments are {size} bytes; the limit is {self.config.max_payload_bytes}."
            )
        check_arguments(task, args, kwargs)
        return args, kwargs

    # -- results ------------------------------------------------------------------

    def get_result(self, result_id: str) -> TaskResult:
        found = self._item_or_pending(result_id, consistent=True)
        if isinstance(found, TaskItem):
            return to_task_result(found, self.payloads)
        if isinstance(found, Envelope):
            return pending_task_result(found, self.payloads)
        raise TaskResultDoesNotExist(result_id)

    def get_progress(self, result_id: str) -> dict[str, Any] | None:
        """What a running task last reported through `context.report_progress` (read
        eventually consistent: progress a moment old is harmless, and reads cost half)."""
        found = self._item_or_pending(result_id, consistent=False)
        if found is None:
            raise TaskResultDoesNotExist(result_id)
        if isinstance(found, TaskItem) and found.progress:
            return found.progress.as_dict()
        return None

    def _item_or_pending(self, result_id: str, *, consistent: bool) -> TaskItem | Envelope | None:
        """This backend's task of that id: its item, or its envelope still in the outbox."""
        if not is_task_id(result_id):
            return None
        found = outbox.read_through(
            lambda: self.results.get(result_id, consistent=consistent),
            lambda: outbox.pending(self.config.outbox_databases, result_id),
            lambda: self.results.get(result_id),
        )
        return found if found is not None and found.backend == self.alias else None


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
