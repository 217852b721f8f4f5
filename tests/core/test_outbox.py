"""Contract 9 and issue 13: once the transaction that enqueued commits, the task runs,
once, whatever happens next: the process dies, SQS refuses every request for a while, one
send of many fails, two relays race."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from django.db import connection, transaction
from django.tasks import TaskResultStatus, default_task_backend
from django.test.utils import CaptureQueriesContext
from moto.server import ThreadedMotoServer

from sqs_tasks import aws as aws_clients
from sqs_tasks import outbox
from sqs_tasks.models import OutboxEntry
from sqs_tasks.results import ResultStore
from sqs_tasks.tasks import relay_outbox
from sqs_tasks.testing import drain_queue
from tests import sample_tasks
from tests.aws_resources import create_resources
from tests.helpers import count

ROOT = Path(__file__).resolve().parents[2]


def refuse(operation: str, *, entries: set[str] | None = None):
    """Make SQS refuse `operation`: every call, or only the batch entries with these Ids
    (left out of the request, and reported back as failed, as SQS does)."""
    dropped: list[str] = []

    def before(params, **kwargs):
        if entries is None:
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, operation)
        dropped[:] = [e["Id"] for e in params["Entries"] if e["Id"] in entries]
        params["Entries"] = [e for e in params["Entries"] if e["Id"] not in entries]

    def after(parsed, **kwargs):
        parsed.setdefault("Failed", []).extend(
            {"Id": entry, "SenderFault": False, "Code": "InternalError"} for entry in dropped
        )

    events = aws_clients.client("sqs").meta.events
    events.register(f"provide-client-params.sqs.{operation}", before, unique_id="refuse")
    events.register(f"after-call.sqs.{operation}", after, unique_id="refused")

    def restore() -> None:
        events.unregister(f"provide-client-params.sqs.{operation}", unique_id="refuse")
        events.unregister(f"after-call.sqs.{operation}", unique_id="refused")

    return restore


def body_id(body: str) -> str:
    return json.loads(body)["id"]


def status(task_id: str) -> str:
    return default_task_backend.get_result(task_id).status


def test_an_unsent_task_reads_as_ready(aws):
    back_again = refuse("SendMessageBatch")
    result = sample_tasks.add.enqueue(1, 2)  # committed, not sent
    back_again()
    assert OutboxEntry.objects.filter(task_id=result.id).exists()
    pending = default_task_backend.get_result(result.id)
    assert pending.status == TaskResultStatus.READY and pending.args == [1, 2]
    assert default_task_backend.get_progress(result.id) is None


def test_sqs_refusing_every_request_during_the_request(aws, client, settings):
    settings.ROOT_URLCONF = "tests.urls"
    back_again = refuse("SendMessageBatch")
    response = client.post("/enqueue-add/", {"a": 20, "b": 22})
    assert response.status_code == 200  # nothing raised into the view
    task_id = response.json()["id"]
    assert count(aws["default"]) == 0 and status(task_id) == TaskResultStatus.READY
    back_again()
    relay_outbox.call()  # what the schedule runs every minute
    drain_queue("default")
    assert default_task_backend.get_result(task_id).return_value == 42
    assert len(default_task_backend.get_result(task_id).worker_ids) == 1
    assert not OutboxEntry.objects.exists()


def test_one_failed_send_among_many_in_a_transaction(aws):
    sample_tasks.CALLS.clear()
    back_again = refuse("SendMessageBatch", entries={"1"})
    with transaction.atomic():
        results = [sample_tasks.records_call.enqueue(tag) for tag in "abc"]
    back_again()
    assert count(aws["default"]) == 2
    assert list(OutboxEntry.objects.values_list("task_id", flat=True)) == [results[1].id]
    relay_outbox.call()
    drain_queue("default")
    assert sorted(sample_tasks.CALLS) == ["a", "b", "c"]
    assert all(status(r.id) == TaskResultStatus.SUCCESSFUL for r in results)


def test_a_failure_between_the_item_and_the_send_loses_and_doubles_nothing(aws):
    """The relay wrote the item, then died before the send: the row stays, and the next
    relay, finding the item, still sends it."""
    sample_tasks.CALLS.clear()
    back_again = refuse("SendMessageBatch")
    result = sample_tasks.records_call.enqueue("once")
    back_again()
    assert default_task_backend.results.get(result.id) is not None  # the item was written
    relay_outbox.call()
    relay_outbox.call()  # a second relay finds nothing left
    drain_queue("default")
    assert sample_tasks.CALLS == ["once"]


def test_a_dedup_key_after_a_failed_send_finds_the_pending_task(aws):
    sample_tasks.CALLS.clear()
    keyed = sample_tasks.records_call.using(dedup_key="nightly-2026-12-01")
    back_again = refuse("SendMessageBatch")
    first = keyed.enqueue("nightly")
    second = keyed.enqueue("nightly")  # the caller tries again: nothing new is written
    back_again()
    assert first.id == second.id and second.status == TaskResultStatus.READY
    assert OutboxEntry.objects.count() == 1
    relay_outbox.call()
    drain_queue("default")
    assert sample_tasks.CALLS == ["nightly"]
    again = keyed.enqueue("nightly")  # and later, the task's real status
    assert again.status == TaskResultStatus.SUCCESSFUL and again.return_value == "nightly"


def test_a_dedup_re_enqueue_never_touches_the_pending_task(aws):
    """Large arguments are claim-checked by their content: a re-enqueue writes nothing."""
    puts: list[str] = []
    aws_clients.client("s3").meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **kw: puts.append(params["Key"])
    )
    keyed = sample_tasks.heavy_echo.using(dedup_key="big-one")
    first = keyed.enqueue("y" * 20_000)
    keyed.enqueue("y" * 20_000)
    assert len(puts) == 1
    drain_queue("heavy")
    assert default_task_backend.get_result(first.id).return_value == "y" * 20_000


def test_bulk_enqueue_with_refusals_raises_nothing_and_runs_everything_once(aws):
    sample_tasks.CALLS.clear()
    calls = {"n": 0}

    def second_batch_raises(params, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessageBatch")

    events = aws_clients.client("sqs").meta.events
    events.register("before-call.sqs.SendMessageBatch", second_batch_raises, unique_id="second")
    tags = [str(n) for n in range(25)]
    results = sample_tasks.records_call.enqueue_many([((tag,), {}) for tag in tags])
    events.unregister("before-call.sqs.SendMessageBatch", unique_id="second")
    assert OutboxEntry.objects.count() == 25  # the relay's transaction kept every row
    relay_outbox.call()
    drain_queue("default")
    assert sorted(sample_tasks.CALLS, key=int) == tags  # the first ten were sent twice
    assert {status(r.id) for r in results} == {TaskResultStatus.SUCCESSFUL}


def test_bulk_enqueue_writes_its_rows_in_one_statement(aws):
    with CaptureQueriesContext(connection) as queries:
        sample_tasks.add.enqueue_many([((n, n), {}) for n in range(30)])
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1


def test_rows_of_a_rolled_back_transaction_never_existed(aws):
    with pytest.raises(RuntimeError), transaction.atomic():
        sample_tasks.add.enqueue(1, 1)
        raise RuntimeError("the view failed")
    assert not OutboxEntry.objects.exists()
    relay_outbox.call()
    assert count(aws["default"]) == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks: SQLite has one writer and none"
)
def test_two_relays_racing_send_each_row_once(aws):
    back_again = refuse("SendMessageBatch")
    results = sample_tasks.add.enqueue_many([((n, n), {}) for n in range(20)])
    back_again()
    sent: list[str] = []
    aws_clients.client("sqs").meta.events.register(
        "provide-client-params.sqs.SendMessageBatch",
        lambda params, **kw: sent.extend(
            json.loads(e["MessageBody"])["id"] for e in params["Entries"]
        ),
    )
    barrier = threading.Barrier(2, timeout=10)
    original = outbox._lock

    def lock_then_wait(*args, **kwargs):
        rows = original(*args, **kwargs)
        barrier.wait()  # both relays hold what they locked before either sends
        return rows

    def relay_in_a_thread():
        try:
            outbox.relay(default_task_backend, "default")
        finally:
            connection.close()

    outbox._lock = lock_then_wait
    try:
        threads = [threading.Thread(target=relay_in_a_thread) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        outbox._lock = original
    assert sorted(sent) == sorted(r.id for r in results)  # each row once
    assert not OutboxEntry.objects.exists()


# -- a process that commits and dies at once --------------------------------------------

CHILD = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
import django
django.setup()
os.environ["AWS_ENDPOINT_URL"] = sys.argv[2]  # tests.settings drops it: set it after
from django.core.management import call_command
from django.db import transaction
from tests import sample_tasks
from sqs_tasks.testing import drain_queue
from sqs_tasks.tasks import relay_outbox

step = sys.argv[1]
if step == "commit-and-die":
    call_command("migrate", verbosity=0)
    with transaction.atomic():
        transaction.on_commit(lambda: os._exit(0))  # before the relay's own hook runs
        print(sample_tasks.records_call.enqueue("committed").id, flush=True)
elif step == "relay":
    print(relay_outbox.call()["sent"])
elif step == "run":
    drain_queue("default")
    print(sample_tasks.CALLS.count("committed"))
"""


