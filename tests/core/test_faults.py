"""AWS's fault model, one sequence at a time (issue 12): duplicates, crashed invocations,
late copies, SQS moving a message to the dead-letter queue on its own, a send that fails
after the write before it. Each test is a sequence that once ran a task early, left it
stuck, lost its dead letter, or ran its body twice."""

import asyncio
import time
from datetime import timedelta
from unittest import mock

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError
from django.tasks import TaskResultStatus, default_task_backend, task
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_finished
from django.utils import timezone

from functions.worker import handler
from sqs_tasks import aws as aws_clients
from sqs_tasks.claim_check import PayloadStore
from sqs_tasks.exceptions import InvalidTaskArguments
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.operations.reconcile import reconcile
from sqs_tasks.testing import delete_done, drain_queue, receive_batch
from sqs_tasks.worker import letters as letters_module
from tests import sample_tasks
from tests.helpers import (
    body_of,
    count,
    event_for,
    expire_delays,
    expire_visibility,
    sqs,
    visible_messages,
)

pytestmark = pytest.mark.usefixtures("aws")


def item(task_id):
    return default_task_backend.results.get(task_id)


def run(queue_url, messages, *, receive_count=None, context=None):
    """One invocation over these messages, then what the event source mapping does."""
    if receive_count is not None:
        for message in messages:
            message["Attributes"]["ApproximateReceiveCount"] = str(receive_count)
    response = handler(event_for(queue_url, messages), context or LambdaContext())
    delete_done(queue_url, messages, response)
    return response


def returned(response):
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def copy_of(message) -> int:
    return body_of(message)["copy"]


@pytest.fixture
def visibility():
    """The VisibilityTimeout of every ChangeMessageVisibility the worker makes."""
    seen: list[int] = []
    aws_clients.events("sqs").register(
        "provide-client-params.sqs.ChangeMessageVisibility",
        lambda params, **kw: seen.append(params["VisibilityTimeout"]),
    )
    return seen


@pytest.fixture
def backoff(settings):
    """Retries wait ten minutes (the test settings make them immediate)."""
    options = {**settings.TASKS["default"]["OPTIONS"], "RETRY_BACKOFF_BASE": 600}
    settings.TASKS = {"default": {**settings.TASKS["default"], "OPTIONS": options}}


class RetryAfter(Exception):
    retry_after = 3600


@task(max_attempts=3, retry_on=(RetryAfter,))
def asks_for_an_hour() -> None:
    sample_tasks.CALLS.append("asked")
    raise RetryAfter("come back in an hour")


# -- 1. early retries -------------------------------------------------------------------


def test_a_duplicate_during_the_backoff_waits_for_it(backoff, visibility):
    sample_tasks.CALLS.clear()
    result = sample_tasks.always_flaky.enqueue()
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    duplicate = dict(message, Attributes=dict(message["Attributes"]))

    run(queue_url, [message])  # attempt 1 fails: READY, not before ~5-10 minutes
    waiting = item(result.id)
    assert waiting.attempts == 1 and waiting.not_before > time.time() + 250

    response = run(queue_url, [duplicate])  # SQS delivers its copy again, at once
    assert returned(response) == {duplicate["MessageId"]}
    assert item(result.id).attempts == 1  # refused by the item: no early attempt
    # ...and sent back for exactly the time left, not the queue's visibility timeout.
    assert abs(visibility[-1] - (waiting.not_before - time.time())) <= 2


def test_a_duplicated_batch_runs_each_task_once(backoff):
    sample_tasks.CALLS.clear()
    results = [sample_tasks.records_call.enqueue(tag) for tag in "abc"]
    queue_url = default_task_backend.queue_url("default")
    messages = receive_batch(queue_url)
    copies = [dict(m, Attributes=dict(m["Attributes"])) for m in messages]
    run(queue_url, messages)
    run(queue_url, copies)  # the same batch, delivered twice
    assert sorted(sample_tasks.CALLS) == ["a", "b", "c"]
    assert all(item(r.id).attempts == 1 for r in results)


