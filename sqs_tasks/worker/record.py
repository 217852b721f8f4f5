"""One record of a batch: verify, decode, resolve, run, and dispose of the message.

Anything that must never run (contract 7) is dead-lettered with its reason and the
record succeeds, so the rest of the batch goes on. A verified message that names a task
also fails that task's item, once, so the FAILED list and the dead letters agree.
"""

import logging
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from django.tasks import Task
from django.utils import timezone

from sqs_tasks import log_context, queues, sensitive
from sqs_tasks.backends.sqs import SQSBackend, check_arguments
from sqs_tasks.envelope import Envelope, decode_arguments
from sqs_tasks.errors import ErrorRecord, class_path
from sqs_tasks.exceptions import (
    ArgumentMismatch,
    InvalidSignature,
    InvalidTaskArguments,
    KeysBehind,
    MalformedEnvelope,
    MisroutedMessage,
    OutcomeUnrecorded,
    RejectedMessage,
    UnknownTask,
)
from sqs_tasks.item import WorkflowRef
from sqs_tasks.runner import verdict
from sqs_tasks.runner.outcome import Failed, Letter, Outcome, Waiting
from sqs_tasks.runner.runner import TaskRunner, dead_letter_of
from sqs_tasks.task_results import read_json, resolve_task
from sqs_tasks.worker.copies import Copies
from sqs_tasks.worker.deadline import Deadline
from sqs_tasks.worker.disposition import (
    NOT_STARTED_DELAY,
    Disposition,
    ReturnToQueue,
    return_at,
    return_later,
)
from sqs_tasks.worker.letters import send_letter
from sqs_tasks.worker.message import IncomingMessage
from sqs_tasks.workflows.engine import Engine

logger = logging.getLogger("sqs_tasks.worker")

# How soon a record that failed unexpectedly (AWS refused a call) comes back.
TRANSIENT_DELAY = 10.0


