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
from django.tasks.exceptions import TaskResultDoesNotExist
from django.test.utils import CaptureQueriesContext
from moto.server import ThreadedMotoServer

from sqs_tasks import aws as aws_clients
from sqs_tasks import outbox
from sqs_tasks.models import OutboxEntry
from sqs_tasks.tasks import relay_outbox
from sqs_tasks.testing import drain_queue
from tests import sample_tasks
from tests.aws_resources import create_resources
from tests.helpers import count, refused_statements, sqs

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

    events = aws_clients.events("sqs")
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
    aws_clients.events("s3").register(
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

    events = aws_clients.events("sqs")
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
    aws_clients.events("sqs").register(
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
    """Found by the chaos test. A relay writes each row's item and sends the messages; one
    write refused (throttled) failed the whole batch, so no row of it was sent. A batch is
    up to 100 rows: under a steady throttle of a few percent, nearly every batch failed,
    and the outbox stopped draining. Here DynamoDB refuses one statement of a batch of
    INSERTs (each statement succeeds or fails on its own)."""
    sample_tasks.CALLS.clear()
    with mock.patch.object(outbox, "relay"):  # the committing process relays nothing
        results = sample_tasks.records_call.enqueue_many([((tag,), {}) for tag in "abc"])
    refused_id = results[1].id

    with refused_statements({refused_id: "ThrottlingError"}):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert sorted(report.sent) == sorted([results[0].id, results[2].id])
    (row,) = OutboxEntry.objects.all()
    assert row.task_id == refused_id and row.relay_attempts == 1
    relay_outbox.call()
    drain_queue("default")
    assert sorted(sample_tasks.CALLS) == ["a", "b", "c"]


# -- review (issue 13): sequences that break contract 9 -----------------------------------


def refuse_put_item_once():
    """DynamoDB refuses the next PutItem (throttled): the committing relay fails, so the
    row stays with no item, as when the committing process dies before its relay."""
    refused = []

    def before(params, **kwargs):
        if not refused:
            refused.append(params["Item"]["id"]["S"])
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem")

    aws_clients.events("dynamodb").register(
        "provide-client-params.dynamodb.PutItem", before, unique_id="refuse-put-once"
    )
    return refused


def relay_between_the_reads(monkeypatch):
    """get_result reads the item, then the row: relay-outbox runs between the two reads
    (it creates the item after the first, deletes the row before the second)."""
    store = default_task_backend.results
    original = store.get
    relayed = []

    def get(task_id, **kwargs):
        found = original(task_id, **kwargs)
        if found is None and not relayed:
            relayed.append(outbox.relay_all(default_task_backend, budget_seconds=5).sent)
        return found

    monkeypatch.setattr(store, "get", get)
    return relayed


def test_a_task_relayed_while_get_result_reads_it_still_exists(aws, monkeypatch):
    """Committed, not sent (the committing relay failed). A page polls get_result(id):
    results.get -> no item yet; relay-outbox puts the item, sends, deletes the row;
    outbox.pending -> no row: TaskResultDoesNotExist for a task whose transaction
    committed (issue 13: "never sees does not exist"). Reading the row first, then the
    item, closes it: the item is created before the row is deleted."""
    refuse_put_item_once()
    result = sample_tasks.add.enqueue(1, 2)
    assert OutboxEntry.objects.filter(task_id=result.id).exists()
    relayed = relay_between_the_reads(monkeypatch)
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.READY
    assert relayed == [[result.id]]


def test_a_dedup_re_enqueue_racing_the_relay_writes_nothing(aws, monkeypatch):
    """The first enqueue with key K commits ("first"), its relay fails. The caller enqueues
    K again ("second"): _existing -> get_result -> no item; relay-outbox sends "first" and
    deletes its row; no row -> TaskResultDoesNotExist -> _existing says None; add_unique
    inserts a new row (the old one is gone), which the commit relays: the item exists, is
    not finished, so a second message goes out, with the second call's arguments. The
    caller gets READY with args ["second"]; whichever copy is claimed first decides what
    runs. The same window opens between two processes without any failure. Fix: read the
    row before the item; and in deliver, send nothing for an envelope whose item exists
    with another enqueued_at (a dedup loser), just drop its row."""
    keyed = sample_tasks.records_call.using(dedup_key="review-race")
    refuse_put_item_once()
    first = keyed.enqueue("first")
    relay_between_the_reads(monkeypatch)
    second = keyed.enqueue("second")
    assert second.id == first.id and second.args == ["first"]
    assert count(aws["default"]) == 1


def test_a_row_whose_queue_is_missing_does_not_block_the_others(aws):
    """The heavy queue does not exist (the web deployed before the template that adds it,
    or a queue removed with rows pending). One transaction enqueues heavy_echo, then add.
    The committing relay: PutItem both, then _send_messages looks up heavy's URL:
    QueueDoesNotExist aborts the whole relay (both rows stay). relay-outbox takes the
    oldest 100 rows, fails the same way, every minute: add never runs, nor anything
    enqueued after (once a hundred rows queue up behind it). A queue's failure should fail
    its rows only (counted in relay_attempts/last_error), and relay_all should go on past
    a batch with failures instead of stopping."""
    sqs().delete_queue(QueueUrl=aws["heavy"])
    with transaction.atomic():
        sample_tasks.heavy_echo.enqueue("nowhere to go")
        result = sample_tasks.add.enqueue(1, 2)
    relay_outbox.call()
    relay_outbox.call()
    drain_queue("default")
    assert status(result.id) == TaskResultStatus.SUCCESSFUL


def test_a_task_enqueued_receiver_that_raises_neither_stops_the_send_nor_reaches_the_caller(aws):
    """The task_enqueued hooks are registered (robust=False) before the relay's hook: a
    receiver that raises (a metrics client throttled) raises out of the committed atomic
    block into the view, and Django skips the hooks after it, the relay among them: the
    task waits for relay-outbox. Send the signal robustly (or from the relay's own robust
    hook, after the relay)."""
    from django.tasks.signals import task_enqueued

    def broken_receiver(sender, task_result, **kwargs):
        raise RuntimeError("metrics endpoint throttled")

    task_enqueued.connect(broken_receiver)
    raised = None
    try:
        with transaction.atomic():
            sample_tasks.add.enqueue(1, 2)
    except RuntimeError as error:
        raised = error
    finally:
        task_enqueued.disconnect(broken_receiver)
    assert count(aws["default"]) == 1
    assert raised is None


def other_add(a: int, b: int) -> int:
    return a + b


@pytest.fixture
def second_backend(aws, settings):
    """A second SQS backend, "other", on queues of its own (prefix app-test-other-), as the
    operator commands' --backend and the worker's TASKS_BACKEND allow."""
    session = boto3.session.Session(region_name="us-east-1")
    client = session.client("sqs")
    dlq = client.create_queue(QueueName="app-test-other-default-dlq")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = client.create_queue(
        QueueName="app-test-other-default",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 10})
        },
    )["QueueUrl"]
    default = settings.TASKS["default"]
    other = {
        **default,
        "OPTIONS": {**default["OPTIONS"], "QUEUE_NAME_PREFIX": "app-test-other-"},
    }
    settings.TASKS = {"default": default, "other": other}
    from django.tasks import task

    return task(backend="other")(other_add), url


