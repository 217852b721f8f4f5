"""Contract 7: what is never executed. Each is logged, dead-lettered with its reason,
and the rest of the batch goes on."""

import json
import sys

import boto3
import pytest
from django.tasks import TaskResultStatus, default_task_backend

from functions.worker import handler
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.signing import Signer, StaticKeys
from sqs_tasks.testing import receive_batch
from tests import sample_tasks
from tests.helpers import attributes_of, body_of, count, event_for, send_raw, visible_messages


def signed(body: str, key: str | None = None) -> dict[str, str]:
    signer = default_task_backend.codec.signer if key is None else Signer(StaticKeys(key))
    return {"signature": signer.sign(body)}


def envelope_of(task, *args, **kwargs) -> dict:
    """A genuine envelope body, taken from the message enqueue sends (then consumed)."""
    task.enqueue(*args, **kwargs)
    queue_url = default_task_backend.queue_url(task.queue_name)
    (message,) = receive_batch(queue_url)
    boto3.client("sqs", region_name="us-east-1").delete_message(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
    )
    return body_of(message)


def run_queue(queue_url: str) -> dict:
    messages = receive_batch(queue_url)
    return handler(event_for(queue_url, messages), LambdaContext())


def dead_letters(aws, name="default") -> list[dict[str, str]]:
    return [attributes_of(m) for m in visible_messages(aws[f"{name}-dlq"])]


def assert_rejected(aws, exception_class: str, reason: str) -> dict[str, str]:
    response = run_queue(aws["default"])
    assert response == {"batchItemFailures": []}  # handled: not redelivered
    assert count(aws["default"]) == 0
    (attributes,) = dead_letters(aws)
    assert attributes["exception_class"] == f"sqs_tasks.exceptions.{exception_class}"
    assert reason in attributes["exception_message"]
    return attributes


def test_body_that_is_not_json(aws):
    send_raw(aws["default"], "this is not json", signed("this is not json"))
    assert_rejected(aws, "MalformedEnvelope", "body is not JSON")


def test_unknown_envelope_version(aws):
    body = json.dumps({**envelope_of(sample_tasks.add, 1, 2), "v": 99})
    send_raw(aws["default"], body, signed(body))
    assert_rejected(aws, "MalformedEnvelope", "unknown envelope version 99")


def test_envelope_missing_fields(aws):
    body = json.dumps({"v": 2, "id": "x"})
    send_raw(aws["default"], body, signed(body))
    assert_rejected(aws, "MalformedEnvelope", "invalid envelope field")


def test_missing_signature(aws):
    body = json.dumps(envelope_of(sample_tasks.add, 1, 2))
    send_raw(aws["default"], body)
    assert_rejected(aws, "InvalidSignature", "no signature")


def test_bad_signature_never_touches_the_named_result(aws):
    sample_tasks.CALLS.clear()
    result = sample_tasks.records_call.enqueue("real")
    (genuine,) = visible_messages(aws["default"])
    forged = json.dumps({**body_of(genuine), "arguments": {"args": ["forged"], "kwargs": {}}})
    boto3.client("sqs", region_name="us-east-1").purge_queue(QueueUrl=aws["default"])
    send_raw(aws["default"], forged, signed(forged, key="an attacker's key"))

    attributes = assert_rejected(aws, "InvalidSignature", "does not match")
    assert attributes["task_id"] == "unknown"
    assert sample_tasks.CALLS == []
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.READY


def test_message_signed_with_a_rotated_out_key_still_verifies(aws, settings):
    old_key = "the-key-before-rotation"
    body = json.dumps(envelope_of(sample_tasks.add, 1, 2))
    # Recreate its result (envelope_of consumed the message, not the record).
    settings.SECRET_KEY_FALLBACKS = [old_key]
    settings.TASKS = {**settings.TASKS}  # rebuild the backend with the new fallback
    send_raw(aws["default"], body, signed(body, key=old_key))
    assert run_queue(aws["default"]) == {"batchItemFailures": []}
    assert default_task_backend.get_result(json.loads(body)["id"]).return_value == 3


@pytest.mark.parametrize(
    "path",
    [
        "tests.sample_tasks.not_a_task",
        "tests.no_such_module.task",
        "os.system",
        "tests.fixtures.imported_on_resolve.task",
    ],
)
def test_task_path_that_is_not_a_task_of_this_project(aws, path):
    envelope = envelope_of(sample_tasks.add, 1, 2)
    body = json.dumps({**envelope, "task": path})
    send_raw(aws["default"], body, signed(body))
    assert_rejected(aws, "UnknownTask", "is not a task this project declares")
    failed = default_task_backend.get_result(envelope["id"])
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[0].exception_class_path == "sqs_tasks.exceptions.UnknownTask"
    # Resolved against the declared tasks only: a signed message imports nothing.
    assert "tests.fixtures.imported_on_resolve" not in sys.modules


def test_message_on_another_queue_than_it_names(aws):
    envelope = envelope_of(sample_tasks.heavy_echo, "x")
    body = json.dumps(envelope)
    send_raw(aws["default"], body, signed(body))
    assert_rejected(aws, "MisroutedMessage", "arrived on 'app-test-default'")


def test_arguments_that_do_not_match_the_function(aws):
    envelope = envelope_of(sample_tasks.add, 1, 2)
    body = json.dumps({**envelope, "arguments": {"args": [1, 2, 3], "kwargs": {}}})
    send_raw(aws["default"], body, signed(body))
    assert_rejected(aws, "ArgumentMismatch", "too many positional arguments")
    assert default_task_backend.get_result(envelope["id"]).status == TaskResultStatus.FAILED


def claim_checked_key(message_body: dict) -> str:
    return message_body["arguments_ref"]["key"]


def test_missing_claim_check_object(aws):
    result = sample_tasks.add.enqueue("a" * 300_000, "b")
    key = claim_checked_key(body_of(visible_messages(aws["default"])[0]))
    boto3.client("s3", region_name="us-east-1").delete_object(Bucket="app-test-payloads", Key=key)
    attributes = assert_rejected(aws, "MissingPayload", "is missing")
    assert attributes["task_id"] == result.id
    assert default_task_backend.results.get(result.id).status == TaskResultStatus.FAILED


def test_tampered_claim_check_object(aws):
    sample_tasks.add.enqueue("a" * 300_000, "b")
    key = claim_checked_key(body_of(visible_messages(aws["default"])[0]))
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket="app-test-payloads", Key=key, Body=b"{}"
    )
    assert_rejected(aws, "MissingPayload", "does not match its checksum")


def test_result_record_gone(aws):
    result = sample_tasks.add.enqueue(1, 2)
    boto3.client("dynamodb", region_name="us-east-1").delete_item(
        TableName="app-test-tasks", Key={"id": {"S": result.id}}
    )
    assert_rejected(aws, "MissingResult", "no result record")


def test_the_rest_of_the_batch_goes_on(aws):
    send_raw(aws["default"], "junk", signed("junk"))
    good = sample_tasks.add.enqueue(5, 5)
    send_raw(aws["default"], "{}")
    messages = receive_batch(aws["default"])
    assert len(messages) == 3
    assert handler(event_for(aws["default"], messages), LambdaContext()) == {
        "batchItemFailures": []
    }
    assert default_task_backend.get_result(good.id).return_value == 10
    assert len(dead_letters(aws)) == 2
