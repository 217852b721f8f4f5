"""A health check of every task queue and its dead-letter queue.

Per queue: the backlog (visible, in flight, delayed), the dead-letter count (SQS's own
counters), and how long the oldest waiting message has waited (SQS's CloudWatch metric
ApproximateAgeOfOldestMessage, unknown where no CloudWatch feeds it, as under moto). It
is logged as one JSON line (WARNING when anything is dead-lettered) and, in Lambda,
emitted as CloudWatch metrics in embedded metric format. Its cost does not depend on the
number of tasks: a few requests per queue (sqs_tasks.api).
"""

import logging
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from sqs_tasks import api, metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueHealth:
    queue: str  # the Django queue name
    backlog: int
    in_flight: int
    delayed: int
    oldest_waiting_seconds: float | None  # None when CloudWatch has no figure
    dead_letters: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check() -> list[QueueHealth]:
    """Read every queue's counts and its oldest waiting message's age."""
    oldest = api.oldest_waiting()
    return [
        QueueHealth(
            queue=depth.queue,
            backlog=depth.backlog,
            in_flight=depth.in_flight,
            delayed=depth.delayed,
            oldest_waiting_seconds=oldest.get(depth.queue),
            dead_letters=depth.dead_letters,
        )
        for depth in api.queue_depths()
    ]


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
                "DeadLetterMessages": (MetricUnit.Count, health.dead_letters),
            },
        )