def test_when_hiding_the_message_fails_the_item_still_gates_the_retry(backoff):
    result = sample_tasks.always_flaky.enqueue()
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    with mock.patch.object(
        aws_clients.client("sqs"), "change_message_visibility", side_effect=ConnectionError
    ):
        run(queue_url, [message])  # the message comes back at once: it was never hidden
    sqs().change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    (again,) = receive_batch(queue_url)
    run(queue_url, [again])
    assert item(result.id).attempts == 1


def test_retry_after_is_honoured_in_full(visibility):
    sample_tasks.CALLS.clear()
    result = asks_for_an_hour.enqueue()
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    late_copy = dict(message, Attributes=dict(message["Attributes"]))
    run(queue_url, [message])
    assert item(result.id).not_before >= time.time() + 3600 - 5
    run(queue_url, [late_copy])  # a copy arriving after 1201 s, or any time before the hour
    assert sample_tasks.CALLS == ["asked"]
    assert visibility[-1] >= 3600 - 5


def test_run_after_is_guarded_by_the_item_too():
    later = timezone.now() + timedelta(hours=2)
    result = sample_tasks.records_call.using(run_after=later).enqueue("later")
    claim = default_task_backend.results.claim(
        result.id, copy=0, worker_id="early", lease_until=time.time() + 60, now=timezone.now()
    )
    assert not claim.granted and claim.before.not_before >= later.timestamp() - 1


# -- 2. receives that are not attempts never reach maxReceiveCount -----------------------


def test_a_copy_handed_back_twice_is_replaced_by_a_fresh_one():
    result = sample_tasks.records_call.enqueue("late")
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    # Too little of the invocation left to start it, on its second receive.
    response = run(queue_url, [message], receive_count=2, context=LambdaContext(timeout_seconds=3))
    assert returned(response) == set()  # the old copy is deleted...
    expire_delays(queue_url)  # (a fresh copy comes back after NOT_STARTED_DELAY)
    (fresh,) = [m for m in visible_messages(queue_url) if body_of(m)["id"] == result.id]
    assert copy_of(fresh) == 1 and fresh["Attributes"]["ApproximateReceiveCount"] == "1"
    assert item(result.id).copy == 1 and not item(result.id).copy_sending
    drain_queue("default")
    assert item(result.id).status == TaskResultStatus.SUCCESSFUL


def test_a_busy_copy_comes_back_when_the_lease_ends_and_is_never_replaced(visibility):
    """Another attempt holds the task: this copy is hidden until that lease ends, once, even
    on its third receive. Replacing it would delete the message the running attempt may
    be its own (a duplicate delivery) and owe its dead letter from."""
    result = sample_tasks.add.enqueue(1, 1)
    default_task_backend.results.claim(
        result.id, copy=0, worker_id="elsewhere", lease_until=time.time() + 300, now=timezone.now()
    )
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    response = run(queue_url, [message], receive_count=3)
    assert returned(response) == {message["MessageId"]}
    assert item(result.id).copy == 0 and not item(result.id).copy_sending
    assert len(visibility) == 1 and 300 <= visibility[0] <= 300 + 5  # back after the lease
    assert count(queue_url, "ApproximateNumberOfMessagesNotVisible") == 1
    assert not default_task_backend.results.begin_copy(result.id, from_copy=0).done


def test_a_busy_copy_too_late_in_its_invocation_waits_for_the_lease_not_seconds(visibility):
    """Too little time left to start it, on its third receive: the fresh copy it would get
    is refused while another attempt's lease holds, and it hides until that lease ends,
    not for two seconds at a time (each return a receive, walking it to the DLQ)."""
    result = sample_tasks.add.enqueue(1, 1)
    default_task_backend.results.claim(
        result.id, copy=0, worker_id="elsewhere", lease_until=time.time() + 900, now=timezone.now()
    )
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    response = run(queue_url, [message], receive_count=3, context=LambdaContext(timeout_seconds=3))
    assert returned(response) == {message["MessageId"]}
    assert item(result.id).copy == 0
    assert len(visibility) == 1 and 890 <= visibility[0] <= 900


