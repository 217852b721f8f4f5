"""The backend's side: validation, the READY record, the message, commit, bulk."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend, task_backends
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.test import override_settings
from django.utils import timezone

from sqs_tasks import aws as aws_clients
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.exceptions import InvalidTaskArguments
from tests import sample_tasks
from tests.helpers import attributes_of, body_of, count, visible_messages


def test_default_backend_is_sqs_with_the_contract_flags():
    assert isinstance(task_backends["default"], SQSBackend)
    assert default_task_backend.supports_defer
    assert default_task_backend.supports_get_result
    assert default_task_backend.supports_async_task


def test_enqueue_writes_ready_record_and_sends_signed_message(aws):
    result = sample_tasks.add.enqueue(1, b=2)

    stored = sample_tasks.add.get_result(result.id)
    assert stored.status == TaskResultStatus.READY
    assert stored.args == [1] and stored.kwargs == {"b": 2}
    assert stored.enqueued_at is not None and stored.worker_ids == []

    (message,) = visible_messages(aws["default"])
    attributes = attributes_of(message)
    assert attributes["task_id"] == result.id
    assert attributes["task_path"] == "tests.sample_tasks.add"
    assert len(attributes["signature"]) == 64
    envelope = body_of(message)
    assert envelope["v"] == 2 and envelope["id"] == result.id and envelope["copy"] == 0
    assert envelope["arguments"] == {"args": [1], "kwargs": {"b": 2}}
    assert envelope["policy"] == {
        "max_attempts": 3,
        "retry_on": ["builtins.Exception"],
        "timeout": 60.0,
    }


def test_each_queue_name_has_its_own_queue(aws):
    sample_tasks.heavy_echo.enqueue("x")
    assert count(aws["heavy"]) == 1
    assert count(aws["default"]) == 0


def test_task_options_travel_in_the_envelope(aws):
    sample_tasks.always_flaky.enqueue()
    policy = body_of(visible_messages(aws["default"])[0])["policy"]
    assert policy == {"max_attempts": 3, "retry_on": ["tests.sample_tasks.Flaky"], "timeout": 60.0}


def test_enqueue_waits_for_commit_and_rollback_sends_nothing(aws):
    with transaction.atomic():
        sample_tasks.add.enqueue(1, 1)
        assert count(aws["default"]) == 0
    assert count(aws["default"]) == 1

    with pytest.raises(RuntimeError), transaction.atomic():
        result = sample_tasks.add.enqueue(2, 2)
        raise RuntimeError("view failed")
    assert count(aws["default"]) == 1
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(result.id)


def test_bulk_enqueue_uses_batch_apis(aws):
    calls: list[str] = []
    for service in ("sqs", "dynamodb"):
        aws_clients.events(service).register(
            "before-call.*.*", lambda model, **kw: calls.append(model.name)
        )
    results = sample_tasks.add.enqueue_many([((n, n), {}) for n in range(30)])

    assert len({r.id for r in results}) == 30
    assert calls.count("SendMessageBatch") == 3
    # Conditional INSERTs, 25 a request: BatchWriteItem cannot be conditional (outbox.py).
    assert calls.count("BatchExecuteStatement") == 2
    assert not {"SendMessage", "PutItem", "BatchWriteItem"} & set(calls)
    assert count(aws["default"]) == 30
    assert default_task_backend.get_result(results[-1].id).status == TaskResultStatus.READY


def test_bulk_enqueue_spans_queues(aws):
    default_task_backend.enqueue_many(
        [(sample_tasks.add, (1, 2), {}), (sample_tasks.heavy_echo, ("x",), {})]
    )
    assert count(aws["default"]) == 1 and count(aws["heavy"]) == 1


def test_dedup_key_sends_once(aws):
    first = sample_tasks.add.using(dedup_key="nightly-2026-11-23").enqueue(1, 2)
    second = sample_tasks.add.using(dedup_key="nightly-2026-11-23").enqueue(1, 2)
    other = sample_tasks.add.using(dedup_key="nightly-2026-11-24").enqueue(1, 2)
    assert first.id == second.id != other.id
    assert count(aws["default"]) == 2


def test_unknown_result_id_raises(aws):
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result("does-not-exist")


def test_aget_result_reads_the_table(aws):
    result = sample_tasks.add.enqueue(3, 4)
    stored = async_to_sync(sample_tasks.add.aget_result)(result.id)
    assert stored.status == TaskResultStatus.READY


def test_run_after_delays_the_message(aws):
    later = timezone.now() + timedelta(seconds=120)
    result = sample_tasks.add.using(run_after=later).enqueue(1, 1)
    assert count(aws["default"]) == 0
    assert count(aws["default"], "ApproximateNumberOfMessagesDelayed") == 1
    assert default_task_backend.get_result(result.id).task.run_after == later


# -- bad input: raised at once, nothing sent ---------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((object(), 1), {}, "must be JSON"),
        ((float("nan"), 1), {}, "must be JSON"),
        ((1,), {}, "do not fit"),
        ((1, 2, 3), {}, "do not fit"),
        ((1,), {"c": 2}, "do not fit"),
    ],
)
def test_bad_arguments_raise_before_anything_is_sent(aws, args, kwargs, message):
    with pytest.raises(InvalidTaskArguments, match=message):
        sample_tasks.add.enqueue(*args, **kwargs)
    assert count(aws["default"]) == 0


def test_oversized_argument_is_refused(aws, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "OPTIONS": {**settings.TASKS["default"]["OPTIONS"], "MAX_PAYLOAD_BYTES": 1000},
        }
    }
    from tests.sample_tasks import heavy_echo

    with pytest.raises(InvalidTaskArguments, match="limit is 1000"):
        heavy_echo.enqueue("x" * 2000)
    assert count(aws["heavy"]) == 0


def test_naive_run_after_is_refused(aws):
    naive = (timezone.now() + timedelta(minutes=5)).replace(tzinfo=None)
    with pytest.raises(InvalidTask, match="aware datetime"):
        sample_tasks.add.using(run_after=naive).enqueue(1, 1)


def test_unknown_queue_name_is_refused(aws):
    with pytest.raises(InvalidTask, match="Queue 'nope' is not valid"):
        sample_tasks.add.using(queue_name="nope").enqueue(1, 1)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout": -1}, "timeout"),
        ({"retry_on": (ValueError, "not a class")}, "retry_on"),
    ],
)
def test_bad_task_options_are_refused_at_definition(options, error):
    from django.tasks import task

    def work() -> None: ...

    work.__qualname__ = "work"  # as if defined at module level
    with pytest.raises(InvalidTask, match=error):
        task(**options)(work)


def test_unknown_backend_option_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(
            TASKS={
                "default": {"BACKEND": "sqs_tasks.backends.sqs.SQSBackend", "OPTIONS": {"TYPO": 1}}
            }
        ),
        pytest.raises(ImproperlyConfigured, match="TYPO"),
    ):
        SQSBackend("x", {"OPTIONS": {"TYPO": 1}})


def test_envelope_round_trips_through_json():
    from sqs_tasks.envelope import AttemptPolicy, Envelope
    from sqs_tasks.item import PayloadRef, StoredJSON, arguments_json

    envelope = Envelope(
        task_id="abc",
        task_path="tests.sample_tasks.add",
        backend="default",
        queue_name="default",
        arguments=StoredJSON(text=arguments_json([1], {"b": [1, {"c": None}]})),
        copy=3,
        enqueued_at=timezone.now(),
        run_after=timezone.now() + timedelta(days=3),
        policy=AttemptPolicy(max_attempts=2, retry_on=("builtins.OSError",), timeout=5.0),
        request_id="req-1",
    )
    assert Envelope.from_json(envelope.to_json()) == envelope
    assert json.loads(envelope.to_json())["v"] == 2
    by_ref = envelope.with_copy(0).__class__(
        **{
            **{f: getattr(envelope, f) for f in envelope.__dataclass_fields__},
            "arguments": StoredJSON(ref=PayloadRef("bucket", "payloads/d45/ab.json", "ab")),
        }
    )
    assert Envelope.from_json(by_ref.to_json()) == by_ref


def test_a_deferred_result_outlives_its_start(aws):
    """The TTL counts from the start, not from the enqueue: a task deferred past the
    TTL must still find its result when it runs."""
    start = timezone.now() + timedelta(days=45)
    result = sample_tasks.add.using(run_after=start).enqueue(1, 1)
    item = default_task_backend.results.get(result.id)
    ttl = default_task_backend.config.result_ttl
    assert item.expires_at >= start.timestamp() + ttl - 1
    assert item.not_before >= start.timestamp() - 1
