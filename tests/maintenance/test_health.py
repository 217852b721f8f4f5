"""The queue health check: counts from SQS, the oldest waiting task from the result store,
one structured log line, and EMF metrics."""

import json
import logging
from datetime import timedelta

from django.tasks import TaskResultStatus, default_task_backend

from django_app.maintenance import health
from tests import sample_tasks
from tests.helpers import sqs
from tests.maintenance.conftest import now, set_result_attribute
from tests.maintenance.scheduling import run_schedule


def waited(task_id, seconds):
    """As if the task had been enqueued `seconds` ago."""
    set_result_attribute(task_id, "updated_at", (now() - timedelta(seconds=seconds)).isoformat())


def load_queues(urls):
    """Three tasks waiting on default (the oldest for two minutes), one dead letter, and
    on heavy only a task deferred for an hour, which is not waiting yet."""
    oldest, *_ = [sample_tasks.add.enqueue(i, i) for i in range(3)]
    waited(oldest.id, 120)
    sample_tasks.heavy_echo.using(run_after=now() + timedelta(hours=1)).enqueue("later")
    sqs().send_message(QueueUrl=urls["default-dlq"], MessageBody="dead")


def test_counts_and_ages_per_queue(aws):
    load_queues(aws)
    default, heavy = health.check(default_task_backend, now())
    assert default.as_dict() | {"oldest_waiting_seconds": None} == {
        "queue": "default",
        "backlog": 3,
        "in_flight": 0,
        "delayed": 0,
        "oldest_waiting_seconds": None,
        "dead_letters": 1,
    }
    assert 120 <= default.oldest_waiting_seconds < 130
    assert heavy.as_dict() == {
        "queue": "heavy",
        "backlog": 0,
        "in_flight": 0,
        "delayed": 1,  # SQS holds it (DelaySeconds), and it is not due: not waiting
        "oldest_waiting_seconds": 0.0,
        "dead_letters": 0,
    }


def test_reported_as_one_log_line_and_emf_metrics(aws, caplog, capsys, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "app-test-worker-default")  # EMF on
    load_queues(aws)
    caplog.set_level(logging.INFO, logger="django_app.maintenance.health")
    health.report(health.check(default_task_backend, now()))

    (record,) = caplog.records
    assert record.levelname == "WARNING"  # something is dead-lettered
    assert [q["queue"] for q in record.queues] == ["default", "heavy"]
    lines = capsys.readouterr().out.splitlines()
    documents = [json.loads(line) for line in lines if '"_aws"' in line]
    by_queue = {document["queue"]: document for document in documents}
    assert by_queue["default"]["QueueBacklog"] == [3.0]
    assert by_queue["default"]["DeadLetterMessages"] == [1.0]
    assert by_queue["default"]["QueueOldestWaiting"][0] >= 120
    assert by_queue["heavy"]["QueueDelayed"] == [1.0]
    (directive,) = by_queue["default"]["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["queue"]]


def test_a_quiet_system_logs_at_info_and_no_emf_outside_lambda(aws, caplog, capsys):
    caplog.set_level(logging.INFO, logger="django_app.maintenance.health")
    health.report(health.check(default_task_backend, now()))
    assert '"_aws"' not in capsys.readouterr().out
    (record,) = caplog.records
    assert record.levelname == "INFO"
    assert all(q["oldest_waiting_seconds"] == 0.0 for q in record.queues)


def test_runs_from_its_schedule(aws):
    sqs().send_message(QueueUrl=aws["heavy-dlq"], MessageBody="dead")
    result = run_schedule("queue-health", now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert [(q["queue"], q["dead_letters"]) for q in result.return_value] == [
        ("default", 0),
        ("heavy", 1),
    ]
