"""How long the next attempt may run, and when the invocation running it ends."""

import time
from dataclasses import dataclass, field
from typing import Any

# Beyond the invocation's end, before a lease counts as run out: clocks differ a little.
LEASE_SLACK = 5.0
# Kept back, beyond the margin, for what follows an outcome's last try (its dead letter
# and the letter's mark, a fresh copy, the batch's answer) under the same burst: botocore's
# own pauses alone may take 7 s.
AFTER_OUTCOME = 10.0


@dataclass(slots=True)
class Deadline:
    context: Any  # Lambda's context, or None outside Lambda
    margin: float  # seconds kept back to record outcomes and answer Lambda
    _started_any: bool = field(default=False, init=False)

    def time_limit(self, timeout: float) -> float | None:
        """The attempt's time limit, or None when it should not start in this invocation.

        A task starts only when its whole timeout fits in the time left, so it is never cut
        short by Lambda. The first record of an invocation always starts, bounded by what is
        left, so a function configured shorter than a task's timeout still makes progress.
        """
        if self.context is None:
            limit: float | None = timeout
        else:
            left = self._left() - self.margin
            if left >= timeout:
                limit = timeout
            elif not self._started_any and left > 1:
                limit = left
            else:
                limit = None
        if limit is not None:
            self._started_any = True
        return limit

    def lease_until(self, time_limit: float) -> float:
        """When an attempt starting now stops counting as alive: not before this
        invocation's hard end, when Lambda stops it whatever the task does with its time
        limit. Outside Lambda, the time limit bounds it."""
        left = self._left() if self.context is not None else time_limit
        return time.time() + max(left, time_limit) + LEASE_SLACK

    def outcome_until(self, lease_until: float) -> float:
        """Until when the outcome of an attempt under this lease may still be asked for
        again (results.py), DynamoDB refusing it for a passing reason.

        Within the lease, by LEASE_SLACK: once the lease has ended, another copy may start
        the task again, by a clock a little ahead of ours. Within this invocation, by the
        margin kept to answer Lambda and AFTER_OUTCOME: in Lambda the lease outlasts the
        invocation (above), so its end bounds only where no invocation does (outside
        Lambda). Both are fixed here, before the attempt starts, as times of the clock the
        tries read."""
        until = lease_until - LEASE_SLACK
        if self.context is not None:
            until = min(until, time.time() + self._left() - self.margin - AFTER_OUTCOME)
        return until

    def _left(self) -> float:
        return self.context.get_remaining_time_in_millis() / 1000
