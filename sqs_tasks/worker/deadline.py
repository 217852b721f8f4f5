"""How long the next attempt may run, and when the invocation running it ends."""

import time
from dataclasses import dataclass, field
from typing import Any

# Beyond the invocation's end, before a lease counts as run out: clocks differ a little.
LEASE_SLACK = 5.0


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

    def _left(self) -> float:
        return self.context.get_remaining_time_in_millis() / 1000
