"""The signing keys: a secret of their own, read at run time, rotated with messages in
flight and letters waiting in a dead-letter queue (issue 15)."""

import json
import time
from datetime import timedelta

import boto3
import pytest
from django.tasks import TaskResultStatus, default_task_backend, task
from django.utils import timezone

from sqs_tasks import secrets, signing
from sqs_tasks.signing import Signer, StaticKeys
from sqs_tasks.testing import drain_queue, receive_batch
from sqs_tasks.worker.batch import backend_for_worker
from tests import sample_tasks
from tests.helpers import (
    REGION,
    count,
    expire_delays,
    expire_visibility,
    send_raw,
    visible_messages,
)

SECRET = "app/test/task-signing-key"
# Keys are at least signing.MIN_KEY_LENGTH characters.
KEY_A, KEY_B, KEY_C = (f"key-{name}-" + "0123456789abcdef" * 2 for name in "abc")


@pytest.fixture
def signing_secret(aws, settings):
    """The backend signs with keys from a Secrets Manager secret, as deployed."""
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=SECRET, SecretString=json.dumps({"current": KEY_A}))
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
        StaticKeys(KEY_A)
    ).sign(body)


def test_a_rotation_with_messages_in_flight_loses_none(signing_secret):
    queue = default_task_backend.queue_url("default")
    before = sample_tasks.add.enqueue(1, 1)  # signed with key-a, not run yet
    rotate(signing_secret, KEY_B, [KEY_A])
    after = sample_tasks.add.enqueue(2, 2)
    # ...as a sender that read the secret after the rotation sends it: signed with key-b.
    (message,) = [m for m in visible_messages(queue) if json.loads(m["Body"])["id"] == after.id]
    boto3.client("sqs", region_name=REGION).delete_message(
        QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"]
    )
    signed_b = Signer(StaticKeys(KEY_B)).sign(message["Body"])
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
    rotate(signing_secret, KEY_B, [KEY_A])
    secrets.forget()  # a fresh operator process
    call_command("tasks_redrive", "--task-id", failed.id)
    assert default_task_backend.get_result(failed.id).status == TaskResultStatus.READY


def test_a_key_no_longer_listed_verifies_nothing(signing_secret):
    task = sample_tasks.add.enqueue(1, 1)
    rotate(signing_secret, KEY_B, [])  # key-a retired too early
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

    aws_clients.events("secretsmanager").register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **kw: reads.append(params["SecretId"]),
    )
    queue = default_task_backend.queue_url("default")
    for n in range(5):
        send_raw(queue, json.dumps({"v": 2, "n": n}), {"signature": "0" * 64})
    drain_queue("default")
    assert len(reads) <= 2  # the first read, and at most one refresh


def test_a_message_signed_with_the_new_key_soon_after_another_refresh_still_runs(signing_secret):
    """A worker holds key-a. A message signed with a key it does not know (forged, or a
    retired key's straggler) makes it read the secret again: still key-a. Seconds later
    the key rotates (key-b, previous key-a), and a sender that read it signs with key-b.
    The worker meets key-b within REFRESH_INTERVAL (30 s) of its last refresh: refresh()
    returns False, verify raises InvalidSignature, and a genuine message is dead-lettered
    as forged (contract 7), its task READY forever with no live message. One forged
    message every 30 s keeps every worker in that state, so each rotation dead-letters
    what is in flight. When the refresh is throttled, the message should come back later
    (batch item failure, with the time left to the next refresh) instead of being
    rejected; only a signature that fails against freshly read keys is forged."""
    queue = default_task_backend.queue_url("default")
    send_raw(queue, json.dumps({"v": 2, "stray": True}), {"signature": "0" * 64})
    drain_queue("default")  # the worker read the secret again: key-a still
    rotate(signing_secret, KEY_B, [KEY_A])
    after = sample_tasks.add.enqueue(2, 2)
    (message,) = visible_messages(queue)
    boto3.client("sqs", region_name=REGION).delete_message(
        QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"]
    )
    send_raw(queue, message["Body"], {"signature": Signer(StaticKeys(KEY_B)).sign(message["Body"])})
    drain_queue("default")
    assert count(queue + "-dlq") == 1  # the stray alone: the new key's message came back
    assert count(queue, "ApproximateNumberOfMessagesNotVisible") == 1
    # Thirty seconds later, the worker may read the keys again: it finds key-b.
    source = backend_for_worker().codec.signer.source
    source._refreshed_at -= signing.REFRESH_INTERVAL
    expire_visibility(queue)
    drain_queue("default")
    assert default_task_backend.get_result(after.id).status == TaskResultStatus.SUCCESSFUL


