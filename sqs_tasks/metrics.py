"""Task metrics as CloudWatch embedded metric format (EMF) log lines.

CloudWatch turns these stdout lines into metrics, so counting a task costs no API call
on the hot path. Names and the `queue` dimension are what template.yaml's dashboard and
alarms read: keep them in step.
"""

import os
from functools import cache

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

ENQUEUED = "TasksEnqueued"
SUCCEEDED = "TasksSucceeded"
RETRIED = "TasksRetried"
FAILED = "TasksFailed"
DURATION = "TaskDuration"


def enabled() -> bool:
    """Only inside Lambda (or the local stack's copy of it) does CloudWatch read stdout;
    elsewhere (a management command, a test) EMF lines would be noise in the output."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "DjangoTasks")


@cache
def _attempts() -> Metrics:
    return Metrics(namespace=namespace())


def record_attempt(queue: str, counter: str | None, duration_ms: float) -> None:
    if not enabled():
        return
    metrics = _attempts()
    metrics.add_dimension("queue", queue)
    if counter:
        metrics.add_metric(counter, MetricUnit.Count, 1)
    metrics.add_metric(DURATION, MetricUnit.Milliseconds, duration_ms)


def flush_attempts() -> None:
    """Print what the batch recorded as one EMF line (up to 100 values per metric)."""
    metrics = _attempts()
    if metrics.metric_set:
        metrics.flush_metrics()


def record_enqueued(queue: str, count: int) -> None:
    if not enabled():
        return
    with single_metric(
        name=ENQUEUED, unit=MetricUnit.Count, value=count, namespace=namespace()
    ) as metric:
        metric.add_dimension("queue", queue)
