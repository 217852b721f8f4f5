"""Small parts of the path, on their own."""

from unittest import mock

import boto3
import pytest

from functions.worker import handler
from sqs_tasks.envelope import AttemptPolicy
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.runner import retry
from sqs_tasks.runner.progress import ThrottledProgress
from sqs_tasks.testing import receive_batch
from sqs_tasks.worker.deadline import Deadline
from tests import sample_tasks
from tests.helpers import event_for


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    for attempt in range(1, 6):
        step = 10 * 2 ** (attempt - 1)
        for _ in range(50):
            assert step / 2 <= retry.backoff_delay(attempt, 10, 3600) <= step
    assert retry.backoff_delay(30, 10, 10**9) <= retry.MAX_VISIBILITY  # SQS's 12 h


def test_retry_on_is_matched_by_class_path_and_subclasses():
    policy = AttemptPolicy(max_attempts=3, retry_on=("builtins.OSError",), timeout=1)
    assert retry.should_retry(ConnectionError(), policy, attempts=1)
    assert not retry.should_retry(ValueError(), policy, attempts=1)
    assert not retry.should_retry(ConnectionError(), policy, attempts=3)
    gone = AttemptPolicy(max_attempts=3, retry_on=("no.such.Error",), timeout=1)
    assert not retry.should_retry(ConnectionError(), gone, attempts=1)


def test_progress_is_throttled_but_the_last_step_always_lands():
    written = []
    progress = ThrottledProgress(written.append, min_interval=60)
    for step in range(1, 101):
        progress(step, 100)
    assert [w.current for w in written] == [1, 100]


def test_deadline_starts_only_what_fits():
    context = LambdaContext(timeout_seconds=30)
    deadline = Deadline(context, margin=5)
    assert deadline.time_limit(10) == 10
    assert deadline.time_limit(60) is None  # a later record that cannot finish in time
    first = Deadline(LambdaContext(timeout_seconds=30), margin=5)
    assert 24 < first.time_limit(60) <= 25  # the first record runs, bounded by what is left
    assert Deadline(None, margin=5).time_limit(60) == 60


def test_stale_database_connections_are_closed_around_each_task(aws):
    sample_tasks.add.enqueue(1, 1)
    (message,) = receive_batch(aws["default"])
    with mock.patch("sqs_tasks.runner.middleware.close_old_connections") as close:
        handler(event_for(aws["default"], [message]), LambdaContext())
    assert close.call_count == 2


def test_an_aws_fault_returns_the_record_and_logs_it(aws, caplog):
    sample_tasks.add.enqueue(1, 1)
    (message,) = receive_batch(aws["default"])
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName="app-test-tasks")
    response = handler(event_for(aws["default"], [message]), LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert "record failed; it returns to the queue" in caplog.text


@pytest.mark.parametrize("body", ["", "null", "[]", '"string"'])
def test_odd_bodies_are_rejected_not_crashed_on(aws, body):
    from tests.helpers import send_raw

    send_raw(aws["default"], body or " ", {"signature": "0" * 64})
    messages = receive_batch(aws["default"])
    assert handler(event_for(aws["default"], messages), LambdaContext()) == {
        "batchItemFailures": []
    }


def test_stored_tracebacks_start_at_the_tasks_own_code(aws):
    from django.tasks import default_task_backend

    from sqs_tasks.testing import drain_queue

    result = sample_tasks.fails_with_value_error.enqueue()
    drain_queue("default")
    (error,) = default_task_backend.get_result(result.id).errors
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert "sqs_tasks/runner" not in error.traceback
    assert "django/tasks" not in error.traceback
    assert 'sample_tasks.py", line' in error.traceback
    assert error.traceback.rstrip().endswith("ValueError: bad input, retrying will not help")


def test_retry_waits_at_least_what_the_error_asks():
    class Throttled(Exception):
        retry_after = 120

    assert retry.retry_delay(Throttled(), 1, base=10, cap=3600) == 120
    assert 5 <= retry.retry_delay(ValueError(), 1, base=10, cap=3600) <= 10
    huge = type("Huge", (Exception,), {"retry_after": 10**9})()
    assert retry.retry_delay(huge, 1, base=10, cap=3600) == retry.MAX_VISIBILITY
