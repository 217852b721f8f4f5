"""The queue health check: counts from SQS, the oldest waiting message's age from SQS's
CloudWatch metric, one structured log line, and EMF metrics."""

import json
import logging
from datetime import timedelta

import boto3
from django.tasks import TaskResultStatus

from django_app.maintenance import health
from tests import sample_tasks
from tests.helpers import REGION, sqs
from tests.maintenance.conftest import now
from tests.maintenance.scheduling import run_schedule


def waited(queue_name, seconds):
    """What SQS reports to CloudWatch: the default queue's oldest message is this old."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                "Timestamp": now() - timedelta(minutes=1),
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def load_queues(urls):
    """Three tasks waiting on default (the oldest for two minutes), one dead letter, and
    on heavy only a task deferred for an hour, which is not waiting yet."""
    [sample_tasks.add.enqueue(i, i) for i in range(3)]
    waited("app-test-default", 120)
    sample_tasks.heavy_echo.using(run_after=now() + timedelta(hours=1)).enqueue("later")
    sqs().send_message(QueueUrl=urls["default-dlq"], MessageBody="dead")


def test_counts_and_ages_per_queue(aws):
    load_queues(aws)
    default, heavy = health.check()
    assert default.as_dict() == {
        "queue": "default",
        "backlog": 3,
        "in_flight": 0,
        "delayed": 0,
        "oldest_waiting_seconds": 120.0,
        "dead_letters": 1,
    }
    assert heavy.as_dict() == {
        "queue": "heavy",
        "backlog": 0,
        "in_flight": 0,
        "delayed": 1,  # SQS holds it (DelaySeconds), and it is not due: not waiting
        "oldest_waiting_seconds": None,  # CloudWatch has no figure for it
        "dead_letters": 0,
    }


def test_reported_as_one_log_line_and_emf_metrics(aws, caplog, capsys, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "app-test-worker-default")  # EMF on
    load_queues(aws)
    caplog.set_level(logging.INFO, logger="django_app.maintenance.health")
    health.report(health.check())

    (record,) = caplog.records
    assert record.levelname == "WARNING"  # something is dead-lettered
    assert [q["queue"] for q in record.queues] == ["default", "heavy"]
    lines = capsys.readouterr().out.splitlines()
    documents = [json.loads(line) for line in lines if '"_aws"' in line]
    by_queue = {document["queue"]: document for document in documents}
    assert by_queue["default"]["QueueBacklog"] == [3.0]
    assert by_queue["default"]["DeadLetterMessages"] == [1.0]
    assert by_queue["heavy"]["QueueDelayed"] == [1.0]
    (directive,) = by_queue["default"]["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["queue"]]


def test_a_quiet_system_logs_at_info_and_no_emf_outside_lambda(aws, caplog, capsys):
    caplog.set_level(logging.INFO, logger="django_app.maintenance.health")
    health.report(health.check())
    assert '"_aws"' not in capsys.readouterr().out
    (record,) = caplog.records
    assert record.levelname == "INFO"
    assert all(q["oldest_waiting_seconds"] is None for q in record.queues)


def test_runs_from_its_schedule(aws):
    sqs().send_message(QueueUrl=aws["heavy-dlq"], MessageBody="dead")
    result = run_schedule("queue-health", now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert [(q["queue"], q["dead_letters"]) for q in result.return_value] == [
        ("default", 0),
        ("heavy", 1),
    ]