def test_each_backends_tasks_go_to_its_own_queues(aws, second_backend):
    """One transaction enqueues a task of `default`, then one of `other`. Their ids share
    one per-thread list per database (outbox._ids_to_relay), and the first hook (default's)
    relays the whole list with the default backend: `other`'s task is put and sent with
    default's table, queue prefix and signing key, to app-test-default, where the worker
    rejects it (backend 'other' is not this worker's) and fails it. relay-outbox does the
    same to every row (relay_all relays all rows with task_backends["default"]). Relay
    each row with the backend its envelope names (keep the list per backend alias, and
    look the backend up from envelope.backend in _send)."""
    declared_other, other_url = second_backend
    with transaction.atomic():
        sample_tasks.add.enqueue(1, 1)
        declared_other.enqueue(2, 2)
    assert count(aws["default"]) == 1 and count(other_url) == 1


def test_a_relay_that_fails_still_reports_how_old_the_outbox_is(aws, monkeypatch):
    """SQS refuses every request (ThrottlingException after botocore's retries). A task
    committed ten minutes ago is still a row. Each relay (the committing process's and
    relay-outbox's) raises inside its transaction, is caught, and calls
    metrics.record_relay(0, failed, None): None is emitted as OutboxOldestAge 0.0. The
    alarm (Maximum > 300 s for 5 minutes) sees only zeros, so `outbox-not-draining` never
    fires in the very outage it is for. relay-outbox's own failure is not counted either
    (report.failed lists only the ids it was given: none). Compute oldest_age after the
    failed transaction too, and count relay-outbox's failed batch."""
    from datetime import timedelta

    from django.utils import timezone

    from sqs_tasks import metrics

    back_again = refuse("SendMessageBatch")
    result = sample_tasks.add.enqueue(1, 2)
    OutboxEntry.objects.filter(task_id=result.id).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    emitted = []
    monkeypatch.setattr(
        metrics, "record_relay", lambda sent, failed, age: emitted.append((sent, failed, age))
    )
    relay_outbox.call()
    back_again()
    ((sent, failed, age),) = emitted
    assert sent == 0 and failed == 1
    assert age is not None and age >= 600


# -- review: edges that held up (kept as regressions) --------------------------------------