def test_a_forged_message_sent_before_the_keys_were_read_is_refused_at_once(signing_secret):
    """The throttle holds, but this process read the keys after the message was sent: a
    key it does not know is no newer key, and the message is refused, not returned."""
    queue = default_task_backend.queue_url("default")
    send_raw(queue, json.dumps({"v": 2, "first": True}), {"signature": "0" * 64})
    send_raw(queue, json.dumps({"v": 2, "second": True}), {"signature": "1" * 64})
    source = backend_for_worker().codec.signer.source
    time.sleep(signing.CLOCK_SLACK + 0.1)
    drain_queue("default")  # the first makes it read the keys; the second is older still
    assert count(queue + "-dlq") == 2
    assert source._refreshed_at > 0


@task(sensitive=("token",))
def uses_a_token(token: str) -> int:
    return len(token)


def test_sensitive_values_of_a_long_deferred_task_outlive_a_rotation(signing_secret):
    """A task with a sensitive argument is deferred 20 days; the MAC of its sensitive
    object is made at enqueue with key-a. The keys rotate (key-b, previous key-a), and 14
    days later key-a is retired (key-c, previous key-b), as the README says. Meanwhile
    its message waits, replaced by a fresh copy every few receives: each fresh copy
    carries a MAC by the key of its day, so the worker that runs it can check it."""
    from sqs_tasks import sensitive
    from sqs_tasks.envelope import Envelope

    queue = default_task_backend.queue_url("default")
    uses_a_token.using(run_after=timezone.now() + timedelta(days=20)).enqueue("tok-long-wait")
    rotate(signing_secret, KEY_B, [KEY_A])
    secrets.forget()  # the workers of the following days read key-b
    envelope = None
    for _ in range(5):  # handed back, not due, until a fresh copy replaces it
        expire_delays(queue)
        expire_visibility(queue)
        (message,) = visible_messages(queue)
        envelope = Envelope.from_json(message["Body"])
        if envelope.copy > 0:
            break
        drain_queue("default")
    assert envelope is not None and envelope.copy > 0
    rotate(signing_secret, KEY_C, [KEY_B])  # 14 days later: key-a retired
    secrets.forget()  # the worker that runs it, on day 20
    values = sensitive.unseal(envelope.sensitive, signer=default_task_backend.codec.signer)
    assert values.args == {0: "tok-long-wait"}


def test_an_empty_key_in_the_secret_is_refused(signing_secret):
    """A rotation script that fails to generate a key writes {"current": ""}: _parse
    accepts any str, so every message is signed (and verified) with the empty key, which
    anyone can compute: forged messages run. Refuse a secret whose keys are empty (or
    short), as Django refuses an empty SECRET_KEY; workers then return messages instead
    of running them."""
    rotate(signing_secret, "", [])
    secrets.forget()
    body = json.dumps({"v": 2, "forged": True})
    forged = Signer(StaticKeys("")).sign(body)
    try:
        default_task_backend.codec.signer.verify(body, forged)
    except Exception:  # any refusal will do: InvalidSignature, or the secret refused
        return
    raise AssertionError("a signature under the empty key verified")
