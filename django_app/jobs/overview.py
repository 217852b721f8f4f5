"""The staff overview on the task list: how many tasks are in each status, per queue, over
the last day, read from the result store.

Counting means reading every result of the day through the `by-status` index, one Query
page per MB: far too slow for a page view once the system is busy. So a periodic task
(`refresh-task-overview`, every five minutes) computes it and puts it in Django's cache,
which every web Lambda instance shares (the database cache by default); the page reads the
cache and computes only on a miss (a cold cache, or a schedule that stopped), storing what
it computed for the next request.
"""

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.tasks import TaskResultStatus, default_task_backend

CACHE_KEY = "jobs:task-overview:v1"
# Three missed refreshes: past that, a page computes it again rather than show it.
CACHE_SECONDS = 15 * 60
WINDOW = timedelta(hours=24)
STATUSES = [status.value for status in TaskResultStatus]


@dataclass(frozen=True, slots=True)
class Overview:
    computed_at: str  # ISO, UTC
    since: str  # the window's start: results updated since then are counted
    counts: dict[str, dict[str, int]]  # queue -> status -> tasks

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """(queue, count per status in STATUSES order), for the page's table."""
        return [(queue, [by[s] for s in STATUSES]) for queue, by in sorted(self.counts.items())]


def compute(now: datetime) -> Overview:
    """Count the results updated in the window before `now`, per queue and status."""
    since = (now - WINDOW).isoformat()
    counts: dict[str, Counter[str]] = {q: Counter() for q in default_task_backend.queues}
    for status in STATUSES:
        for item in default_task_backend.results.by_status(status, since=since):
            counts.setdefault(item.get("queue_name", ""), Counter())[status] += 1
    return Overview(
        computed_at=now.isoformat(),
        since=since,
        counts={queue: {s: by[s] for s in STATUSES} for queue, by in counts.items()},
    )


def refresh(now: datetime) -> Overview:
    """Compute the overview and put it in the cache, for every web instance to read."""
    overview = compute(now)
    cache.set(CACHE_KEY, overview.as_dict(), CACHE_SECONDS)
    return overview


def current(now: datetime) -> Overview:
    """The cached overview; on a miss, computed now and cached."""
    stored = cache.get(CACHE_KEY)
    if stored is not None:
        return Overview(**stored)
    return refresh(now)