def test_an_outcome_not_recorded_returns_its_message_when_the_lease_ends(visibility):
    """Nothing can start the task before its lease ends: back sooner, the message would
    only find it busy, a receive spent."""
    result = sample_tasks.add.enqueue(1, 1)
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    refused = ClientError({"Error": {"Code": "ValidationException"}}, "UpdateItem")
    results = default_task_backend.results
    with mock.patch.object(results, "record_success", side_effect=refused):
        response = run(queue_url, [message], context=LambdaContext(timeout_seconds=60))
    assert returned(response) == {message["MessageId"]}
    held = item(result.id)
    assert held.status == TaskResultStatus.RUNNING
    assert len(visibility) == 1
    assert held.lease.until - time.time() - 2 <= visibility[0] <= held.lease.until - time.time() + 1


def test_crashed_invocations_until_sqs_dead_letters_it_then_the_reconciler_resumes_it():
    """Every crash burns a receive of every record; after maxReceiveCount SQS moves the
    message on its own. The task was READY: the reconciler sends a fresh copy."""
    result = sample_tasks.records_call.enqueue("survivor")
    queue_url = default_task_backend.queue_url("default")
    dlq_url = queue_url + "-dlq"
    for _ in range(10):  # received, then the invocation dies: nothing deleted
        (message,) = receive_batch(queue_url)
        sqs().change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert receive_batch(queue_url) == []  # the 11th receive: SQS moved it
    assert count(dlq_url) == 1
    report = reconcile(default_task_backend)
    assert report.actions["resumed: fresh copy sent"] == 1
    assert count(dlq_url) == 0
    drain_queue("default")
    assert item(result.id).status == TaskResultStatus.SUCCESSFUL


def test_a_running_task_moved_by_sqs_fails_for_good_once_out_of_attempts():
    result = sample_tasks.add.enqueue(1, 1)
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    for attempt in range(3):  # three attempts, each lost with its invocation
        default_task_backend.results.claim(
            result.id,
            copy=0,
            worker_id=f"w{attempt}",
            lease_until=time.time() - 1,
            now=timezone.now(),
        )
    sqs().send_message(  # SQS moves the message as it was: no attributes of ours
        QueueUrl=queue_url + "-dlq",
        MessageBody=message["Body"],
        MessageAttributes={"signature": message["MessageAttributes"]["signature"]},
    )
    sqs().delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert reconcile(default_task_backend).actions["failed: no attempts left"] == 1
    failed = item(result.id)
    assert failed.status == TaskResultStatus.FAILED and failed.dead_letter.sent
    (letter,) = visible_messages(queue_url + "-dlq")
    assert letter["MessageAttributes"]["exception_class"]["StringValue"].endswith("WorkerLost")


@pytest.mark.parametrize(("attempts", "allowed"), [(8, True), (9, False)])
def test_max_attempts_must_fit_under_max_receive_count(attempts, allowed):
    def work() -> None: ...

    work.__qualname__ = f"work_{attempts}"
    if allowed:
        task(max_attempts=attempts)(work)
    else:
        with pytest.raises(InvalidTask, match="maxReceiveCount"):
            task(max_attempts=attempts)(work)


# -- 3. replacing a copy is not atomic, and need not be -----------------------------------


