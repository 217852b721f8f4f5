"""Issue 7's command line: list, show, redrive, purge, cancel; and the worker's metrics."""

import json
import time
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from sqs_tasks.operations import redrive as redrive_module
from sqs_tasks.testing import drain_queue
from sqs_tasks.worker import copies as copies_module
from tests import sample_tasks
from tests.helpers import count, force_status


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def run_json(*args: str):
    return json.loads(run(*args, "--json"))


@pytest.fixture
def failed(aws):
    """Three tasks failed for good: two Flaky, one ValueError, all in the default DLQ."""
    ids = {
        "flaky": [sample_tasks.always_flaky.enqueue().id for _ in range(2)],
        "value": [sample_tasks.fails_with_value_error.enqueue().id],
    }
    drain_queue("default")
    assert count(aws["default-dlq"]) == 3
    return ids


def test_failed_tasks_are_listed_newest_first_and_filtered(failed):
    rows = run_json("tasks_failed")
    assert {r["id"] for r in rows} == {*failed["flaky"], *failed["value"]}
    assert [r["failed_at"] for r in rows] == sorted((r["failed_at"] for r in rows), reverse=True)
    assert {r["id"] for r in run_json("tasks_failed", "--task", "always_flaky")} == set(
        failed["flaky"]
    )
    assert run_json("tasks_failed", "--queue", "heavy") == []
    assert len(run_json("tasks_failed", "--since", "1h", "--limit", "1")) == 1
    assert "tests.sample_tasks.Flaky" in run("tasks_failed")


def test_show_prints_every_error_with_traceback_and_the_dead_letter(failed):
    task_id = failed["flaky"][0]
    text = run("tasks_show", task_id)
    assert text.count("tests.sample_tasks.Flaky: downstream said no") >= 3
    assert "Traceback (most recent call last)" in text
    data = run_json("tasks_show", task_id)
    assert data["result"]["status"] == "FAILED"
    assert [letter["task_id"] for letter in data["dead_letters"]] == [task_id]
    assert count(failed and default_task_backend.queue_url("default")) == 0


def test_show_unknown_task_is_a_clear_error(aws):
    with pytest.raises(CommandError, match="No task 'nope'"):
        run("tasks_show", "nope")


def test_redrive_dry_run_changes_nothing(aws, failed):
    report = run_json("tasks_redrive", "--exception", "Flaky", "--dry-run")
    assert {r["task_id"] for r in report["redriven"]} == set(failed["flaky"])
    assert count(aws["default-dlq"]) == 3 and count(aws["default"]) == 0


def test_redrive_moves_exactly_the_selected_messages_and_keeps_history(aws, failed):
    report = run_json("tasks_redrive", "--exception", "tests.sample_tasks.Flaky")
    assert len(report["redriven"]) == 2
    assert count(aws["default"]) == 2 and count(aws["default-dlq"]) == 1
    for task_id in failed["flaky"]:
        result = default_task_backend.get_result(task_id)
        assert result.status == TaskResultStatus.READY
        assert len(result.errors) == 3 and len(result.worker_ids) == 3  # history kept
    drain_queue("default")  # each gets a fresh allowance of attempts, then fails again
    again = default_task_backend.get_result(failed["flaky"][0])
    assert again.status == TaskResultStatus.FAILED and len(again.worker_ids) == 6
    assert count(aws["default-dlq"]) == 3


def test_redrive_skips_a_task_that_succeeded_meanwhile(aws, failed):
    task_id = failed["value"][0]
    force_status(task_id, "SUCCESSFUL")
    report = run_json("tasks_redrive", "--task-id", task_id)
    assert report["redriven"] == []
    assert report["skipped"][0]["reason"] == "task has since succeeded"
    assert count(aws["default"]) == 0


