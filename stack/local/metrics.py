"""CloudWatch's side of embedded metric format, for the emulator: a function's EMF log
lines become metrics, as CloudWatch Logs turns them into metrics on AWS.

The local system feeds every function's output lines through `publish`, so the task
overview and queue health read real numbers back (sqs_tasks/monitoring.py) by the same
code path as on AWS. Tests use it on the lines a handler printed.
"""

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)


def metric_data(line: str) -> tuple[str, list[dict[str, Any]]] | None:
    """(namespace, PutMetricData entries) for an EMF line; None for any other line."""
    if '"_aws"' not in line:
        return None
    try:
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        timestamp = datetime.fromtimestamp(document["_aws"]["Timestamp"] / 1000, tz=UTC)
    except (ValueError, KeyError, TypeError):
        return None
    dimensions = [
        {"Name": name, "Value": str(document[name])}
        for names in directive.get("Dimensions", [])
        for name in names
        if name in document
    ]
    entries = []
    for metric in directive.get("Metrics", []):
        value = document.get(metric["Name"])
        values = value if isinstance(value, list) else [value]
        entries.append(
            {
                "MetricName": metric["Name"],
                "Dimensions": dimensions,
                "Timestamp": timestamp,
                "Unit": metric.get("Unit", "None"),
                "Values": [float(v) for v in values if isinstance(v, int | float)],
            }
        )
    return directive["Namespace"], entries


def publish(lines: Iterable[str], cloudwatch: Any) -> int:
    """Put the metrics of every EMF line; returns how many lines were metrics."""
    published = 0
    for line in lines:
        found = metric_data(line)
        if found is None:
            continue
        namespace, entries = found
        for start in range(0, len(entries), 1000):
            cloudwatch.put_metric_data(
                Namespace=namespace, MetricData=entries[start : start + 1000]
            )
        published += 1
    return published


class Publisher:
    """A log tap (stack/local/logs.py) that publishes the EMF lines it sees."""

    def __init__(self, cloudwatch: Any) -> None:
        self.cloudwatch = cloudwatch

    def __call__(self, line: str) -> None:
        try:
            publish([line], self.cloudwatch)
        except Exception:  # a metric lost must never stop a function's log
            logger.warning("could not publish an EMF line", exc_info=True)
