"""Progress a running task reports, written to its result at a bounded rate."""

import time
from collections.abc import Callable

from sqs_tasks.item import Progress


class ThrottledProgress:
    """Writes progress at most every `min_interval` seconds, and always the final step,
    so a task reporting from a tight loop cannot flood the table (or its bill)."""

    def __init__(self, write: Callable[[Progress], None], min_interval: float = 0.5):
        self.write = write
        self.min_interval = min_interval
        self._last = float("-inf")

    def __call__(self, current: int, total: int | None = None, message: str = "") -> None:
        now = time.monotonic()
        done = total is not None and current >= total
        if not done and now - self._last < self.min_interval:
            return
        self._last = now
        self.write(Progress(current, total, message))
