"""The staff overview on the task list: per queue, what waits and runs now and what
happened over the last day.

Nothing here reads a task: "now" is SQS's own counters, "the last day" is the metrics the
workers emit (sqs_tasks.api.task_counts), so its cost is the same few requests whatever
the traffic. A periodic task (`refresh-task-overview`, every fifteen minutes) computes
it ahead into Django's cache, which every web Lambda instance shares: a page view then
costs no AWS request at all, and computes only on a miss (a cold cache, or a schedule
that stopped), storing what it computed for the next request.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache

from sqs_tasks import api

CACHE_KEY = "jobs:task-overview:v2"
# Three missed refreshes: past that, a page computes it again rather than show it.
CACHE_SECONDS = 45 * 60
WINDOW = timedelta(hours=24)
COLUMNS = {
    "waiting": "Waiting",
    "in_flight": "Running or retrying",
    "delayed": "Delayed",
    "dead_letters": "Dead letters",
    "enqueued": "Enqueued (24 h)",
    "succeeded": "Succeeded (24 h)",
    "retried": "Retried (24 h)",
    "failed": "Failed (24 h)",
}


@dataclass(frozen=True, slots=True)
class Overview:
    computed_at: str  # ISO, UTC
    queues: dict[str, dict[str, int]]  # queue -> column -> count
    oldest_waiting: dict[str, float | None]  # queue -> seconds, None where unknown

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def rows(self) -> list[tuple[str, list[int], float | None]]:
        """(queue, counts in COLUMNS order, oldest wait), for the page's table."""
        return [
            (queue, [counts[c] for c in COLUMNS], self.oldest_waiting.get(queue))
            for queue, counts in sorted(self.queues.items())
        ]


def compute(now: datetime) -> Overview:
    depths = {depth.queue: depth for depth in api.queue_depths()}
    counts = {found.queue: found for found in api.task_counts(window=WINDOW)}
    queues = {}
    for name in sorted(depths):
        depth, count = depths[name], counts[name]
        queues[name] = {
            "waiting": depth.backlog,
            "in_flight": depth.in_flight,
            "delayed": depth.delayed,
            "dead_letters": depth.dead_letters,
            "enqueued": count.enqueued,
            "succeeded": count.succeeded,
            "retried": count.retried,
            "failed": count.failed,
        }
    return Overview(
        computed_at=now.isoformat(),
        queues=queues,
        oldest_waiting={name: counts[name].oldest_waiting_seconds for name in queues},
    )


def refresh(now: datetime) -> Overview:
    """Compute the overview and put it in the cache, for every web instance to read."""
    overview = compute(now)
    cache.set(CACHE_KEY, overview.as_dict(), CACHE_SECONDS)
    return overview


def forget() -> None:
    """Drop the cached overview: the next page computes it afresh."""
    cache.delete(CACHE_KEY)


def current(now: datetime) -> Overview:
    """The cached overview; on a miss, computed now and cached."""
    stored = cache.get(CACHE_KEY)
    if stored is not None:
        return Overview(**stored)
    return refresh(now)