def test_a_replacement_interrupted_after_its_send_still_runs_once():
    sample_tasks.CALLS.clear()
    real_now = timezone.now
    later = real_now() + timedelta(seconds=30)
    result = sample_tasks.records_call.using(run_after=later).enqueue("postponed")
    queue_url = default_task_backend.queue_url("default")
    expire_delays(queue_url)
    (message,) = receive_batch(queue_url)
    with (
        mock.patch.object(
            default_task_backend.results, "confirm_copy", side_effect=SystemExit("died")
        ),
        pytest.raises(SystemExit),
    ):
        run(queue_url, [message], receive_count=2)  # sent copy 1, died before the rest
    assert item(result.id).copy == 1 and item(result.id).copy_sending
    sqs().change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    # Thirty seconds on, without waiting them out: the task is due.
    with mock.patch("django.utils.timezone.now", lambda: real_now() + timedelta(seconds=31)):
        for _ in range(3):  # both copies, then the resend of copy 1, in any order
            expire_delays(queue_url)
            drain_queue("default")
    assert sample_tasks.CALLS == ["postponed"]
    assert item(result.id).status == TaskResultStatus.SUCCESSFUL
    assert count(queue_url) == 0 and count(queue_url, "ApproximateNumberOfMessagesDelayed") == 0


def test_a_stray_copy_deletes_itself():
    result = sample_tasks.add.enqueue(2, 2)
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    stale = dict(message, Attributes=dict(message["Attributes"]))
    default_task_backend.results.begin_copy(result.id, from_copy=0)
    default_task_backend.results.confirm_copy(result.id, 1)  # copy 1 is the live one now
    response = run(queue_url, [stale])
    assert returned(response) == set()
    assert item(result.id).attempts == 0  # the stray never claimed it


# -- 4. a failure always ends with its dead letter ---------------------------------------


def test_a_dead_letter_send_that_fails_is_sent_on_the_next_delivery():
    result = sample_tasks.fails_with_value_error.enqueue()
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    again = dict(message, Attributes=dict(message["Attributes"]))
    with mock.patch.object(letters_module.queues, "send", side_effect=ConnectionError):
        response = run(queue_url, [message])
    assert returned(response) == {message["MessageId"]}  # not deleted: the letter is owed
    owed = item(result.id)
    assert owed.status == TaskResultStatus.FAILED and not owed.dead_letter.sent
    run(queue_url, [again])
    assert item(result.id).dead_letter.sent
    assert count(queue_url + "-dlq") == 1
    assert item(result.id).attempts == 1  # the body ran once


DUPLICATES: list[dict] = []


@task(max_attempts=1)
def fails_while_a_duplicate_replaces_its_copy() -> None:
    """While it runs, a duplicate delivery of its message finds it busy, twice (on receives
    after which a copy handed back is otherwise replaced by a fresh one)."""
    queue_url = default_task_backend.queue_url("default")
    for receives in (3, 4):
        duplicate = dict(DUPLICATES[0], Attributes=dict(DUPLICATES[0]["Attributes"]))
        run(queue_url, [duplicate], receive_count=receives)
    raise ValueError("fails for good")


def test_a_failure_whose_message_a_duplicate_found_busy_still_sends_its_letter():
    """Found by the chaos run: the duplicate replaced the busy copy (deleting the message
    the attempt was running), the attempt failed and owed copy 0's letter, its first send
    failed, and no message of copy 0 was left to send it. A busy copy is never replaced
    now, nor deleted as stale while a lease holds (runner/verdict.py)."""
    result = fails_while_a_duplicate_replaces_its_copy.enqueue()
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    DUPLICATES[:] = [message]
    real_send = letters_module.queues.send

    def letters_refused(url, *args, **kwargs):
        if url.endswith("-dlq"):
            raise ConnectionError("the dead-letter queue is out of reach")
        return real_send(url, *args, **kwargs)

    with mock.patch.object(letters_module.queues, "send", side_effect=letters_refused):
        run(queue_url, [message])
    owed = item(result.id)
    assert owed.status == TaskResultStatus.FAILED and owed.copy == 0
    assert owed.dead_letter.copy == 0 and not owed.dead_letter.sent
    for _ in range(3):  # every copy, whenever it comes back
        expire_delays(queue_url)
        expire_visibility(queue_url)
        drain_queue("default")
    assert item(result.id).dead_letter.sent
    assert count(queue_url + "-dlq") == 1