def test_a_savepoint_rolled_back_inside_a_committed_transaction_sends_only_the_rest(aws):
    sample_tasks.CALLS.clear()
    with transaction.atomic():
        sample_tasks.records_call.enqueue("kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            dropped = sample_tasks.records_call.enqueue("rolled back")
            raise RuntimeError("the inner block failed")
        sample_tasks.records_call.enqueue("kept too")
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(dropped.id)
    drain_queue("default")
    assert sorted(sample_tasks.CALLS) == ["kept", "kept too"]
    assert not OutboxEntry.objects.exists()


def test_enqueue_many_of_nothing_writes_and_sends_nothing(aws):
    assert sample_tasks.add.enqueue_many([]) == []
    assert not OutboxEntry.objects.exists() and count(aws["default"]) == 0


def test_one_dedup_key_twice_in_one_enqueue_many_is_one_task(aws):
    keyed = sample_tasks.records_call.using(dedup_key="twice-in-one-call")
    first, again, other = default_task_backend.enqueue_many(
        [(keyed, ["x"], {}), (keyed, ["y"], {}), (sample_tasks.records_call, ["z"], {})]
    )
    assert first.id == again.id != other.id and again.args == ["x"]
    assert count(aws["default"]) == 2


@pytest.fixture
def two_outboxes(settings):
    options = {**settings.TASKS["default"]["OPTIONS"], "OUTBOX_DATABASES": ["default", "restore"]}
    settings.TASKS = {"default": {**settings.TASKS["default"], "OPTIONS": options}}


@pytest.mark.django_db(databases=["default", "restore"], transaction=True)
def test_a_task_commits_with_the_second_outbox_database(aws, two_outboxes):
    sample_tasks.CALLS.clear()
    with pytest.raises(RuntimeError), transaction.atomic(using="restore"):
        sample_tasks.records_call.enqueue("rolled back")
        raise RuntimeError("the view failed")
    back_again = refuse("SendMessageBatch")
    with transaction.atomic(using="restore"):
        result = sample_tasks.records_call.enqueue("on restore")
    back_again()
    assert OutboxEntry.objects.using("restore").filter(task_id=result.id).exists()
    assert not OutboxEntry.objects.using("default").exists()
    assert status(result.id) == TaskResultStatus.READY
    relay_outbox.call()  # relays every listed database
    drain_queue("default")
    assert sample_tasks.CALLS == ["on restore"]


def test_the_relay_after_a_commit_gives_up_in_seconds_not_minutes(aws, monkeypatch):
    """Someone waits on the relay that follows a commit (a web request, cut at 29 s by API
    Gateway): its calls, in every thread, use clients that give up after seconds. The
    rows stay for relay-outbox, whose calls are patient."""
    from sqs_tasks import aws as aws_clients

    asked = []
    original = aws_clients._client

    def recording(service, prompt=False):
        asked.append((service, prompt))
        return original(service, prompt)

    recording.cache_clear = original.cache_clear
    monkeypatch.setattr(aws_clients, "_client", recording)
    sample_tasks.add.enqueue_many([((1, 1), {}), ((2, 2), {}), ((3, 3), {})])
    assert ("dynamodb", True) in asked and ("sqs", True) in asked
    assert ("dynamodb", False) not in asked and ("sqs", False) not in asked
    prompt_config = original("sqs", True).meta.config
    attempts = prompt_config.retries.get(
        "total_max_attempts", prompt_config.retries.get("max_attempts")
    )
    assert prompt_config.read_timeout <= 5 and attempts <= 3
    asked.clear()
    relay_outbox.call()
    assert all(not prompt for _, prompt in asked)


# -- issue 13's latency goal: what one enqueue costs the database --------------------------


def test_one_enqueue_outside_a_transaction_is_one_insert_and_one_delete(aws):
    """No transaction of its own, no lock, no age query: the row is written in autocommit,
    relayed from memory, and deleted in one statement (six round trips before)."""
    with CaptureQueriesContext(connection) as queries:
        result = sample_tasks.add.enqueue(1, 2)
    verbs = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert verbs == ["INSERT", "DELETE"]
    assert count(aws["default"]) == 1 and status(result.id) == TaskResultStatus.READY
    assert not OutboxEntry.objects.exists()


def test_enqueues_inside_a_transaction_add_no_savepoint_and_are_relayed_together(aws):
    calls: list[str] = []
    events = aws_clients.events("sqs")
    events.register("before-call.sqs.*", lambda model, **kw: calls.append(model.name), "calls")
    try:
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            results = [sample_tasks.add.enqueue(n, n) for n in range(3)]
    finally:
        events.unregister("before-call.sqs.*", unique_id="calls")
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]
    assert calls.count("SendMessageBatch") == 1 and "SendMessage" not in calls
    assert count(aws["default"]) == 3
    assert all(status(r.id) == TaskResultStatus.READY for r in results)