class RecordHandler:
    def __init__(
        self, backend: SQSBackend, runner: TaskRunner, deadline: Deadline, worker_id: str
    ) -> None:
        self.backend = backend
        self.results = backend.results
        self.runner = runner
        self.deadline = deadline
        self.worker_id = worker_id
        self.engine = Engine(backend)
        # Workflow steps that succeeded in this batch, with their messages: what follows
        # them starts once the batch has run (finish_batch), so the members of one join
        # that finish together are recorded together (workflows/engine.py).
        self.succeeded_steps: list[tuple[WorkflowRef, IncomingMessage]] = []
        self.disposition = Disposition(
            backend.results, Copies(backend.results, backend.codec), self._continue_after_batch
        )

    def _continue_after_batch(self, message: IncomingMessage, ref: WorkflowRef) -> None:
        self.succeeded_steps.append((ref, message))

    def finish_batch(self) -> list[str]:
        """Start what follows the workflow steps that succeeded in this batch. Returns the
        ids of the messages to report as failed: those whose continuation did not start
        come back soon, and their redelivery starts it again."""
        if not self.succeeded_steps:
            return []
        try:
            failed = self.engine.steps_succeeded([ref for ref, _ in self.succeeded_steps])
        except Exception:
            logger.exception("workflow steps' continuations failed; their messages return")
            failed = set(range(len(self.succeeded_steps)))
        returned = []
        for position in sorted(failed):
            message = self.succeeded_steps[position][1]
            try:
                return_later(message, TRANSIENT_DELAY)
            except ReturnToQueue:
                returned.append(message.message_id)
        return returned

    def __call__(self, record: SQSRecord, lambda_context: Any = None) -> None:
        message = IncomingMessage.from_record(record)
        with log_context.bound(message_id=message.message_id, task_id=message.attribute("task_id")):
            try:
                self._handle(message)
            except RejectedMessage as rejection:
                self._reject(message, rejection)
            except ReturnToQueue:
                raise
            except OutcomeUnrecorded as unrecorded:
                logger.exception("outcome not recorded; the message returns when the lease ends")
                return_at(message, unrecorded.lease_until, at_least=TRANSIENT_DELAY)
            except KeysBehind as behind:
                logger.info("signing key not read yet; the message returns: %s", behind)
                return_later(message, behind.retry_in)
            except Exception:
                # AWS refusing a call, a bug: the message comes back soon and is tried
                # again, not after the queue's whole visibility timeout.
                logger.exception("record failed; it returns to the queue")
                return_later(message, TRANSIENT_DELAY)

    def _handle(self, message: IncomingMessage) -> None:
        envelope = self.backend.codec.decode(
            message.body, message.signature, sent_at=message.sent_at
        )
        with log_context.bound(task_id=envelope.task_id, request_id=envelope.request_id):
            task = self._runnable_task(envelope, message)
            now = timezone.now()
            if envelope.run_after and envelope.run_after > now:
                # Not due for a while: no need to ask the item (its not_before is later still).
                wait = (envelope.run_after - now).total_seconds()
                outcome: Outcome = Waiting(wait, "not due")
            elif (time_limit := self.deadline.time_limit(envelope.policy.timeout)) is None:
                outcome = Waiting(NOT_STARTED_DELAY, "not started: too little time left")
            else:
                args, kwargs, secrets = self._arguments(task, envelope)
                lease_until = self.deadline.lease_until(time_limit)
                outcome = self.runner.run(
                    task,
                    envelope,
                    args=args,
                    kwargs=kwargs,
                    secrets=secrets,
                    worker_id=self.worker_id,
                    time_limit=time_limit,
                    lease_until=lease_until,
                    outcome_until=self.deadline.outcome_until(lease_until),
                )
            self.disposition.apply(message, envelope, outcome)

    def _runnable_task(self, envelope: Envelope, message: IncomingMessage) -> Task:
        ids = {"task_id": envelope.task_id, "task_path": envelope.task_path}
        if envelope.backend != self.backend.alias:
            raise UnknownTask(f"backend {envelope.backend!r} is not this worker's", **ids)
        lane = self.backend.lane_for(envelope.queue_name, envelope.priority)
        expected_queue = self.backend.sqs_queue_name(envelope.queue_name, lane)
        if message.queue_name and message.queue_name != expected_queue:
            raise MisroutedMessage(
                f"names queue {expected_queue!r} but arrived on {message.queue_name!r}", **ids
            )
        try:
            task = resolve_task(envelope.task_path)
        except ValueError as error:
            raise UnknownTask(str(error), **ids) from None
        if task.backend != self.backend.alias:
            raise UnknownTask(f"{envelope.task_path} belongs to backend {task.backend!r}", **ids)
        return task

    def _arguments(
        self, task: Task, envelope: Envelope
    ) -> tuple[list[Any], dict[str, Any], sensitive.Values | None]:
        """The call's arguments (from S3 when claim-checked, with their sensitive values
        put back), fitted to the function; and those values, to scrub from errors."""
        ids = {"task_id": envelope.task_id, "task_path": envelope.task_path}
        text = read_json(envelope.arguments, self.backend.payloads, task_id=envelope.task_id)
        secrets = None
        if envelope.sensitive is not None:
            secrets = sensitive.unseal(
                envelope.sensitive, signer=self.backend.codec.signer, task_id=envelope.task_id
            )
        try:
            args, kwargs = decode_arguments(text)
            if secrets is not None:
                args, kwargs = sensitive.merge(args, kwargs, secrets)
            check_arguments(task, args, kwargs)
        except (ValueError, IndexError, InvalidTaskArguments) as error:
            raise ArgumentMismatch(str(error), **ids) from None
        return args, kwargs, secrets

    # -- messages that must never run ------------------------------------------------------

    def _reject(self, message: IncomingMessage, rejection: RejectedMessage) -> None:
        logger.warning(
            "message rejected, never executed",
            extra={"reason": rejection.reason, "rejection": type(rejection).__name__},
        )
        now = timezone.now()
        error = ErrorRecord(class_path(type(rejection)), rejection.reason, "", now)
        envelope = None if isinstance(rejection, InvalidSignature) else self._envelope_of(message)
        outcome = self._fail_rejected(envelope, error) if envelope else None
        if envelope is not None and outcome is not None:
            self.disposition.apply(message, envelope, outcome)
            return
        # No item this message may change: it did not verify (a forged message could
        # name any task), or names none that exists. A letter of its own, with what is known.
        letter = Letter(
            task_id=rejection.task_id,
            task_path=rejection.task_path,
            exception_class=error.exception_class_path,
            exception_message=error.message,
            attempts=0,
            first_failed_at=now.isoformat(),
            copy=envelope.copy if envelope else 0,
        )
        send_letter(
            None,
            letter,
            dead_letter_url=queues.dead_letter_url(message.queue_url),
            body=message.body,
            signature=message.signature,
            source_queue=message.queue_name,
        )

    def _fail_rejected(self, envelope: Envelope, error: ErrorRecord) -> Outcome | None:
        """Fail the task of a verified message as a failed attempt would: the item first,
        then the letter it owes. None when the task has no item."""
        item = self.results.get(envelope.task_id)
        match verdict.judge(item, envelope.copy, timezone.now().timestamp()):
            case verdict.Missing():
                return None
            case verdict.Due() | verdict.NotDue() | verdict.OutOfAttempts():
                assert item is not None
                written = self.results.record_failure(
                    item, now=error.at, errors=[error], letter_copy=envelope.copy
                )
                if not written.done:
                    return Waiting(NOT_STARTED_DELAY, "contended")
                failed = replace(item, errors=(*item.errors, error))
                return Failed(dead_letter_of(failed, envelope.copy), error)
            case _:
                return self.runner.judge_copy(envelope, item, timezone.now())

    def _envelope_of(self, message: IncomingMessage) -> Envelope | None:
        """The envelope of a message whose signature verifies, even if the rest of it is
        unusable here (an unknown task, misrouted); None if it does not parse."""
        try:
            return self.backend.codec.decode(message.body, message.signature)
        except (InvalidSignature, MalformedEnvelope):
            return None