def test_a_task_finished_receiver_that_raises_changes_nothing():
    def broken(sender, task_result, **kwargs):
        raise RuntimeError("receiver bug")

    task_finished.connect(broken)
    try:
        result = sample_tasks.fails_with_value_error.enqueue()
        drain_queue("default")
    finally:
        task_finished.disconnect(broken)
    assert item(result.id).dead_letter.sent
    assert count(default_task_backend.queue_url("default") + "-dlq") == 1


# -- 5. a rejection writes one letter, however often it is delivered ---------------------


def test_a_rejected_message_delivered_again_writes_no_second_letter():
    queue_url = default_task_backend.queue_url("default")
    result = sample_tasks.add.enqueue(1, 2)
    with mock.patch("sqs_tasks.worker.record.check_arguments", side_effect=InvalidTaskArguments):
        (message,) = receive_batch(queue_url)
        again = dict(message, Attributes=dict(message["Attributes"]))
        run(queue_url, [message])
        run(queue_url, [again])  # the invocation died before Lambda deleted it
    assert count(queue_url + "-dlq") == 1
    assert item(result.id).status == TaskResultStatus.FAILED and item(result.id).dead_letter.sent


# -- 6. an interrupted redrive never starts a task twice ---------------------------------


def test_a_redrive_interrupted_after_its_send_starts_the_task_once():
    from django.core.management import call_command

    sample_tasks.CALLS.clear()
    result = sample_tasks.fails_with_value_error.enqueue()
    drain_queue("default")
    with (
        mock.patch.object(
            default_task_backend.results, "confirm_copy", side_effect=ConnectionError
        ),
        pytest.raises(ConnectionError),
    ):
        call_command("tasks_redrive", "--task-id", result.id)
    redriven = item(result.id)
    assert redriven.status == TaskResultStatus.READY and redriven.attempts == 0
    call_command("tasks_redrive", "--task-id", result.id)  # the rerun
    assert item(result.id).attempts == 0  # not reset again, nothing ran twice
    drain_queue("default")
    drain_queue("default")
    assert len(item(result.id).worker_ids) == 2  # the first run, and one after the redrive


# -- 7. execution cannot outlive its guard -----------------------------------------------


@task(max_attempts=1, timeout=0.3)
def swallows_exceptions() -> str:
    while True:
        try:  # noqa: SIM105 - what a careless task does
            time.sleep(0.05)
        except Exception:
            pass


@task(max_attempts=1, timeout=0.3)
def swallows_everything() -> str:
    try:
        time.sleep(10)
    except:  # noqa: E722 - what a reckless task does: swallows the interrupt, runs on
        sample_tasks.CALLS.append("swallowed")
    time.sleep(10)  # interrupted again, a second later
    return "ran on"


@task(max_attempts=1, timeout=0.3)
async def async_loops() -> str:
    while True:
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("runaway", [swallows_exceptions, swallows_everything, async_loops])
def test_a_time_limit_cannot_be_swallowed(runaway):
    sample_tasks.CALLS.clear()
    result = runaway.enqueue()
    started = time.monotonic()
    drain_queue("default")
    assert time.monotonic() - started < 5
    failed = item(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[-1].exception_class_path == "sqs_tasks.exceptions.TaskTimeout"
    assert (["swallowed"] if runaway is swallows_everything else []) == sample_tasks.CALLS


def test_the_lease_lasts_until_the_invocation_ends():
    result = sample_tasks.counts_up.enqueue(1)
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)
    seen = {}
    with mock.patch.object(
        default_task_backend.results,
        "record_success",
        side_effect=lambda *a, **kw: seen.update(item=item(result.id)) or True,
    ):
        run(queue_url, [message], context=LambdaContext(timeout_seconds=600))
    assert seen["item"].lease.until >= time.time() + 590  # not the task's 60 s limit


# -- 8. a body that returned is never run again ------------------------------------------


