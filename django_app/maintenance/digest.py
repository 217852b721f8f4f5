"""The daily digest of tasks that failed for good, emailed to the operators.

Failures are read from the `by-status` index (status = FAILED, updated_at in the day), so
the digest costs one Query however large the table. The day is the one before the tick,
in UTC like every timestamp in the table, so a late retry still reports the right day.
Nothing is sent when nothing failed, or when no operator address is configured.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from sqs_tasks.results import FAILED, ResultStore

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
    def from_item(cls, item: dict[str, Any]) -> "Failure":
        last = (item.get("errors") or [{}])[-1]
        return cls(
            id=item["id"],
            task_path=item.get("task_path", ""),
            queue_name=item.get("queue_name", ""),
            failed_at=item.get("updated_at", ""),
            attempts=int(item.get("attempts") or len(item.get("worker_ids") or [])),
            exception=last.get("exception_class_path", ""),
            message=(last.get("message") or "").strip()[:300],
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


def collect(results: ResultStore, day: date) -> Digest:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1) - timedelta(microseconds=1)
    counts: Counter[str] = Counter()
    latest: list[Failure] = []
    for item in results.by_status(FAILED, since=start.isoformat(), until=end.isoformat()):
        counts[item.get("task_path", "")] += 1
        if len(latest) < SHOWN:
            latest.append(Failure.from_item(item))
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