@pytest.fixture
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    create_resources(_EndpointSession(session, url))
    yield url
    server.stop()


class _EndpointSession:
    def __init__(self, session, url):
        self.session, self.url = session, url

    def client(self, service):
        return self.session.client(service, endpoint_url=self.url)


def _database_url(tmp_path) -> str:
    """The database the child processes share: the test database on PostgreSQL, else a
    file (an in-memory SQLite database is the parent's alone)."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        return (
            f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:"
            f"{settings['PORT']}/{settings['NAME']}"
        )
    return f"sqlite:///{tmp_path / 'child.sqlite3'}"


@pytest.mark.slow
def test_a_process_that_commits_and_dies_at_once_still_runs_its_task(
    transactional_db, moto_server, tmp_path
):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "DATABASE_URL": _database_url(tmp_path), "PYTHONPATH": str(ROOT)}

    def child(step: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), step, moto_server],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    task_id = child("commit-and-die")  # committed, then gone before sending anything
    sqs = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    queue_url = sqs.get_queue_url(QueueName="app-test-default")["QueueUrl"]
    assert (
        sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )
    assert task_id and child("relay") == "1"  # relay-outbox, at its next tick
    assert child("run") == "1"  # the task ran, once


def test_a_refused_item_write_holds_back_its_own_row_only(aws):
    """Found by the chaos test. A relay writes each row's item (a conditional PutItem) and
    sends the messages; one PutItem refused (throttled, after botocore's retries) failed the
    whole batch, so no row of it was sent. A batch is up to 100 rows: under a steady throttle
    of a few percent, nearly every batch failed, and the outbox stopped draining."""
    sample_tasks.CALLS.clear()
    with mock.patch.object(outbox, "relay"):  # the committing process relays nothing
        results = sample_tasks.records_call.enqueue_many([((tag,), {}) for tag in "abc"])
    refused_id = results[1].id
    create = ResultStore.create

    def refusing(store, item):  # on every thread's backend: the relay puts in parallel
        if item.id == refused_id:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
            raise ClientError(error, "PutItem")
        return create(store, item)

    with mock.patch.object(ResultStore, "create", autospec=True, side_effect=refusing):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert sorted(report.sent) == sorted([results[0].id, results[2].id])
    (row,) = OutboxEntry.objects.all()
    assert row.task_id == refused_id and row.relay_attempts == 1
    relay_outbox.call()
    drain_queue("default")
    assert sorted(sample_tasks.CALLS) == ["a", "b", "c"]
