"""The runner: claim the task for this copy, run one attempt through the middleware, and
record what came of it. It never decides the message's fate (worker/disposition.py does);
it says what happened, as an Outcome.

    claim ──refused──▶ judge the item as it was ──▶ Finished / Failed (letter owed) /
      │                                             Superseded / Waiting / fail: no attempts
      granted
      ▼
    middleware(before) ─▶ body (time limit) ─▶ encode the return value ─▶ record:
      SUCCESSFUL | READY (retry, not_before) | FAILED (letter owed, or expected: none)
    middleware(after), outermost last
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property, partial
from inspect import iscoroutinefunction
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.utils import timezone

from sqs_tasks import sensitive
from sqs_tasks.claim_check import PayloadTooLongLived
from sqs_tasks.envelope import Envelope
from sqs_tasks.errors import ErrorRecord
from sqs_tasks.exceptions import (
    ExpectedFailure,
    MissingResult,
    OutcomeUnrecorded,
    TaskTimeout,
    UnstorableResult,
    WorkerLost,
)
from sqs_tasks.item import FAILED, READY, SUCCESSFUL, StoredJSON, TaskItem
from sqs_tasks.limits.gate import Admission, Held, NotStartable
from sqs_tasks.results import Also, ResultStore, Written
from sqs_tasks.runner import retry, verdict
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
    Failed,
    Finished,
    Letter,
    Outcome,
    RetryLater,
    Succeeded,
    Superseded,
    Waiting,
)
from sqs_tasks.runner.progress import ThrottledProgress
from sqs_tasks.runner.returns import encode_return_value
from sqs_tasks.task import ProgressContext
from sqs_tasks.task_results import task_errors

if TYPE_CHECKING:
    from sqs_tasks.backends.sqs import SQSBackend

# How soon a copy looks again when the item changed under it between two reads.
CONTENDED_DELAY = 1.0


class _ItemOnce:
    """The task's item, read (strongly) at most once, and only if the gate asks: whether
    this copy may start is needed on the way to waiting, never on the way in."""

    def __init__(self, results: ResultStore, envelope: Envelope) -> None:
        self.results = results
        self.envelope = envelope

    @cached_property
    def item(self) -> TaskItem | None:
        return self.results.get(self.envelope.task_id)

    def startable(self) -> bool:
        verdict_now = verdict.judge(self.item, self.envelope.copy, time.time())
        return isinstance(verdict_now, verdict.Due)


@dataclass(frozen=True, slots=True)
class Unwritten:
    """The attempt's outcome was not written; `item` is the task's item as it was."""

    item: TaskItem | None


def default_middleware(sender: type) -> list[Middleware]:
    """Outermost first: the log sees the final outcome, the limit bounds only the task."""
    return [AttemptLog(), AttemptMetrics(), DatabaseConnections(), Signals(sender), TimeLimit()]


class TaskRunner:
    def __init__(self, backend: "SQSBackend", middleware: Sequence[Middleware] | None = None):
        self.backend = backend
        self.results = backend.results
        self.middleware = list(middleware or default_middleware(type(backend)))

    def run(
        self,
        task: Task,
        envelope: Envelope,
        *,
        args: list[Any],
        kwargs: dict[str, Any],
        worker_id: str,
        time_limit: float,
        lease_until: float,
        secrets: sensitive.Values | None = None,
        outcome_until: float | None = None,
    ) -> Outcome:
        """Claim, run and record one attempt. `outcome_until`: until when the outcome's
        write is asked for again while DynamoDB refuses it for a passing reason (a burst
        above the table's capacity), rather than left for the lease to end and the body to
        run again (worker/deadline.py sets it inside the lease and the invocation); None:
        asked once."""
        gate = self.backend.gate
        admission = Admission()
        if envelope.limits:
            item = _ItemOnce(self.results, envelope)
            admitted = gate.admit(
                task,
                envelope.task_id,
                envelope.limits,
                lease_until,
                envelope.reserved,
                startable=item.startable,
            )
            match admitted:
                case NotStartable():
                    return self.judge_copy(envelope, item.item, timezone.now())
                case Held(wait=wait, reason=reason, reserved=reserved):
                    # Waiting is not failing: no attempt spent.
                    self.results.note_waiting(
                        envelope.task_id,
                        copy=envelope.copy,
                        reason=reason,
                        until=time.time() + wait,
                    )
                    return Waiting(wait, reason, reserved)
            admission = admitted
        now = timezone.now()
        claim = self.results.claim(
            envelope.task_id,
            copy=envelope.copy,
            worker_id=worker_id,
            lease_until=lease_until,
            now=now,
            reserved=_reservation_token(envelope) if admission.used_reservation else "",
        )
        if not claim.granted or claim.before is None:
            gate.give_back(admission.taken, envelope.task_id)
            outcome = self.judge_copy(envelope, claim.before, now)
            if envelope.reserved and isinstance(outcome, Waiting):
                # Its reservations admitted this copy once (a duplicate of it may be the
                # attempt running): they admit no other.
                return replace(outcome, reserved=())
            return outcome
        before = claim.before
        shown_args, shown_kwargs = sensitive.redact(args, kwargs, secrets)
        attempt = Attempt(
            task=task,
            envelope=envelope,
            args=args,
            kwargs=kwargs,
            secrets=secrets,
            task_result=self._running_result(
                task, envelope, shown_args, shown_kwargs, before, worker_id, now
            ),
            worker_id=worker_id,
            number=before.attempts + 1,
            time_limit=time_limit,
            outcome_until=outcome_until,
        )
        carried = [self._lost_error(now)] if claim.lease_lost else []

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
        # The limits' places go back with the outcome, in one request (results.Also).
        ran_for = (timezone.now() - now).total_seconds()
        releases = gate.releases(admission, envelope.task_id, ran_for)
        try:
            outcome = self._record(attempt, value, error, carried, before, releases)
        except Exception as unrecorded:
            raise OutcomeUnrecorded(lease_until) from unrecorded
        if isinstance(outcome, Unwritten):
            # Neither the outcome nor the releases were written (one transaction). Why
            # not, the item says: see _record.
            gate.give_back(admission.places, envelope.task_id)
            outcome = self.judge_copy(envelope, outcome.item, timezone.now())
        for middleware in reversed(self.middleware):
            middleware.after_attempt(attempt, outcome)
        return outcome

    # -- the attempt --------------------------------------------------------------------

    def _execute(self, attempt: Attempt) -> str:
        """Run the body and return its value as JSON text, ready to store."""
        task = attempt.task
        args = list(attempt.args)
        if task.takes_context:
            reporter = ThrottledProgress(
                partial(self.results.report_progress, attempt.task_id, attempt.worker_id)
            )
            args.insert(0, ProgressContext(task_result=attempt.task_result, reporter=reporter))
        if iscoroutinefunction(task.func):
            value = asyncio.run(_within(task.func(*args, **attempt.kwargs), attempt.time_limit))
        else:
            value = task.func(*args, **attempt.kwargs)
        return encode_return_value(value)

    def _record(
        self,
        attempt: Attempt,
        value: str | None,
        error: BaseException | None,
        carried: list[ErrorRecord],
        before: TaskItem,
        releases: list[Also],
    ) -> "Outcome | Unwritten":
        """Write what the attempt came to, if this attempt still holds the task.

        DynamoDB refusing the write for a passing reason (a burst above the table's
        capacity), it is asked again until `attempt.outcome_until` (results.py): given up,
        the task's body runs again once the lease ends.

        A refused write is not always someone else's win. DynamoDB may apply an
        UpdateItem whose response never arrives; botocore, or the asking again, sends it
        again, and the next try finds its own first one (no longer RUNNING under this
        lease) and is refused. The item, returned with the refusal, is the truth: when it
        is this attempt's outcome as written (_as_written), the outcome stands as if the
        answer had come; otherwise the copy is judged on it like any refused claim. (A
        TransactWriteItems asked again carries the same ClientRequestToken, so DynamoDB
        answers it as the first.)"""
        now = timezone.now()
        result, task_id = attempt.task_result, attempt.task_id
        owned = {"owner": attempt.worker_id, "also": releases, "until": attempt.outcome_until}
        if error is None and value is not None:
            # S3 refusing a large value (throttled, unreachable) raises on, as DynamoDB
            # refusing the write of a success past outcome_until does: this attempt's
            # outcome is not recorded, and the task runs again once its lease ends
            # (at-least-once), rather than failing for good a task whose body succeeded.
            try:
                stored = self._stored_return_value(task_id, value)
            except PayloadTooLongLived as storing:  # it never will be: fail once, not again
                error = UnstorableResult(f"the return value could not be stored: {storing}")
            else:
                written = self.results.record_success(
                    task_id, now=now, value=stored, carried=carried, **owned
                )
                _update(result, TaskResultStatus.SUCCESSFUL, now, finished=True)
                object.__setattr__(result, "_return_value", value)
                return _as_written(attempt, written, Succeeded(), SUCCESSFUL, now)

        assert error is not None
        record = ErrorRecord.from_exception(
            error, now, scrub=partial(sensitive.scrub, values=attempt.secrets)
        )
        result.errors.extend(task_errors([record]))
        errors = [*carried, record]
        if isinstance(error, ExpectedFailure):
            written = self.results.record_failure(
                before, now=now, errors=errors, letter_copy=None, expected=True, **owned
            )
            _update(result, TaskResultStatus.FAILED, now, finished=True)
            return _as_written(attempt, written, Finished(FAILED, record), FAILED, now)
        config = self.backend.config
        if retry.should_retry(error, attempt.envelope.policy, attempt.number):
            delay = retry.retry_delay(
                error, attempt.number, config.retry_backoff_base, config.retry_backoff_max
            )
            written = self.results.record_retry(
                task_id, now=now, errors=errors, not_before=now.timestamp() + delay, **owned
            )
            _update(result, TaskResultStatus.READY, now, finished=False)
            return _as_written(attempt, written, RetryLater(record, delay), READY, now)
        written = self.results.record_failure(
            before, now=now, errors=errors, letter_copy=attempt.envelope.copy, **owned
        )
        _update(result, TaskResultStatus.FAILED, now, finished=True)
        failed = replace(before, errors=(*before.errors, *errors), attempts=attempt.number)
        letter = dead_letter_of(failed, attempt.envelope.copy)
        return _as_written(attempt, written, Failed(letter, record), FAILED, now)

    def _stored_return_value(self, task_id: str, text: str) -> StoredJSON:
        config = self.backend.config
        if len(text.encode()) <= config.result_inline_limit:
            return StoredJSON(text=text)
        lifetime = timedelta(seconds=config.result_ttl)
        return StoredJSON(ref=self.backend.payloads.put_result(task_id, text, lifetime))

    # -- a copy that may not start an attempt -------------------------------------------

    def judge_copy(self, envelope: Envelope, item: TaskItem | None, now: datetime) -> Outcome:
        """The outcome for a copy whose claim was refused, from the item as it was then."""
        moment = now.timestamp()
        match verdict.judge(item, envelope.copy, moment):
            case verdict.Missing():
                raise MissingResult(
                    "the task has no result record (expired or purged)",
                    task_id=envelope.task_id,
                    task_path=envelope.task_path,
                )
            case verdict.Done(status=status):
                return Finished(status)
            case verdict.LetterOwed():
                assert item is not None and item.dead_letter is not None
                return Failed(dead_letter_of(item, item.dead_letter.copy))
            case verdict.Predecessor(successor=successor):
                return Superseded(successor)
            case verdict.Stray():
                return Superseded()
            case verdict.Busy(until=until) | verdict.NotDue(until=until):
                reason = "busy" if item is not None and item.lease else "not due"
                return Waiting(max(0.0, until - moment), reason)
            case verdict.OutOfAttempts():
                assert item is not None
                return self.fail_out_of_attempts(item, envelope.copy, now)
            case verdict.Due():
                return Waiting(CONTENDED_DELAY, "contended")

    def fail_out_of_attempts(self, item: TaskItem, copy: int, now: datetime) -> Outcome:
        """The last attempt died without reporting, or a READY task was left with none
        (its policy shrank): it has failed for good, and owes a dead letter."""
        reason = (
            "an earlier attempt stopped without reporting (timeout or crash)"
            if item.lease is not None
            else "no attempts left"
        )
        error = ErrorRecord.from_exception(WorkerLost(reason), now)
        written = self.results.record_failure(item, now=now, errors=[error], letter_copy=copy)
        if not written.done:  # it changed meanwhile: look again soon
            return Waiting(CONTENDED_DELAY, "contended")
        return Failed(dead_letter_of(replace(item, errors=(*item.errors, error)), copy), error)

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _lost_error(now: datetime) -> ErrorRecord:
        return ErrorRecord.from_exception(
            WorkerLost("an earlier attempt stopped without reporting (timeout or crash)"), now
        )

    @staticmethod
    def _running_result(
        task: Task,
        envelope: Envelope,
        args: list[Any],
        kwargs: dict[str, Any],
        before: TaskItem,
        worker_id: str,
        now: datetime,
    ) -> TaskResult:
        return TaskResult(
            task=task,
            id=envelope.task_id,
            status=TaskResultStatus.RUNNING,
            enqueued_at=envelope.enqueued_at,
            started_at=before.started_at or now,
            finished_at=None,
            last_attempted_at=now,
            args=args,
            kwargs=kwargs,
            backend=envelope.backend,
            errors=task_errors(list(before.errors)),
            worker_ids=[*before.worker_ids, worker_id],
        )


def _as_written(
    attempt: Attempt, written: Written, outcome: Outcome, status: str, now: datetime
) -> Outcome | Unwritten:
    """`outcome` if the attempt's write went through: it said so, or it was refused by its
    own earlier try, whose answer was lost. The item then is as that write left it: in
    `status`, finished `now` (READY: not finished), its lease gone, with this attempt's
    number and worker last. No other write leaves it so: another attempt's claim counts
    itself and names its own worker, and a failure written without the lease (the task
    out of attempts, found stranded) is stamped with its own time. The limits' places went
    back with that write (one transaction): they are not given back again."""
    item = written.before
    own = (
        item is not None
        and item.status == status
        and item.finished_at == (None if status == READY else now)
        and item.lease is None
        and item.attempts == attempt.number
        and item.worker_ids[-1:] == (attempt.worker_id,)
    )
    return outcome if written.done or own else Unwritten(item)


def _reservation_token(envelope: Envelope) -> str:
    """The reservations a copy carries, as the claim marks them spent: by what they are,
    not by the copy, so a fresh copy given the same starts cannot use them again."""
    return ",".join(f"{limit}@{at!r}" for limit, at in envelope.reserved)


def dead_letter_of(item: TaskItem, copy: int) -> Letter:
    """What the dead letter of a failed item says, for the copy whose body it carries."""
    last = item.errors[-1] if item.errors else None
    first = item.errors[0] if item.errors else None
    return Letter(
        task_id=item.id,
        task_path=item.task_path,
        exception_class=last.exception_class_path if last else "unknown",
        exception_message=last.message if last else "",
        attempts=item.attempts,
        first_failed_at=(first.at if first else timezone.now()).isoformat(),
        copy=copy,
    )


async def _within(coroutine: Any, seconds: float) -> Any:
    """Await the task's coroutine in this thread's own event loop, cancelled when its time
    is up: a thread running `async_to_sync` cannot be interrupted, a coroutine can."""
    try:
        async with asyncio.timeout(seconds) as limit:
            return await coroutine
    except TimeoutError:
        if limit.expired():
            raise TaskTimeout(f"attempt exceeded its time limit of {seconds:g}s") from None
        raise


def _update(result: TaskResult, status: TaskResultStatus, now: datetime, *, finished: bool) -> None:
    object.__setattr__(result, "status", status)
    if finished:
        object.__setattr__(result, "finished_at", now)
