"""How the task system is doing, read without touching a single task's item.

Counting tasks by reading their results would cost reads in proportion to the tasks; a
periodic job doing that every few minutes would grow with the traffic. Instead:

- counts per queue (enqueued, succeeded, retried, failed) come from the metrics the
  workers and relays already emit as EMF log lines (metrics.py), read back with one
  CloudWatch GetMetricData request for every queue at once;
- how many messages wait, run and sit in dead-letter queues comes from SQS's own
  counters (GetQueueAttributes, two per queue);
- how long the oldest message has waited is SQS's CloudWatch metric
  ApproximateAgeOfOldestMessage, read in the same GetMetricData request (unknown where
  no CloudWatch feeds it).

So a run costs the same few requests at ten tasks a day or ten million.
"""

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqs_tasks import aws, metrics, queues
from sqs_tasks.backends.sqs import SQSBackend

_SQS_COUNTS = {
    "ApproximateNumberOfMessages": "backlog",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}
_TASK_METRICS = {
    metrics.ENQUEUED: "enqueued",
    metrics.SUCCEEDED: "succeeded",
    metrics.RETRIED: "retried",
    metrics.FAILED: "failed",
}
OLDEST_WINDOW = timedelta(minutes=10)
_DEPTH_FIELDS = ("backlog", "in_flight", "delayed", "dead_letters")


@dataclass(frozen=True, slots=True)
class QueueDepth:
    queue: str  # the Django queue name
    backlog: int  # waiting, visible
    in_flight: int  # received and not yet deleted: running, or hidden until a retry
    delayed: int  # not visible yet (a delay at send)
    dead_letters: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TaskCounts:
    queue: str
    enqueued: int
    succeeded: int
    retried: int
    failed: int
    oldest_waiting_seconds: float | None  # None: no CloudWatch data (moto, a quiet queue)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def queue_depths(backend: SQSBackend) -> list[QueueDepth]:
    """Per Django queue, its priority lanes' SQS queues counted with it."""
    totals: dict[str, Counter[str]] = {name: Counter() for name in sorted(backend.queues)}
    for name, lane in backend.sqs_queues():
        url = backend.queue_url(name, lane)
        totals[name].update(_sqs_counts(url))
        totals[name]["dead_letters"] += sum(_sqs_counts(queues.dead_letter_url(url)).values())
    return [
        QueueDepth(queue=name, **{field: counts[field] for field in _DEPTH_FIELDS})
        for name, counts in totals.items()
    ]


def task_counts(backend: SQSBackend, *, start: datetime, end: datetime) -> list[TaskCounts]:
    """Tasks per queue and outcome between `start` and `end`, from the emitted metrics,
    and each queue's oldest message's age: one GetMetricData of five metrics per queue."""
    names = sorted(backend.queues)
    period = max(60, int((end - start).total_seconds()) // 60 * 60)
    queries = [
        _query(f"m{index}_{field}", metrics.namespace(), metric, "queue", queue, period, "Sum")
        for index, queue in enumerate(names)
        for metric, field in _TASK_METRICS.items()
    ]
    queries += _oldest_queries(backend, names)
    values = _metric_values(queries, start=min(start, end - OLDEST_WINDOW), end=end)
    return [
        TaskCounts(
            queue=queue,
            **{
                field: int(sum(values.get(f"m{index}_{field}", [])))
                for field in _TASK_METRICS.values()
            },
            oldest_waiting_seconds=_latest(values.get(f"m{index}_oldest", [])),
        )
        for index, queue in enumerate(names)
    ]


def oldest_waiting(backend: SQSBackend, *, end: datetime) -> dict[str, float | None]:
    """Each queue's oldest message's age (SQS's metric): one metric per queue."""
    names = sorted(backend.queues)
    values = _metric_values(_oldest_queries(backend, names), start=end - OLDEST_WINDOW, end=end)
    return {queue: _latest(values.get(f"m{index}_oldest", [])) for index, queue in enumerate(names)}


def _oldest_queries(backend: SQSBackend, names: list[str]) -> list[dict[str, Any]]:
    return [
        _query(
            f"m{index}_oldest",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            "QueueName",
            backend.sqs_queue_name(queue),
            60,
            "Maximum",
        )
        for index, queue in enumerate(names)
    ]


def _query(
    query_id: str,
    namespace: str,
    metric: str,
    dimension: str,
    value: str,
    period: int,
    stat: str,
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": dimension, "Value": value}],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _metric_values(
    queries: list[dict[str, Any]], *, start: datetime, end: datetime
) -> dict[str, list[float]]:
    """Each query's values, newest first. One request takes 500 queries."""
    values: dict[str, list[float]] = {}
    cloudwatch = aws.client("cloudwatch")
    for offset in range(0, len(queries), 500):
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries[offset : offset + 500],
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampDescending",
        )
        for page in pages:
            for result in page["MetricDataResults"]:
                values.setdefault(result["Id"], []).extend(result.get("Values", []))
    return values


def _latest(values: list[float]) -> float | None:
    return round(float(values[0]), 1) if values else None


def _sqs_counts(url: str) -> dict[str, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=list(_SQS_COUNTS)
    )["Attributes"]
    return {field: int(attributes.get(name, 0)) for name, field in _SQS_COUNTS.items()}