def test_redrive_interrupted_after_the_send_is_finished_by_a_rerun(aws, failed):
    task_id = failed["value"][0]
    with (
        mock.patch.object(redrive_module, "delete", side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        run("tasks_redrive", "--task-id", task_id)
    assert count(aws["default"]) == 1  # sent...
    assert count(aws["default-dlq"]) == 3  # ...not deleted, and released by the scan
    report = run_json("tasks_redrive", "--task-id", task_id)
    assert report["redriven"] == [] and report["skipped"][0]["reason"] == "already redriven"
    assert count(aws["default"]) == 1 and count(aws["default-dlq"]) == 2  # once, nothing lost


def test_a_rerun_finishes_an_interrupted_redrive_whose_task_already_runs(aws, failed):
    """The redriven copy was received and runs: its old letter is deleted, not left (and
    the DLQ alarm with it) until the task's lease ends."""
    task_id = failed["value"][0]
    with (
        mock.patch.object(redrive_module, "delete", side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        run("tasks_redrive", "--task-id", task_id)
    redriven = default_task_backend.results.get(task_id)
    claim = default_task_backend.results.claim(
        task_id,
        copy=redriven.copy,
        worker_id="w",
        lease_until=time.time() + 300,
        now=timezone.now(),
    )
    assert claim.granted
    report = run_json("tasks_redrive", "--task-id", task_id)
    assert report["skipped"][0]["reason"] == "already redriven"
    assert count(aws["default-dlq"]) == 2


def test_redrive_interrupted_before_the_send_loses_nothing(aws, failed):
    task_id = failed["value"][0]
    with (
        mock.patch.object(copies_module.queues, "send", side_effect=ConnectionError),
        pytest.raises(ConnectionError),
    ):
        run("tasks_redrive", "--task-id", task_id)
    assert count(aws["default"]) == 0 and count(aws["default-dlq"]) == 3
    assert default_task_backend.results.get(task_id).copy_sending  # the intent is on the item
    run("tasks_redrive", "--task-id", task_id)
    assert count(aws["default"]) == 1 and count(aws["default-dlq"]) == 2
    drain_queue("default")
    assert default_task_backend.get_result(task_id).status == TaskResultStatus.FAILED
    assert len(default_task_backend.get_result(task_id).worker_ids) == 2  # ran once more


def test_redrive_is_rate_limited():
    sleeps = []
    with (
        mock.patch.object(redrive_module.time, "sleep", sleeps.append),
        mock.patch.object(redrive_module.time, "monotonic", return_value=100.0),
    ):
        limit = redrive_module.RateLimit(per_second=4)
        for _ in range(3):
            limit.wait()
    assert sleeps == [0.25, 0.5]


def test_purge_asks_first(aws, failed):
    with (
        mock.patch("builtins.input", return_value="n"),
        pytest.raises(CommandError, match="Nothing"),
    ):
        run("tasks_purge", "--exception", "ValueError")
    assert count(aws["default-dlq"]) == 3
    with mock.patch("builtins.input", return_value="y"):
        run("tasks_purge", "--exception", "ValueError")
    assert count(aws["default-dlq"]) == 2
    assert len(run_json("tasks_purge", "--yes")["purged"]) == 2
    assert count(aws["default-dlq"]) == 0


def test_unknown_queue_filter_is_a_clear_error(aws):
    with pytest.raises(CommandError, match="Unknown queue 'nope'"):
        run("tasks_purge", "--queue", "nope", "--yes")


def test_bad_duration_is_a_clear_error(aws):
    with pytest.raises(CommandError, match="not a duration"):
        run("tasks_purge", "--older-than", "soon", "--yes")


def test_cancel_a_task_that_has_not_started(aws):
    sample_tasks.CALLS.clear()
    result = sample_tasks.records_call.enqueue("never")
    assert "cancelled" in run("tasks_cancel", result.id)
    drain_queue("default")
    assert sample_tasks.CALLS == []
    cancelled = default_task_backend.get_result(result.id)
    assert cancelled.status == TaskResultStatus.FAILED
    assert cancelled.errors[0].exception_class_path == "sqs_tasks.exceptions.TaskCancelled"
    assert count(aws["default"]) == 0  # the worker dropped its message


def test_cancel_refuses_started_or_unknown_tasks(aws):
    result = sample_tasks.add.enqueue(1, 1)
    drain_queue("default")
    with pytest.raises(CommandError, match="not cancelled"):
        run("tasks_cancel", result.id, "unknown-id")
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.SUCCESSFUL


def test_worker_emits_emf_metrics_per_queue(aws, capsys, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "app-test-worker-default")
    sample_tasks.add.enqueue(1, 1)
    sample_tasks.always_flaky.enqueue()
    drain_queue("default")
    documents = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    totals: dict[str, float] = {}
    for document in documents:
        if document["queue"] == "outbox":  # the relays' own metrics
            continue
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "app-test"  # TASKS_METRICS_NAMESPACE
        assert ["queue"] in directive["Dimensions"] or any(
            "queue" in d for d in directive["Dimensions"]
        )
        assert document["queue"] == "default"
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                len(value)
                if isinstance(value, list) and metric["Name"] != "TasksEnqueued"
                else (
                    sum(value)
                    if isinstance(value, list)
                    else value
                    if metric["Name"] == "TasksEnqueued"
                    else 1
                )
            )
    assert totals["TasksEnqueued"] == 2
    assert totals["TasksSucceeded"] == 1
    assert totals["TasksRetried"] == 2
    assert totals["TasksFailed"] == 1
    assert totals["TaskDuration"] == 4


def test_enqueue_by_path(aws):
    task_id = run(
        "tasks_enqueue", "tests.sample_tasks.add", "--args", "[2]", "--kwargs", '{"b": 5}'
    )
    drain_queue("default")
    assert default_task_backend.get_result(task_id.strip()).return_value == 7


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["tests.sample_tasks.not_a_task"], "is not a task this project declares"),
        (["tests.sample_tasks.add", "--args", "{"], "is not JSON"),
        (["tests.sample_tasks.add", "--args", "{}"], "JSON list"),
        (["tests.sample_tasks.add", "--args", "[1]"], "do not fit"),
        (["tests.sample_tasks.add", "--queue", "nope", "--args", "[1, 2]"], "not valid"),
    ],
)
def test_enqueue_by_path_refuses_bad_input(aws, arguments, error):
    with pytest.raises(CommandError, match=error):
        run("tasks_enqueue", *arguments)
    assert count(aws["default"]) == 0


def test_no_emf_lines_outside_lambda(aws, capsys, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    sample_tasks.add.enqueue(1, 1)
    drain_queue("default")
    assert '"_aws"' not in capsys.readouterr().out
