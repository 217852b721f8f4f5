"""Cross-cutting behaviour around each attempt, as small composable pieces.

Each middleware may act before the attempt, wrap the call (to bound or observe it),
and act after the outcome is recorded. The runner composes them; none knows another.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections
from django.tasks.signals import task_finished, task_started

from sqs_tasks import metrics
from sqs_tasks.exceptions import TaskTimeout
from sqs_tasks.runner.attempt import Attempt
from sqs_tasks.runner.outcome import Failed, Outcome, RetryLater, Succeeded

logger = logging.getLogger("sqs_tasks.attempt")

Call = Callable[[], Any]


class Middleware:
    def before_attempt(self, attempt: Attempt) -> None:
        pass

    def wrap(self, attempt: Attempt, call: Call) -> Call:
        return call

    def after_attempt(self, attempt: Attempt, outcome: Outcome) -> None:
        pass


class DatabaseConnections(Middleware):
    """What Django does around a request, done around a task: a connection that went
    stale while Lambda was frozen is closed rather than used."""

    def before_attempt(self, attempt: Attempt) -> None:
        close_old_connections()

    def after_attempt(self, attempt: Attempt, outcome: Outcome) -> None:
        close_old_connections()


class TimeLimit(Middleware):
    """Interrupts the attempt with TaskTimeout when its time is up.

    SIGALRM reaches only the main thread, which is where Lambda calls the handler.
    Elsewhere (a test calling from a thread) the attempt runs unbounded, and says so.
    """

    def wrap(self, attempt: Attempt, call: Call) -> Call:
        if threading.current_thread() is not threading.main_thread():
            logger.warning(
                "time limit not enforced off the main thread", extra={"task_id": attempt.task_id}
            )
            return call

        def bounded() -> Any:
            def expire(signum: int, frame: object) -> None:
                raise TaskTimeout(f"attempt exceeded its time limit of {attempt.time_limit:g}s")

            previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, attempt.time_limit)
            try:
                return call()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)

        return bounded


class Signals(Middleware):
    """Django's task_started / task_finished, sent as Django's own backends send them."""

    def __init__(self, sender: type) -> None:
        self.sender = sender

    def before_attempt(self, attempt: Attempt) -> None:
        task_started.send(sender=self.sender, task_result=attempt.task_result)

    def after_attempt(self, attempt: Attempt, outcome: Outcome) -> None:
        task_finished.send(sender=self.sender, task_result=attempt.task_result)


class Timed(Middleware):
    """Base for middleware that reports an attempt's duration when it ends."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_attempt(self, attempt: Attempt) -> None:
        self._started[attempt.task_id] = time.monotonic()

    def after_attempt(self, attempt: Attempt, outcome: Outcome) -> None:
        started = self._started.pop(attempt.task_id, time.monotonic())
        self.report(attempt, outcome, (time.monotonic() - started) * 1000)

    def report(self, attempt: Attempt, outcome: Outcome, duration_ms: float) -> None:
        raise NotImplementedError


class AttemptMetrics(Timed):
    """Counts and durations per queue, as EMF; the batch loop flushes them once per batch."""

    COUNTERS = {Succeeded: metrics.SUCCEEDED, RetryLater: metrics.RETRIED, Failed: metrics.FAILED}

    def report(self, attempt: Attempt, outcome: Outcome, duration_ms: float) -> None:
        counter = self.COUNTERS.get(type(outcome))
        metrics.record_attempt(attempt.envelope.queue_name, counter, duration_ms)


class AttemptLog(Timed):
    """One structured line per attempt: what Logs Insights queries and alarms read."""

    def report(self, attempt: Attempt, outcome: Outcome, duration_ms: float) -> None:
        error = outcome.error if isinstance(outcome, Failed | RetryLater) else None
        logger.log(
            logging.ERROR if isinstance(outcome, Failed) else logging.INFO,
            "task attempt finished",
            extra={
                "task_name": attempt.task.name,
                "task_path": attempt.envelope.task_path,
                "queue": attempt.envelope.queue_name,
                "attempt": attempt.number,
                "outcome": type(outcome).__name__,
                "duration_ms": round(duration_ms, 1),
                "error_class": error.exception_class_path if error else None,
                "error_message": error.message if error else None,
            },
        )
