"""The runner: claim the task, run one attempt through the middleware, record the outcome."""

import json
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.utils import timezone
from django.utils.json import normalize_json

from sqs_tasks.envelope import Envelope
from sqs_tasks.errors import ErrorRecord
from sqs_tasks.exceptions import MissingResult, WorkerLost
from sqs_tasks.results import FAILED, FINISHED, READY, RUNNING, SUCCESSFUL, Claim
from sqs_tasks.runner import retry
from sqs_tasks.runner.attempt import Attempt
from sqs_tasks.runner.middleware import (
    AttemptLog,
    AttemptMetrics,
    DatabaseConnections,
    Middleware,
    Signals,
    TimeLimit,
)
from sqs_tasks.runner.outcome import (
    AlreadyFinished,
    Busy,
    Failed,
    Lost,
    Outcome,
    RetryLater,
    Succeeded,
)
from sqs_tasks.runner.progress import ThrottledProgress
from sqs_tasks.task import ProgressContext
from sqs_tasks.task_results import task_errors

if TYPE_CHECKING:
    from sqs_tasks.backends.sqs import SQSBackend

# The lease outlives the time limit a little, so a slow outcome write is not taken for death.
LEASE_SLACK = 30.0


def default_middleware(sender: type) -> list[Middleware]:
    """Outermost first: the log sees the final outcome, the limit bounds only the task."""
    return [AttemptLog(), AttemptMetrics(), DatabaseConnections(), Signals(sender), TimeLimit()]


class TaskRunner:
    def __init__(self, backend: "SQSBackend", middleware: Sequence[Middleware] | None = None):
        self.backend = backend
        self.results = backend.results
        self.middleware = list(middleware or default_middleware(type(backend)))

    def run(self, task: Task, envelope: Envelope, *, worker_id: str, time_limit: float) -> Outcome:
        now = timezone.now()
        claim = self.results.claim(
            envelope.task_id,
            worker_id=worker_id,
            max_attempts=envelope.policy.max_attempts,
            lease_until=time.time() + time_limit + LEASE_SLACK,
            now=now,
        )
        if not claim.granted:
            return self._not_claimed(envelope, claim, now)
        before = claim.before or {}
        attempt = Attempt(
            task=task,
            envelope=envelope,
            task_result=self._running_result(task, envelope, before, worker_id, now),
            worker_id=worker_id,
            number=before.get("attempts", 0) + 1,
            time_limit=time_limit,
        )
        carried = [self._lost_error(now).to_dict()] if claim.lease_lost else []

        for middleware in self.middleware:
            middleware.before_attempt(attempt)
        call = partial(self._execute, attempt)
        for middleware in reversed(self.middleware):
            call = middleware.wrap(attempt, call)
        try:
            value, error = call(), None
        except KeyboardInterrupt:
            raise
        except BaseException as raised:  # a task's failure is data, whatever it raised
            value, error = None, raised
        outcome = self._record(attempt, value, error, carried, before)
        for middleware in reversed(self.middleware):
            middleware.after_attempt(attempt, outcome)
        return outcome

    def _execute(self, attempt: Attempt) -> Any:
        task, envelope = attempt.task, attempt.envelope
        if task.takes_context:
            context = ProgressContext(
                task_result=attempt.task_result,
                reporter=ThrottledProgress(partial(self.results.report_progress, envelope.task_id)),
            )
            value = task.call(context, *envelope.args, **envelope.kwargs)
        else:
            value = task.call(*envelope.args, **envelope.kwargs)
        return normalize_json(value)  # a value that is not JSON fails the attempt

    def _record(
        self,
        attempt: Attempt,
        value: Any,
        error: BaseException | None,
        carried: list[dict[str, Any]],
        before: dict[str, Any],
    ) -> Outcome:
        now = timezone.now()
        result, task_id = attempt.task_result, attempt.task_id
        if error is None:
            recorded = self.results.finish(
                task_id,
                status=SUCCESSFUL,
                now=now,
                errors=carried,
                fields=self._return_value_fields(task_id, value),
                owner=attempt.worker_id,
            )
            _update(result, TaskResultStatus.SUCCESSFUL, now, finished=True)
            object.__setattr__(result, "_return_value", value)
            return Succeeded() if recorded else Lost()

        record = ErrorRecord.from_exception(error, now)
        result.errors.extend(task_errors([record.to_dict()]))
        config = self.backend.config
        if retry.should_retry(error, attempt.envelope.policy, attempt.number):
            outcome: Outcome = RetryLater(
                record,
                retry.retry_delay(
                    error, attempt.number, config.retry_backoff_base, config.retry_backoff_max
                ),
            )
            status = READY
        else:
            first = (before.get("errors") or [{"at": record.at.isoformat()}])[0]["at"]
            outcome, status = Failed(record, attempt.number, first), FAILED
        recorded = self.results.finish(
            task_id,
            status=status,
            now=now,
            errors=[*carried, record.to_dict()],
            owner=attempt.worker_id,
        )
        _update(result, TaskResultStatus(status), now, finished=status == FAILED)
        return outcome if recorded else Lost()

    def _return_value_fields(self, task_id: str, value: Any) -> dict[str, Any]:
        text = json.dumps(value)
        if len(text.encode()) <= self.backend.config.result_inline_limit:
            return {"return_value": value}
        pointer = self.backend.payloads.put(f"results/{task_id}.json", text)
        return {"return_value_ref": pointer}

    def _not_claimed(self, envelope: Envelope, claim: Claim, now: datetime) -> Outcome:
        before = claim.before
        if before is None:
            raise MissingResult(
                "the task has no result record (expired or purged)",
                task_id=envelope.task_id,
                task_path=envelope.task_path,
            )
        status = before["status"]
        if status in FINISHED:
            return AlreadyFinished(status)
        lease_left = before.get("lease_expires_at", 0) - now.timestamp()
        if status == RUNNING and lease_left > 0:
            return Busy(lease_left)
        # Out of attempts: the last one died without reporting, or a READY task was
        # left with none (its policy shrank). Either way it has failed for good.
        error = (
            self._lost_error(now)
            if status == RUNNING
            else ErrorRecord.from_exception(WorkerLost("no attempts left"), now)
        )
        self.results.finish(envelope.task_id, status=FAILED, now=now, errors=[error.to_dict()])
        first = (before.get("errors") or [{"at": error.at.isoformat()}])[0]["at"]
        return Failed(error, before.get("attempts", 0), first)

    @staticmethod
    def _lost_error(now: datetime) -> ErrorRecord:
        return ErrorRecord.from_exception(
            WorkerLost("an earlier attempt stopped without reporting (timeout or crash)"), now
        )

    @staticmethod
    def _running_result(
        task: Task, envelope: Envelope, before: dict[str, Any], worker_id: str, now: datetime
    ) -> TaskResult:
        started = before.get("started_at")
        return TaskResult(
            task=task,
            id=envelope.task_id,
            status=TaskResultStatus.RUNNING,
            enqueued_at=envelope.enqueued_at,
            started_at=datetime.fromisoformat(started) if started else now,
            finished_at=None,
            last_attempted_at=now,
            args=envelope.args,
            kwargs=envelope.kwargs,
            backend=envelope.backend,
            errors=task_errors(before.get("errors", [])),
            worker_ids=[*before.get("worker_ids", []), worker_id],
        )


def _update(result: TaskResult, status: TaskResultStatus, now: datetime, *, finished: bool) -> None:
    object.__setattr__(result, "status", status)
    if finished:
        object.__setattr__(result, "finished_at", now)