def test_a_last_enqueue_rolled_back_in_its_savepoint_holds_back_nothing_committed(aws):
    """Each enqueue's hook holds its rows; the savepoint's rollback drops the last one.
    The first hook to run relays every committed enqueue's rows, at the commit."""
    sample_tasks.CALLS.clear()
    with transaction.atomic():
        kept = sample_tasks.records_call.enqueue("kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            sample_tasks.records_call.enqueue("rolled back")
            raise RuntimeError("the inner block failed")
    assert count(aws["default"]) == 1 and not OutboxEntry.objects.exists()
    drain_queue("default")
    assert sample_tasks.CALLS == ["kept"] and status(kept.id) == TaskResultStatus.SUCCESSFUL


def test_a_rolled_back_transaction_leaves_nothing_for_the_next_commit_to_send(aws):
    with pytest.raises(RuntimeError), transaction.atomic():
        sample_tasks.add.enqueue(1, 1)
        raise RuntimeError("the view failed")
    sample_tasks.add.enqueue(2, 2)
    assert count(aws["default"]) == 1


def test_an_invalid_call_in_enqueue_many_writes_no_row_for_the_valid_ones(aws):
    from sqs_tasks.exceptions import InvalidTaskArguments

    with pytest.raises(InvalidTaskArguments):
        sample_tasks.add.enqueue_many([((1, 1), {}), ((object(), 2), {})])
    assert not OutboxEntry.objects.exists() and count(aws["default"]) == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks: SQLite has one writer and none"
)
def test_the_committing_relay_passes_over_a_row_relay_outbox_holds(aws):
    """relay-outbox has locked a fresh row and is sending it: the committing process
    sends it too (harmless: it runs once) and deletes what it may without waiting on the
    lock; the lock's holder deletes the row itself."""
    back_again = refuse("SendMessageBatch")
    result = sample_tasks.add.enqueue(1, 2)
    back_again()
    (row,) = OutboxEntry.objects.all()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                list(OutboxEntry.objects.select_for_update().filter(task_id=result.id))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '3s'")  # a wait on the lock fails, not hangs
        report = outbox.relay(default_task_backend, "default", rows=[row])
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
    finally:
        release.set()
        holder.join()
    assert report.sent == [result.id] and not report.failed
    assert OutboxEntry.objects.filter(task_id=result.id).exists()  # the holder's to delete
    drain_queue("default")
    assert default_task_backend.get_result(result.id).return_value == 3


def _outbox_metrics(out: str) -> list[dict]:
    documents = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return [document for document in documents if document.get("queue") == "outbox"]


def test_a_relay_that_sends_emits_no_relay_metric_and_relay_outbox_no_zeros(
    aws, capsys, monkeypatch
):
    """The committing process counts its relay only when it fails; relay-outbox, which
    runs every minute and nearly always finds nothing, emits only what is not zero (each
    metric a custom metric billed for every hour it gets a value)."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "app-test")
    sample_tasks.add.enqueue(1, 1)
    relay_outbox.call()
    assert _outbox_metrics(capsys.readouterr().out) == []


def test_a_failed_relay_emits_its_failure_and_the_outbox_age(aws, capsys, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from sqs_tasks import metrics

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "app-test")
    back_again = refuse("SendMessageBatch")
    try:
        result = sample_tasks.add.enqueue(1, 1)
        OutboxEntry.objects.filter(task_id=result.id).update(
            created_at=timezone.now() - timedelta(minutes=10)
        )
        relay_outbox.call()
    finally:
        back_again()
    committing, scheduled = _outbox_metrics(capsys.readouterr().out)
    for document in (committing, scheduled):
        assert document[metrics.RELAY_FAILED] in (1, [1]) and metrics.RELAYED not in document
    (age,) = scheduled[metrics.OUTBOX_AGE]  # EMF: a list of values
    assert age >= 600


def test_a_bulk_enqueue_outside_a_transaction_writes_all_its_rows_or_none(aws, monkeypatch):
    """bulk_create splits a long list into several INSERTs (SQLite's parameter limit):
    one refused midway must not leave the first ones committed, to be sent without the
    caller knowing (it got an error, and may enqueue them all again)."""
    from django.db.models.query import QuerySet

    original = QuerySet._batched_insert

    def first_batch_then_fails(queryset, objs, fields, *args, **kwargs):
        original(queryset, objs[:1], fields, *args, **kwargs)  # written, not yet committed
        raise RuntimeError("the database went away")

    monkeypatch.setattr(QuerySet, "_batched_insert", first_batch_then_fails)
    with pytest.raises(RuntimeError):
        sample_tasks.add.enqueue_many([((n, n), {}) for n in range(5)])
    monkeypatch.undo()
    assert not OutboxEntry.objects.exists() and count(aws["default"]) == 0
