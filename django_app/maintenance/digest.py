"""The daily digest of tasks that failed for good, emailed to the operators.

Failures are read from the sparse index of failed tasks (sqs_tasks.api.failed_tasks), so
the digest costs reads in proportion to the day's failures, not to its tasks. Expected
failures (a user's malformed file) and cancellations are left out: nothing to fix. The
day is the one before the tick, in UTC like every timestamp in the table, so a late retry
still reports the right day.
Nothing is sent when nothing failed, or when no operator address is configured.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from sqs_tasks import api

SHOWN = 50  # failures listed one by one; the counts by task cover them all


@dataclass(frozen=True, slots=True)
class Failure:
    id: str
    task_path: str
    queue_name: str
    failed_at: str
    attempts: int
    exception: str
    message: str

    @classmethod
    def from_entry(cls, entry: api.FailedEntry) -> "Failure":
        return cls(
            id=entry.task_id,
            task_path=entry.task_path,
            queue_name=entry.queue,
            failed_at=entry.failed_at.isoformat(),
            attempts=entry.attempts,
            exception=entry.exception_class,
            message=entry.message.strip()[:300],
        )


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    total: int
    by_task: tuple[tuple[str, int], ...]  # most failures first
    latest: tuple[Failure, ...]  # newest first, at most SHOWN

    @property
    def subject(self) -> str:
        plural = "s" if self.total != 1 else ""
        return f"[{settings.RESOURCE_PREFIX}] {self.total} task{plural} failed on {self.day}"

    def body(self) -> str:
        return render_to_string(
            "maintenance/failed_tasks_digest.txt",
            {"digest": self, "environment": settings.RESOURCE_PREFIX},
        )


def day_before(tick: datetime) -> date:
    return tick.astimezone(UTC).date() - timedelta(days=1)


def collect(day: date) -> Digest:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1) - timedelta(microseconds=1)
    counts: Counter[str] = Counter()
    latest: list[Failure] = []
    for entry in api.failed_tasks(since=start, until=end):
        counts[entry.task_path] += 1
        if len(latest) < SHOWN:
            latest.append(Failure.from_entry(entry))
    return Digest(
        day=day,
        total=sum(counts.values()),
        by_task=tuple(counts.most_common()),
        latest=tuple(latest),
    )


def send(digest: Digest, recipients: list[str]) -> bool:
    """Email the digest; False (and nothing sent) when there is nothing to report or
    nobody to tell."""
    if not digest.total or not recipients:
        return False
    EmailMessage(subject=digest.subject, body=digest.body(), to=recipients).send()
    return True
