"""How long the next attempt may run, given what is left of the Lambda invocation."""

from dataclasses import dataclass, field
from typing import Any


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
            left = self.context.get_remaining_time_in_millis() / 1000 - self.margin
            if left >= timeout:
                limit = timeout
            elif not self._started_any and left > 1:
                limit = left
            else:
                limit = None
        if limit is not None:
            self._started_any = True
        return limit
