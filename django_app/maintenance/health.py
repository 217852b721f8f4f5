"""A health check of every task queue and its dead-letter queue.

Per queue: the backlog (visible, in flight, delayed), how long the oldest waiting task has
waited, and the dead-letter count. It is logged as one JSON line (WARNING when anything is
dead-lettered) and, in Lambda, emitted as CloudWatch metrics in embedded metric format: a
log line that CloudWatch turns into metrics, so emitting costs no API call.

The counts come from GetQueueAttributes. The age cannot: SQS has no such attribute, only
the CloudWatch metric `ApproximateAgeOfOldestMessage`, which template.yaml's alarms and
dashboard already read. Reading it back here (GetMetricData) would need an IAM grant on
every resource ("*"), lags by minutes, and is never there under moto or the local stack.
Peeking at messages (ReceiveMessage, visibility 0) would be unsound: every receive counts
toward the queue's maxReceiveCount, so a health check could push a waiting task into its
dead-letter queue, and SQS returns a sample, not the oldest message. So the age comes
from the result store, where every waiting task is a READY item: the `by-status` index,
read oldest first, gives each queue's longest-waiting task that is due (not deferred by
`run_after`). Like SQS's own metric, a task waiting for a retry counts as waiting.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from sqs_tasks import aws, metrics, queues
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.results import READY

logger = logging.getLogger(__name__)

COUNTS = {
    "ApproximateNumberOfMessages": "backlog",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}


@dataclass(frozen=True, slots=True)
class QueueHealth:
    queue: str  # the Django queue name
    backlog: int
    in_flight: int
    delayed: int
    oldest_waiting_seconds: float  # 0 when nothing is waiting
    dead_letters: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(backend: SQSBackend, now: datetime) -> list[QueueHealth]:
    """Read every queue's counts and its oldest waiting task."""
    healths = []
    for name in sorted(backend.queues):
        url = backend.queue_url(name)
        dead = _counts(queues.dead_letter_url(url))
        healths.append(
            QueueHealth(
                queue=name,
                **_counts(url),
                oldest_waiting_seconds=_oldest_waiting(backend, name, now),
                dead_letters=sum(dead.values()),
            )
        )
    return healths


def report(healths: list[QueueHealth]) -> None:
    """One structured log line for all queues, and (in Lambda) one EMF line per queue."""
    level = logging.WARNING if any(h.dead_letters for h in healths) else logging.INFO
    logger.log(level, "queue health", extra={"queues": [h.as_dict() for h in healths]})
    if not metrics.enabled():
        return
    for health in healths:
        metrics.emit(
            health.queue,
            {
                "QueueBacklog": (MetricUnit.Count, health.backlog),
                "QueueInFlight": (MetricUnit.Count, health.in_flight),
                "QueueDelayed": (MetricUnit.Count, health.delayed),
                "QueueOldestWaiting": (MetricUnit.Seconds, health.oldest_waiting_seconds),
                "DeadLetterMessages": (MetricUnit.Count, health.dead_letters),
            },
        )


def _counts(url: str) -> dict[str, int]:
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTS))[
        "Attributes"
    ]
    return {field: int(attributes.get(name, 0)) for name, field in COUNTS.items()}


def _oldest_waiting(backend: SQSBackend, queue_name: str, now: datetime) -> float:
    """Seconds since the oldest due READY task of the queue last changed (its enqueue, or
    its last failed attempt); the index is read oldest first, up to the first match."""
    for item in backend.results.by_status(
        READY, queue=queue_name, due_by=now, oldest_first=True, limit=1
    ):
        waited = now - datetime.fromisoformat(item["updated_at"])
        return round(max(0.0, waited.total_seconds()), 3)
    return 0.0
