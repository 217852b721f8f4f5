"""The signing keys: a secret of their own, read at run time, rotated with messages in
flight and letters waiting in a dead-letter queue (issue 15)."""

import json

import boto3
import pytest
from django.tasks import TaskResultStatus, default_task_backend

from sqs_tasks import secrets
from sqs_tasks.signing import Signer, StaticKeys
from sqs_tasks.testing import drain_queue, receive_batch
from tests import sample_tasks
from tests.helpers import REGION, count, send_raw, visible_messages

SECRET = "app/test/task-signing-key"


@pytest.fixture
def signing_secret(aws, settings):
    """The backend signs with keys from a Secrets Manager secret, as deployed."""
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=SECRET, SecretString=json.dumps({"current": "key-a"}))
    options = {**settings.TASKS["default"]["OPTIONS"], "SIGNING_SECRET_ID": SECRET}
    settings.TASKS = {"default": {**settings.TASKS["default"], "OPTIONS": options}}
    secrets.forget()
    yield client
    secrets.forget()


def rotate(client, current, previous):
    client.put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({"current": current, "previous": previous})
    )


def test_messages_are_signed_with_the_secrets_current_key(signing_secret):
    sample_tasks.add.enqueue(1, 2)
    (message,) = receive_batch(default_task_backend.queue_url("default"))
    body = message["Body"]
    assert message["MessageAttributes"]["signature"]["StringValue"] == Signer(
        StaticKeys("key-a")
    ).sign(body)


def test_a_rotation_with_messages_in_flight_loses_none(signing_secret):
    queue = default_task_backend.queue_url("default")
    before = sample_tasks.add.enqueue(1, 1)  # signed with key-a, not run yet
    rotate(signing_secret, "key-b", ["key-a"])
    after = sample_tasks.add.enqueue(2, 2)
    # ...as a sender that read the secret after the rotation sends it: signed with key-b.
    (message,) = [m for m in visible_messages(queue) if json.loads(m["Body"])["id"] == after.id]
    boto3.client("sqs", region_name=REGION).delete_message(
        QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"]
    )
    signed_b = Signer(StaticKeys("key-b")).sign(message["Body"])
    send_raw(queue, message["Body"], {"signature": signed_b})
    # This worker still holds key-a alone: meeting key-b, it reads the secret again, once.
    drain_queue("default")
    assert default_task_backend.get_result(before.id).status == TaskResultStatus.SUCCESSFUL
    assert default_task_backend.get_result(after.id).status == TaskResultStatus.SUCCESSFUL
    assert count(queue + "-dlq") == 0


def test_a_letter_signed_before_the_rotation_is_redriven_after_it(signing_secret):
    from django.core.management import call_command

    failed = sample_tasks.fails_with_value_error.enqueue()
    drain_queue("default")  # dead-lettered, signed with key-a
    rotate(signing_secret, "key-b", ["key-a"])
    secrets.forget()  # a fresh operator process
    call_command("tasks_redrive", "--task-id", failed.id)
    assert default_task_backend.get_result(failed.id).status == TaskResultStatus.READY


def test_a_key_no_longer_listed_verifies_nothing(signing_secret):
    task = sample_tasks.add.enqueue(1, 1)
    rotate(signing_secret, "key-b", [])  # key-a retired too early
    secrets.forget()
    drain_queue("default")
    assert default_task_backend.get_result(task.id).status == TaskResultStatus.READY  # never ran
    dlq = default_task_backend.queue_url("default") + "-dlq"
    (letter,) = receive_batch(dlq)
    assert letter["MessageAttributes"]["exception_class"]["StringValue"].endswith(
        "InvalidSignature"
    )


def test_forged_messages_do_not_flood_secrets_manager(signing_secret):
    reads = []
    from sqs_tasks import aws as aws_clients

    aws_clients.client("secretsmanager").meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **kw: reads.append(params["SecretId"]),
    )
    queue = default_task_backend.queue_url("default")
    for n in range(5):
        send_raw(queue, json.dumps({"v": 2, "n": n}), {"signature": "0" * 64})
    drain_queue("default")
    assert len(reads) <= 2  # the first read, and at most one refresh
