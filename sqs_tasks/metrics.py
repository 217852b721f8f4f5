"""Task metrics as CloudWatch embedded metric format (EMF) log lines.

CloudWatch turns these stdout lines into metrics, so counting a task costs no API call
on the hot path. Every metric has one dimension, `queue`, whichever function emits it (the
web app and the scheduler enqueue, the workers run): template.yaml's dashboard reads them
per queue. Keep the names here and there in step.
"""

import os

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

ENQUEUED = "TasksEnqueued"
SUCCEEDED = "TasksSucceeded"
RETRIED = "TasksRetried"
FAILED = "TasksFailed"
DURATION = "TaskDuration"
# The outbox's relays (outbox.py), under the pseudo-queue "outbox".
OUTBOX = "outbox"
RELAYED = "OutboxRelayed"
RELAY_FAILED = "OutboxRelayFailed"
OUTBOX_AGE = "OutboxOldestAge"
# Tasks held back by a limit (limits/gate.py), under the dimension `limit`.
LIMIT_WAITS = "LimitWaits"
LIMIT_WAIT_SECONDS = "LimitWaitSeconds"

# One metric set per queue: EMF allows one dimension set per line, and a batch's tasks may
# enqueue onto other queues.
_pending: dict[str, EphemeralMetrics] = {}


def enabled() -> bool:
    """Only inside Lambda (or the local stack's copy of it) does CloudWatch read stdout;
    elsewhere (a management command, a test) EMF lines would be noise in the output."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def namespace() -> str:
    """Where the metrics live: what Lambda's environment says (template.yaml sets it),
    else the TASKS_METRICS_NAMESPACE setting (the web stage, readers), else DjangoTasks."""
    from django.conf import settings

    default = getattr(settings, "TASKS_METRICS_NAMESPACE", "DjangoTasks")
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", default)


def _for_queue(queue: str) -> EphemeralMetrics:
    if queue not in _pending:
        metrics = EphemeralMetrics(namespace=namespace(), service="")  # no service dimension
        metrics.add_dimension("queue", queue)
        _pending[queue] = metrics
    return _pending[queue]


def record_attempt(queue: str, counter: str | None, duration_ms: float) -> None:
    if not enabled():
        return
    metrics = _for_queue(queue)
    if counter:
        metrics.add_metric(counter, MetricUnit.Count, 1)
    metrics.add_metric(DURATION, MetricUnit.Milliseconds, duration_ms)


def record_enqueued(queue: str, count: int) -> None:
    emit(queue, {ENQUEUED: (MetricUnit.Count, count)})


def record_wait(limit: str, seconds: float) -> None:
    """A task that waits under a limit, and for how long the limit said: per limit (its
    own dimension, `limit`), for the dashboard's waits and the alarms that want them."""
    if not enabled():
        return
    waits = EphemeralMetrics(namespace=namespace(), service="")
    waits.add_dimension("limit", limit)
    waits.add_metric(LIMIT_WAITS, MetricUnit.Count, 1)
    waits.add_metric(LIMIT_WAIT_SECONDS, MetricUnit.Seconds, round(seconds, 3))
    waits.flush_metrics()


def record_relay(sent: int, failed: int, oldest_age: float | None) -> None:
    """One relay's work, and how old the oldest unsent task still is: the alarm on that
    age says the outbox is not draining. Zeros are left out: relay-outbox runs every
    minute and nearly always finds nothing, and CloudWatch bills a custom metric for each
    hour it receives a value (its alarm and dashboard read a missing value as nothing)."""
    measurements = {
        RELAYED: (MetricUnit.Count, sent),
        RELAY_FAILED: (MetricUnit.Count, failed),
        OUTBOX_AGE: (MetricUnit.Seconds, oldest_age or 0.0),
    }
    emit(OUTBOX, {name: value for name, value in measurements.items() if value[1]})


def emit(queue: str, measurements: dict[str, tuple[MetricUnit, float]]) -> None:
    """Emit other per-queue measurements now (name -> (unit, value)), with the same
    namespace and single `queue` dimension as the task counts."""
    if enabled():
        metrics = _for_queue(queue)
        for name, (unit, value) in measurements.items():
            metrics.add_metric(name, unit, value)
        flush()


def flush() -> None:
    """Print what was recorded, one EMF line per queue (up to 100 values per metric)."""
    while _pending:
        _, metrics = _pending.popitem()
        if metrics.metric_set:
            metrics.flush_metrics()