@task(max_attempts=3)
def returns(kind: str) -> object:
    sample_tasks.CALLS.append(kind)
    return {
        "datetime": timezone.now(),
        "int keys": {1: "one"},
        "nan": float("nan"),
        "big": 10**39,
    }[kind]


@pytest.mark.parametrize("kind", ["datetime", "int keys", "nan"])
def test_a_value_that_cannot_be_stored_fails_once_without_rerunning_the_body(kind):
    sample_tasks.CALLS.clear()
    result = returns.enqueue(kind)
    drain_queue("default")
    failed = item(result.id)
    assert [kind] == sample_tasks.CALLS
    assert failed.status == TaskResultStatus.FAILED and failed.attempts == 1
    assert failed.errors[-1].exception_class_path == "sqs_tasks.exceptions.UnstorableResult"


def test_numbers_beyond_dynamodbs_precision_come_back_exactly():
    result = returns.enqueue("big")
    drain_queue("default")
    assert default_task_backend.get_result(result.id).return_value == 10**39


# -- 9. claim-checked arguments live as long as their task -------------------------------


def test_large_arguments_of_a_long_deferred_task_outlive_it():
    later = timezone.now() + timedelta(days=20)
    sample_tasks.heavy_echo.using(run_after=later).enqueue("z" * 20_000)
    keys = [
        o["Key"]
        for o in boto3.client("s3", region_name="us-east-1").list_objects_v2(
            Bucket="app-test-payloads"
        )["Contents"]
    ]
    # 20 days' wait, a 30-day result TTL and a week's slack: the 120-day tier.
    assert len(keys) == 1 and keys[0].startswith("payloads/d120/")


def test_large_arguments_that_would_outlive_every_tier_are_refused_at_enqueue():
    later = timezone.now() + timedelta(days=400)
    with pytest.raises(InvalidTaskArguments, match="pass a reference"):
        sample_tasks.heavy_echo.using(run_after=later).enqueue("z" * 20_000)


# -- 10. a sweep of the dead-letter queues survives AWS refusing a call -------------------


def refused(operation):
    error = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}
    return ClientError(error, operation)


def test_a_refused_release_of_a_held_letter_does_not_fail_the_reconciler():
    """Found by the chaos test: the sweep holds each letter it reads and releases them all
    at the end; one release refused (throttled) raised out of reconcile-tasks, which then
    failed for good (max_attempts=1) and left a dead letter of its own, for nothing."""
    result = sample_tasks.fails_with_value_error.enqueue()
    drain_queue("default")
    assert item(result.id).dead_letter.sent
    with mock.patch.object(
        aws_clients.client("sqs"),
        "change_message_visibility",
        side_effect=refused("ChangeMessageVisibility"),
    ):
        report = reconcile(default_task_backend)
    assert report.actions["kept: the task's dead letter"] == 1
    # The letter is still there: it comes back when its hold ends.
    dlq_url = default_task_backend.queue_url("default") + "-dlq"
    assert count(dlq_url, "ApproximateNumberOfMessagesNotVisible") == 1


def test_a_refused_read_of_a_dead_letter_queue_ends_the_sweep_early_without_failing_it():
    sample_tasks.fails_with_value_error.enqueue()
    drain_queue("default")
    with mock.patch.object(
        aws_clients.client("sqs"), "receive_message", side_effect=refused("ReceiveMessage")
    ):
        report = reconcile(default_task_backend)
    assert report.seen == 0 and report.actions["stopped early"] == 1


# -- 11. a result S3 refuses to take is not an unstorable result ------------------------


