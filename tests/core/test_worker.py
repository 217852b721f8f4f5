"""The worker's side: running, retrying, dead-lettering, duplicates, delays, deadlines."""

import io
import json
import logging
from datetime import timedelta

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import UnexpectedBatchTypeError
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.signals import task_finished, task_started
from django.utils import timezone

from functions.worker import handler
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.testing import deliver, drain_queue, receive_batch
from tests import sample_tasks
from tests.helpers import attributes_of, count, event_for, expire_delays, short_context, sqs


def result_of(task_id):
    return default_task_backend.get_result(task_id)


def test_task_from_a_view_runs_through_the_handler(aws, client, settings):
    settings.ROOT_URLCONF = "tests.urls"
    response = client.post("/enqueue-add/", {"a": 20, "b": 22})
    task_id = response.json()["id"]
    drain_queue("default")
    response = client.get(f"/results/{task_id}/")
    assert response.json() == {"status": "SUCCESSFUL", "return_value": 42}


def test_success_records_everything(aws):
    result = sample_tasks.add.enqueue(2, 3)
    (message,) = receive_batch(aws["default"])
    response = handler(event_for(aws["default"], [message]), LambdaContext(aws_request_id="req-1"))

    assert response == {"batchItemFailures": []}
    done = result_of(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 5
    assert done.worker_ids == ["req-1"]
    assert done.started_at <= done.finished_at and done.last_attempted_at is not None
    assert done.errors == []


def test_async_tasks_run(aws):
    result = sample_tasks.async_double.enqueue(21)
    drain_queue("default")
    assert result_of(result.id).return_value == 42


def test_retryable_failure_comes_back_then_fails_for_good_into_the_dlq(aws):
    result = sample_tasks.always_flaky.enqueue()

    (message,) = receive_batch(aws["default"])
    response = handler(event_for(aws["default"], [message]), LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    after_one = result_of(result.id)
    assert after_one.status == TaskResultStatus.READY
    assert [e.exception_class_path for e in after_one.errors] == ["tests.sample_tasks.Flaky"]
    assert len(after_one.worker_ids) == 1

    drain_queue("default")  # attempts 2 and 3 (backoff is 0 in tests)
    failed = result_of(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert len(failed.errors) == 3 and len(failed.worker_ids) == 3
    assert "downstream said no" in failed.errors[-1].traceback
    assert count(aws["default"]) == 0

    (dead,) = receive_batch(aws["default-dlq"])
    attributes = attributes_of(dead)
    assert attributes["task_id"] == result.id
    assert attributes["task_path"] == "tests.sample_tasks.always_flaky"
    assert attributes["exception_class"] == "tests.sample_tasks.Flaky"
    assert attributes["exception_message"] == "downstream said no"
    assert attributes["attempts"] == "3"
    assert attributes["source_queue"] == "app-test-default"
    assert attributes["first_failed_at"] <= attributes["last_failed_at"]
    # The body of the copy that failed (copies are replaced as receives pile up), signed:
    # a redrive verifies it.
    letter = default_task_backend.codec.decode(dead["Body"], attributes["signature"])
    assert letter.task_id == result.id and letter.copy == failed_copy(result.id)


def test_retry_sets_a_backoff_visibility(aws, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "OPTIONS": {**settings.TASKS["default"]["OPTIONS"], "RETRY_BACKOFF_BASE": 600},
        }
    }
    sample_tasks.always_flaky.enqueue()
    (message,) = receive_batch(aws["default"])
    calls = []
    from sqs_tasks import aws as aws_clients

    aws_clients.events("sqs").register(
        "provide-client-params.sqs.ChangeMessageVisibility",
        lambda params, **kw: calls.append(params["VisibilityTimeout"]),
    )
    handler(event_for(aws["default"], [message]), LambdaContext())
    assert len(calls) == 1 and 300 <= calls[0] <= 600  # equal jitter: half fixed, half random


def test_exception_not_in_retry_on_fails_at_once(aws):
    result = sample_tasks.fails_with_value_error.enqueue()
    drain_queue("default")
    failed = result_of(result.id)
    assert failed.status == TaskResultStatus.FAILED and len(failed.worker_ids) == 1
    assert (
        attributes_of(receive_batch(aws["default-dlq"])[0])["exception_class"]
        == "builtins.ValueError"
    )


def test_timeout_interrupts_the_attempt(aws):
    result = sample_tasks.sleeps.enqueue(5)
    drain_queue("default")
    failed = result_of(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert [e.exception_class_path for e in failed.errors] == [
        "sqs_tasks.exceptions.TaskTimeout",
        "sqs_tasks.exceptions.TaskTimeout",
    ]


def test_duplicate_delivery_of_a_finished_task_is_a_no_op(aws):
    sample_tasks.CALLS.clear()
    result = sample_tasks.records_call.enqueue("once")
    (message,) = receive_batch(aws["default"])
    event = event_for(aws["default"], [message])
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}  # at-least-once
    assert sample_tasks.CALLS == ["once"]
    assert result_of(result.id).worker_ids and len(result_of(result.id).worker_ids) == 1


def test_task_claimed_by_a_live_attempt_is_left_for_later(aws):
    result = sample_tasks.add.enqueue(1, 1)
    backend = default_task_backend
    backend.results.claim(
        result.id,
        copy=0,
        worker_id="elsewhere",
        lease_until=timezone.now().timestamp() + 300,
        now=timezone.now(),
    )
    (message,) = receive_batch(aws["default"])
    response = handler(event_for(aws["default"], [message]), LambdaContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    assert result_of(result.id).status == TaskResultStatus.RUNNING
    assert count(aws["default"], "ApproximateNumberOfMessagesNotVisible") == 1


def test_attempt_whose_worker_died_is_recorded_and_retried(aws):
    result = sample_tasks.add.enqueue(1, 1)
    default_task_backend.results.claim(
        result.id,
        copy=0,
        worker_id="crashed",
        lease_until=timezone.now().timestamp() - 10,
        now=timezone.now(),
    )
    drain_queue("default")
    done = result_of(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.worker_ids[0] == "crashed" and len(done.worker_ids) == 2
    assert [e.exception_class_path for e in done.errors] == ["sqs_tasks.exceptions.WorkerLost"]


def test_run_after_in_the_future_is_not_run_early(aws):
    sample_tasks.CALLS.clear()
    later = timezone.now() + timedelta(hours=3)
    result = sample_tasks.records_call.using(run_after=later).enqueue("later")
    # The queue delay is at most 15 minutes: pretend it ran out already.
    (message,) = _receive_delayed(aws["default"])
    response = handler(event_for(aws["default"], [message]), LambdaContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    assert sample_tasks.CALLS == []
    assert result_of(result.id).status == TaskResultStatus.READY


def test_delays_of_days_hop_without_nearing_max_receive_count(aws):
    later = timezone.now() + timedelta(days=3)
    sample_tasks.records_call.using(run_after=later).enqueue("in three days")
    (message,) = _receive_delayed(aws["default"])
    message["Attributes"]["ApproximateReceiveCount"] = "3"  # held twice already
    response = handler(event_for(aws["default"], [message]), LambdaContext())
    assert response == {"batchItemFailures": []}  # the old copy is deleted...
    assert count(aws["default"], "ApproximateNumberOfMessagesDelayed") == 1  # ...a fresh one waits


def test_records_not_started_near_the_deadline_come_back(aws):
    sample_tasks.CALLS.clear()
    for tag in "abc":
        sample_tasks.records_call.enqueue(tag)
    messages = receive_batch(aws["default"])
    # 6.5 s left, 5 s margin: the first record may start (bounded), the rest may not.
    response = handler(event_for(aws["default"], messages), short_context(6.5))
    assert len(sample_tasks.CALLS) == 1
    assert len(response["batchItemFailures"]) == 2
    ids = [attributes_of(m)["task_id"] for m in messages]
    statuses = sorted(result_of(i).status for i in ids)
    assert statuses == ["READY", "READY", "SUCCESSFUL"]


def test_progress_is_stored_with_the_result(aws):
    result = sample_tasks.counts_up.enqueue(3)
    drain_queue("default")
    assert result_of(result.id).return_value == 1  # context.attempt
    assert default_task_backend.get_progress(result.id) == {
        "current": 3,
        "total": 3,
        "message": "step 3",
    }


def test_django_signals_are_sent(aws):
    seen = []

    def on_started(sender, task_result, **kwargs):
        seen.append(("started", task_result.status))

    def on_finished(sender, task_result, **kwargs):
        seen.append(("finished", task_result.status))

    task_started.connect(on_started)
    task_finished.connect(on_finished)
    try:
        sample_tasks.add.enqueue(1, 1)
        drain_queue("default")
    finally:
        task_started.disconnect(on_started)
        task_finished.disconnect(on_finished)
    assert seen == [("started", "RUNNING"), ("finished", "SUCCESSFUL")]


def test_large_arguments_and_results_go_through_s3(aws):
    s3 = __import__("boto3").client("s3", region_name="us-east-1")
    big = "y" * 300_000
    result = sample_tasks.heavy_echo.enqueue(big)
    (message,) = receive_batch(aws["heavy"])
    reference = json.loads(message["Body"])["arguments_ref"]
    deliver(aws["heavy"], [message])
    done = result_of(result.id)
    assert done.return_value == big and done.args == [big]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="app-test-payloads")["Contents"]}
    # Arguments by content, results by task: each under the retention tier that outlives
    # the task (45 days here: no wait, a 30-day result TTL, a week's slack).
    assert keys == {reference["key"], f"results/d45/{result.id}.json"}
    assert reference["key"].startswith("payloads/d45/")


def test_return_value_too_big_for_dynamodb_goes_to_s3(aws):
    result = sample_tasks.returns_big.enqueue(500_000)
    drain_queue("default")
    assert len(result_of(result.id).return_value) == 500_000


def test_one_structured_log_line_per_attempt(aws):
    stream = io.StringIO()
    handler_ = logging.StreamHandler(stream)
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from sqs_tasks.log_context import ContextFilter

    handler_.setFormatter(LambdaPowertoolsFormatter())
    handler_.addFilter(ContextFilter())
    logger = logging.getLogger("sqs_tasks.attempt")
    logger.addHandler(handler_)
    try:
        result = sample_tasks.always_flaky.enqueue()
        drain_queue("default")
    finally:
        logger.removeHandler(handler_)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["outcome"] for line in lines] == ["RetryLater", "RetryLater", "Failed"]
    for number, line in enumerate(lines, start=1):
        assert line["task_id"] == result.id
        assert line["task_name"] == "always_flaky"
        assert line["attempt"] == number
        assert line["queue"] == "default"
        assert line["error_class"] == "tests.sample_tasks.Flaky"
        assert isinstance(line["duration_ms"], float)


def test_handler_answers_the_shared_event_shape(aws):
    """The event exactly as Lambda documents it: foreign bodies are dead-lettered, the
    batch goes on, and the answer is a partial batch response."""
    sqs().create_queue(QueueName="app-dev-default-dlq")
    dlq_arn = "arn:aws:sqs:us-east-1:123456789012:app-dev-default-dlq"
    sqs().create_queue(
        QueueName="app-dev-default",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        },
    )
    with open("tests/fixtures/aws-events/sqs-batch.json") as f:
        event = json.load(f)
    response = handler(event, LambdaContext())
    assert response == {"batchItemFailures": []}
    dlq_url = sqs().get_queue_url(QueueName="app-dev-default-dlq")["QueueUrl"]
    assert count(dlq_url) == 2


def test_an_event_that_is_not_an_sqs_batch_fails_the_whole_invocation(aws):
    with pytest.raises(UnexpectedBatchTypeError):
        handler({"detail-type": "Scheduled Event"}, LambdaContext())


def failed_copy(task_id):
    note = default_task_backend.results.get(task_id).dead_letter
    assert note is not None and note.sent
    return note.copy


def _receive_delayed(queue_url):
    """Receive a delayed message now, as if its SQS delay had run out."""
    expire_delays(queue_url)
    return receive_batch(queue_url)
