"""One record of a batch: verify, decode, resolve, run, and dispose of the message.

Anything that must never run (contract 7) is dead-lettered with its reason and the
record succeeds, so the rest of the batch goes on and the message is not redelivered.
"""

import logging
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from django.tasks import Task
from django.utils import timezone

from sqs_tasks import log_context
from sqs_tasks.backends.sqs import SQSBackend, check_arguments
from sqs_tasks.envelope import Envelope
from sqs_tasks.errors import ErrorRecord, class_path
from sqs_tasks.exceptions import (
    ArgumentMismatch,
    InvalidSignature,
    InvalidTaskArguments,
    RejectedMessage,
    UnknownTask,
)
from sqs_tasks.results import FAILED
from sqs_tasks.runner.runner import TaskRunner
from sqs_tasks.task_results import resolve_task
from sqs_tasks.worker import disposition
from sqs_tasks.worker.deadline import Deadline
from sqs_tasks.worker.message import IncomingMessage

logger = logging.getLogger("sqs_tasks.worker")


class NotStarted(Exception):
    """Too little of the invocation is left to start this record; it comes back."""


class RecordHandler:
    def __init__(
        self, backend: SQSBackend, runner: TaskRunner, deadline: Deadline, worker_id: str
    ) -> None:
        self.backend = backend
        self.runner = runner
        self.deadline = deadline
        self.worker_id = worker_id

    def __call__(self, record: SQSRecord, lambda_context: Any = None) -> None:
        message = IncomingMessage.from_record(record)
        with log_context.bound(message_id=message.message_id, task_id=message.attribute("task_id")):
            try:
                self._handle(message)
            except RejectedMessage as rejection:
                self._reject(message, rejection)
            except (disposition.ReturnToQueue, NotStarted):
                raise
            except Exception:
                # AWS unreachable, a bug: the message comes back and is tried again.
                logger.exception("record failed; it returns to the queue")
                raise

    def _handle(self, message: IncomingMessage) -> None:
        envelope = self.backend.codec.decode(message.body, message.signature)
        task = self._runnable_task(envelope)
        if envelope.run_after and envelope.run_after > timezone.now():
            disposition.postpone(message, envelope.run_after)
            return
        time_limit = self.deadline.time_limit(envelope.policy.timeout)
        if time_limit is None:
            raise NotStarted("not enough invocation time left; the record comes back")
        with log_context.bound(task_id=envelope.task_id, request_id=envelope.request_id):
            outcome = self.runner.run(
                task, envelope, worker_id=self.worker_id, time_limit=time_limit
            )
            disposition.apply(
                message, outcome, task_id=envelope.task_id, task_path=envelope.task_path
            )

    def _runnable_task(self, envelope: Envelope) -> Task:
        ids = {"task_id": envelope.task_id, "task_path": envelope.task_path}
        if envelope.backend != self.backend.alias:
            raise UnknownTask(f"backend {envelope.backend!r} is not this worker's", **ids)
        try:
            task = resolve_task(envelope.task_path)
        except ValueError as error:
            raise UnknownTask(str(error), **ids) from None
        if task.backend != self.backend.alias:
            raise UnknownTask(f"{envelope.task_path} belongs to backend {task.backend!r}", **ids)
        try:
            check_arguments(task, envelope.args, envelope.kwargs)
        except InvalidTaskArguments as error:
            raise ArgumentMismatch(str(error), **ids) from None
        return task

    def _reject(self, message: IncomingMessage, rejection: RejectedMessage) -> None:
        logger.warning(
            "message rejected, never executed",
            extra={"reason": rejection.reason, "rejection": type(rejection).__name__},
        )
        # Only a verified message may change a result: a forged one could name any id.
        if rejection.task_id and not isinstance(rejection, InvalidSignature):
            now = timezone.now()
            error = ErrorRecord(class_path(type(rejection)), rejection.reason, "", now)
            self.backend.results.finish(
                rejection.task_id, status=FAILED, now=now, errors=[error.to_dict()]
            )
        disposition.dead_letter(
            message,
            task_id=rejection.task_id,
            task_path=rejection.task_path,
            exception_class=class_path(type(rejection)),
            exception_message=rejection.reason,
            attempts=0,
        )