def test_a_refused_result_upload_is_a_lost_attempt_not_a_failure():
    """Found by the chaos test. A return value too big for the item goes to S3; S3 refusing
    that put (SlowDown, after botocore's retries) failed the task for good with
    UnstorableResult, and a dead letter, though its body had succeeded and the value is
    storable. Like DynamoDB refusing the write of a success, it is an attempt whose outcome
    was not recorded: the task runs again when the attempt's lease ends, and succeeds."""
    result = sample_tasks.returns_big.enqueue(20_000)
    slow_down = ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "PutObject")
    with mock.patch.object(PayloadStore, "put_result", side_effect=slow_down):
        report = drain_queue("default")
    assert len(report.returned) == 1  # the message stays: nothing is decided yet
    assert item(result.id).status == TaskResultStatus.RUNNING
    with time_machine.travel(time.time() + 1200 + 60, tick=True):  # the lease and visibility end
        drain_queue("default")
        done = item(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.attempts == 2
    assert done.errors[-1].exception_class_path == "sqs_tasks.exceptions.WorkerLost"
    assert count(default_task_backend.queue_url("default") + "-dlq") == 0


def test_a_record_aws_refuses_comes_back_in_seconds(visibility):
    from botocore.exceptions import ClientError

    result = sample_tasks.add.enqueue(1, 1)
    queue_url = default_task_backend.queue_url("default")
    (message,) = receive_batch(queue_url)

    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateItem")

    events = aws_clients.events("dynamodb")
    events.register("before-call.dynamodb.UpdateItem", throttled, unique_id="throttle")
    try:
        response = run(queue_url, [message])
    finally:
        events.unregister("before-call.dynamodb.UpdateItem", unique_id="throttle")
    assert returned(response) == {message["MessageId"]}
    assert visibility[-1] == 10  # not the queue's whole visibility timeout
    assert item(result.id).attempts == 0


# -- review: an owned write that went through, whose response was lost ---------------------


def applied_then_retried(monkeypatch, name):
    """DynamoDB applies the UpdateItem, its response is lost (a read timeout, a 500), and
    botocore retries it: the retry's condition (RUNNING, this lease) no longer holds, so
    the call ends in ConditionalCheckFailedException. What the caller sees is the retry's."""
    from sqs_tasks.results import ResultStore

    original = getattr(ResultStore, name)

    def twice(self, *args, **kwargs):
        original(self, *args, **kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ResultStore, name, twice)


def live_messages(queue_url) -> int:
    return count(queue_url) + count(queue_url, "ApproximateNumberOfMessagesNotVisible")


def test_a_retry_write_retried_after_it_went_through_keeps_the_task_alive(monkeypatch):
    """always_flaky raises Flaky; record_retry writes READY (attempts 1, not_before now),
    the response is lost and the retried write is refused: the runner says Lost(), the
    worker deletes the message. The item is READY with attempts left and no message, in
    the queue or its DLQ, and no outbox row: nothing will ever run it again or fail it
    (the reconciler reads only dead-letter queues). The refused write's ALL_OLD item says
    what to do: it is READY on this copy, so the message should come back (NotDue/Due)."""
    applied_then_retried(monkeypatch, "record_retry")
    queue = default_task_backend.queue_url("default")
    result = sample_tasks.always_flaky.enqueue()
    run(queue, receive_batch(queue))
    assert item(result.id).status == TaskResultStatus.READY and item(result.id).attempts == 1
    assert live_messages(queue) == 1


def test_a_failure_write_retried_after_it_went_through_still_sends_its_letter(monkeypatch):
    """fails_with_value_error fails for good: record_failure writes FAILED with
    dead_letter {copy 0, sent: false}, the response is lost and the retried write is
    refused: Lost(), the message is deleted, no letter is ever sent (contract 6), and no
    letter means nothing for tasks_redrive or the reconciler to find. The refused write's
    ALL_OLD item (FAILED, letter owed for this copy) says LetterOwed: send it."""
    applied_then_retried(monkeypatch, "record_failure")
    queue = default_task_backend.queue_url("default")
    result = sample_tasks.fails_with_value_error.enqueue()
    run(queue, receive_batch(queue))
    assert item(result.id).status == TaskResultStatus.FAILED
    assert count(queue + "-dlq") == 1
