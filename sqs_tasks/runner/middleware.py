"""Cross-cutting behaviour around each attempt, as small composable pieces.

Each middleware may act before the attempt, wrap the call (to bound or observe it),
and act after the outcome is recorded. The runner composes them; none knows another.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from django.db import close_old_connections
from django.tasks.signals import task_finished, task_started

from sqs_tasks import metrics
from sqs_tasks.exceptions import TaskTimeout
from sqs_tasks.runner.attempt import Attempt
from sqs_tasks.runner.outcome import Failed, Finished, Outcome, RetryLater, Succeeded

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
    """Interrupts the attempt with TaskTimeout when its time is up, and again every second
    after that, so a task that catches it (even with a bare `except:`) cannot run on.
    The lease outlasts the invocation (runner), so nothing else starts the task meanwhile.

    An async task is cancelled inside its own event loop first (runner._within); the
    signal is its backstop, a little later, for a coroutine that blocks its loop.
    SIGALRM reaches only the main thread, which is where Lambda calls the handler.
    Elsewhere (a test calling from a thread) the attempt runs unbounded, and says so.
    """

    REPEAT = 1.0
    ASYNC_GRACE = 2.0

    def wrap(self, attempt: Attempt, call: Call) -> Call:
        if threading.current_thread() is not threading.main_thread():
            logger.warning(
                "time limit not enforced off the main thread", extra={"task_id": attempt.task_id}
            )
            return call
        limit = attempt.time_limit
        if iscoroutinefunction(attempt.task.func):
            limit += self.ASYNC_GRACE

        def bounded() -> Any:
            def expire(signum: int, frame: object) -> None:
                raise TaskTimeout(f"attempt exceeded its time limit of {attempt.time_limit:g}s")

            previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, limit, self.REPEAT)
            try:
                return call()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)

        return bounded


class Signals(Middleware):
    """Django's task_started / task_finished. A receiver that raises is logged and does
    not change the task's outcome, which is already recorded when task_finished is sent."""

    def __init__(self, sender: type) -> None:
        self.sender = sender

    def before_attempt(self, attempt: Attempt) -> None:
        self._send(task_started, attempt)

    def after_attempt(self, attempt: Attempt, outcome: Outcome) -> None:
        self._send(task_finished, attempt)

    def _send(self, signal_: Any, attempt: Attempt) -> None:
        for receiver, response in signal_.send_robust(
            sender=self.sender, task_result=attempt.task_result
        ):
            if isinstance(response, Exception):
                logger.error(
                    "a task signal receiver raised",
                    exc_info=response,
                    extra={"receiver": getattr(receiver, "__qualname__", repr(receiver))},
                )


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
        if isinstance(outcome, Finished) and outcome.error is not None:
            counter = metrics.FAILED  # an expected failure: failed, but owes no letter
        metrics.record_attempt(attempt.envelope.queue_name, counter, duration_ms)


class AttemptLog(Timed):
    """One structured line per attempt: what Logs Insights queries and alarms read."""

    def report(self, attempt: Attempt, outcome: Outcome, duration_ms: float) -> None:
        error = outcome.error if isinstance(outcome, Failed | RetryLater | Finished) else None
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
