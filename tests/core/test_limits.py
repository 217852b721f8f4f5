"""Flow control (issue 17): concurrency keys and rate limits across workers, waiting that
spends no attempt, places that free when a dead worker's lease ends."""

import itertools
import threading
import time
from collections import Counter

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import InvalidTask

from functions.worker import handler
from sqs_tasks import api
from sqs_tasks import aws as aws_clients
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.limits import Concurrency, Rate
from sqs_tasks.limits.counters import Admitted, Counters, Refused
from sqs_tasks.testing import delete_done, drain_queue, receive_batch
from tests import limit_tasks
from tests.helpers import event_for, expire_delays, rate_tat, sent_envelopes, sqs

pytestmark = pytest.mark.usefixtures("aws", "fresh")
TABLE = "app-test-rate-limits"


def work_concurrently(queue_url: str, task_ids: list[str], workers: int = 5) -> None:
    """`workers` threads as concurrent Lambda invocations, time compressed: a message
    handed back comes back at once instead of after its visibility."""
    done = threading.Event()

    def worker() -> None:
        while not done.is_set():
            messages = receive_batch(queue_url, batch_size=2)
            if not messages:
                expire_delays(queue_url)
                time.sleep(0.01)
                continue
            response = handler(event_for(queue_url, messages), LambdaContext())
            delete_done(queue_url, messages, response)
            for failure in response["batchItemFailures"]:
                (message,) = [m for m in messages if m["MessageId"] == failure["itemIdentifier"]]
                sqs().change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = {default_task_backend.get_result(i).status for i in task_ids}
        if statuses == {TaskResultStatus.SUCCESSFUL}:
            break
        time.sleep(0.2)
    done.set()
    for thread in threads:
        thread.join()


@pytest.fixture
def moto_requests_serialised(monkeypatch):
    """In-process moto is not thread-safe (a TransactWriteItems deep-copies a table that
    another thread is writing): one request at a time, as one AWS endpoint answers each
    request atomically. The workers' task bodies still overlap between requests."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def serialised(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)


@pytest.mark.volume
@pytest.mark.slow
@pytest.mark.usefixtures("moto_requests_serialised")
def test_fifty_tasks_on_one_key_never_two_at_once(transactional_db):
    results = [limit_tasks.one_per_account.enqueue("acct-1", str(n)) for n in range(50)]
    results += [limit_tasks.one_per_account.enqueue("acct-2", f"other {n}") for n in range(5)]
    work_concurrently(default_task_backend.queue_url("default"), [r.id for r in results])
    runs = sorted((started, finished, tag) for tag, started, finished in limit_tasks.RUNS)
    first = [run for run in runs if not run[2].startswith("other")]
    assert len(first) == 50
    for (_, finished, _), (started, _, _) in itertools.pairwise(first):
        assert started >= finished  # never two of one account at once
    for result in results:
        done = default_task_backend.get_result(result.id)
        assert done.status == TaskResultStatus.SUCCESSFUL
        assert default_task_backend.results.get(result.id).attempts == 1  # waiting is free


@pytest.mark.volume
def test_a_rate_over_a_minute_of_virtual_time_across_five_workers():
    """Five workers (each its own view of the counter) try to start as soon as they may,
    for sixty virtual seconds, under 10 a second."""
    rate = Rate(10, per="second")
    workers = [Counters(TABLE) for _ in range(5)]
    start = 1_000_000.0
    next_try = [start + n * 0.013 for n in range(5)]
    admitted: list[float] = []
    while min(next_try) < start + 60:
        index = min(range(5), key=next_try.__getitem__)
        now = next_try[index]
        outcome = workers[index].take("rate:virtual", rate, now=now)
        if isinstance(outcome, Admitted):
            admitted.append(now)
            next_try[index] = now + 0.001
        else:
            assert outcome.wait > 0  # never a busy loop: the limit says how long
            next_try[index] = now + outcome.wait
    per_second = Counter(int(moment - start) for moment in admitted)
    assert max(per_second.values()) <= 10
    assert 540 <= len(admitted) <= 600


def test_waiting_spends_no_attempt_and_says_why(visibility_log):
    first = limit_tasks.one_per_account.enqueue("busy-account", "first")
    second = limit_tasks.one_per_account.enqueue("busy-account", "second")
    queue_url = default_task_backend.queue_url("default")
    gate = default_task_backend.gate
    # A place held by a live attempt elsewhere:
    gate.counters.acquire(
        "concurrency:tests.limit_tasks.one_per_account:busy-account",
        Concurrency(1),
        "someone-else",
        time.time() + 60,
    )
    messages = receive_batch(queue_url)
    response = handler(event_for(queue_url, messages), LambdaContext())
    assert len(response["batchItemFailures"]) == 2
    for result in (first, second):
        status = api.task_status(result.id)
        assert status.status == "READY" and status.attempts == 0
        assert status.waiting is not None and "concurrency limit 1" in status.waiting.reason
    assert all(1 <= seconds <= 5 for seconds in visibility_log)  # a recheck, not a spin


def test_a_dead_workers_place_frees_when_its_lease_ends():
    result = limit_tasks.one_per_account.enqueue("acct", "after the crash")
    default_task_backend.gate.counters.acquire(
        "concurrency:tests.limit_tasks.one_per_account:acct",
        Concurrency(1),
        "a-task-whose-worker-died",
        time.time() - 1,  # its invocation ended a second ago
    )
    drain_queue("default")
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.SUCCESSFUL


def test_a_refused_task_looks_again_when_the_holder_should_be_done():
    """Nobody announces a freed place: the counter keeps when the last place was taken and
    how long attempts take, and a refused task comes back when the holder should be done,
    not after the fixed recheck (short tasks under a tight limit lose most to that)."""
    from sqs_tasks.limits.counters import CONCURRENCY_RECHECK

    counters = default_task_backend.gate.counters
    place, limit, lease = "concurrency:guess", Concurrency(1), time.time() + 600
    counters.acquire(place, limit, "earlier", lease)
    aws_clients.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"id": {"S": place}},
        **counters.release_update("earlier", ran_for=2.0).request(),
    )
    assert isinstance(counters.acquire(place, limit, "holder", lease)[0], Admitted)
    refused, _ = counters.acquire(place, limit, "waiter", lease)
    assert isinstance(refused, Refused) and 1.5 <= refused.wait <= 2.0
    # A holder long past the average: the guess is wrong, look at the usual pace.
    aws_clients.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"id": {"S": place}},
        UpdateExpression="SET last_taken = :long_ago",
        ExpressionAttributeValues={":long_ago": {"N": str(time.time() - 100)}},
    )
    refused, _ = counters.acquire(place, limit, "waiter", lease)
    assert refused.wait == CONCURRENCY_RECHECK


def test_a_place_is_given_back_with_the_outcome():
    limit_tasks.one_per_account.enqueue("acct", "a")
    drain_queue("default")
    item = aws_clients.client("dynamodb").get_item(
        TableName=TABLE, Key={"id": {"S": "concurrency:tests.limit_tasks.one_per_account:acct"}}
    )["Item"]
    assert item["holders"] == {"M": {}}


def test_a_named_limit_is_shared_by_the_tasks_naming_it(gate_clock):
    limit_tasks.calls_the_api.enqueue("a")
    limit_tasks.also_calls_the_api.enqueue("b")
    limit_tasks.calls_the_api.enqueue("c")
    drain_queue("default")
    assert len(limit_tasks.RUNS) == 2  # 2 a second, shared: the third waits


def test_a_waiting_task_reserves_its_start_and_takes_it_when_due(gate_clock):
    """The third of three under 2 a second (burst 2) reserves the next start, half a second
    on, and a fresh copy carrying the reservation comes back then. That copy starts without
    asking the counter again, and the start it used is not given to anyone else."""
    results = [limit_tasks.calls_the_api.enqueue(tag) for tag in "abc"]
    queue_url = default_task_backend.queue_url("default")
    sent: list[dict] = []
    aws_clients.events("sqs").register(
        "provide-client-params.sqs.SendMessage", lambda params, **kw: sent.append(params)
    )
    drain_queue("default")
    assert sorted(tag for tag, *_ in limit_tasks.RUNS) == ["a", "b"]
    (fresh,) = sent  # the waiting task's copy 2, due when its start is
    assert fresh["DelaySeconds"] == 1  # 0.5 s, as SQS counts: whole seconds, rounded up
    waiting = api.task_status(results[2].id)
    assert waiting.status == "READY" and waiting.attempts == 0

    takes: list[str] = []
    aws_clients.events("dynamodb").register(
        "provide-client-params.dynamodb.UpdateItem",
        lambda params, **kw: takes.append(params["Key"]["id"]["S"]),
    )
    gate_clock.now += 0.5  # its start
    expire_delays(queue_url)
    drain_queue("default")
    assert sorted(tag for tag, *_ in limit_tasks.RUNS) == ["a", "b", "c"]
    assert not [key for key in takes if key.startswith("rate:")]  # counted when reserved
    # Its start was counted: one more, now, waits for the next interval.
    limit_tasks.calls_the_api.enqueue("d")
    drain_queue("default")
    assert "d" not in [tag for tag, *_ in limit_tasks.RUNS]


def test_reservations_follow_one_another_one_interval_apart():
    rate = Rate(10, per="second")
    counters = Counters(TABLE)
    now = 3_000_000.0
    assert isinstance(counters.take("rate:queue", rate, now), Admitted)
    reserved = [counters.take("rate:queue", rate, now, reserve_within=900) for _ in range(4)]
    assert [round(r.at - now, 3) for r in reserved] == [0.1, 0.2, 0.3, 0.4]
    # Without reservations (or past the horizon) a refusal says how long to wait:
    refused = counters.take("rate:queue", rate, now)
    assert isinstance(refused, Refused) and refused.wait == pytest.approx(0.5)


def test_a_reservation_is_void_once_long_past_and_the_task_asks_again(gate_clock):
    """A copy held up elsewhere (a throttled worker, a long redrive) arrives long after its
    start: using it then would add a start to a later second, so it asks anew."""
    from sqs_tasks.limits.gate import RESERVATION_GRACE, Admission, Held, refs_for

    gate = default_task_backend.gate
    task = limit_tasks.calls_the_api
    (ref,) = refs_for(task, gate.named, ("x",), {})
    lease = gate_clock.now + 60
    assert isinstance(gate.admit(task, "t1", [ref], lease), Admission)
    assert isinstance(gate.admit(task, "t2", [ref], lease), Admission)  # burst 2
    held = gate.admit(task, "t3", [ref], lease)
    assert isinstance(held, Held) and held.reserved == ((ref.item_id, gate_clock.now + 0.5),)
    gate_clock.now += 0.2  # too early: it keeps its reservation and waits the rest
    early = gate.admit(task, "t3", [ref], lease, held.reserved)
    assert isinstance(early, Held) and early.reserved == held.reserved
    assert early.wait == pytest.approx(0.3)
    gate_clock.now += 0.3 + RESERVATION_GRACE + 0.1  # past its grace
    takes: list[str] = []
    aws_clients.events("dynamodb").register(
        "before-call.dynamodb.UpdateItem", lambda params, **kw: takes.append("take")
    )
    assert isinstance(gate.admit(task, "t3", [ref], lease, held.reserved), Admission)
    assert takes == ["take"]


def test_a_retry_asks_the_rate_again_instead_of_reusing_the_reservation(gate_clock):
    """The attempt a reservation started fails and is retried at once: the retry's copy
    carries no reservation (it would be a second start on one count) and waits for a
    start of its own."""
    limit_tasks.calls_the_api.enqueue("a")
    limit_tasks.calls_the_api.enqueue("b")
    result = limit_tasks.fails_once_calling_the_api.enqueue("c")
    queue_url = default_task_backend.queue_url("default")
    sent = sent_envelopes()
    drain_queue("default")
    (reserving,) = sent
    assert reserving["reserved"] == {"rate:shared-api": gate_clock.now + 0.5}

    gate_clock.now += 0.5  # its start: it runs, fails, and is retried at once (no backoff)
    expire_delays(queue_url)
    sent.clear()
    drain_queue("default", max_batches=1)
    assert [tag for tag, *_ in limit_tasks.RUNS].count("c") == 1
    retry_copy = sent[0]
    assert retry_copy["copy"] == reserving["copy"] + 1
    assert "reserved" not in retry_copy  # the retry asks the limit again
    expire_delays(queue_url)
    sent.clear()
    drain_queue("default", max_batches=1)
    assert [tag for tag, *_ in limit_tasks.RUNS].count("c") == 1  # no start of its own yet
    assert sent and sent[0]["reserved"] == {"rate:shared-api": gate_clock.now + 0.5}
    status = api.task_status(result.id)
    assert status.status == "READY" and status.attempts == 1


def test_a_pause_holds_starts_reserved_before_it(gate_clock):
    from sqs_tasks.limits.gate import Admission, Held, refs_for

    gate = default_task_backend.gate
    task = limit_tasks.calls_the_api
    (ref,) = refs_for(task, gate.named, ("x",), {})
    lease = gate_clock.now + 60
    for task_id in ("t1", "t2"):
        assert isinstance(gate.admit(task, task_id, [ref], lease), Admission)
    held = gate.admit(task, "t3", [ref], lease)
    assert isinstance(held, Held) and held.reserved
    gate.counters.pause(ref.item_id, 30, now=gate_clock.now)  # the API said Retry-After: 30
    gate_clock.now += 0.5  # the reservation's time, inside the pause
    paused = gate.admit(task, "t3", [ref], lease, held.reserved)
    assert isinstance(paused, Held) and "paused" in paused.reason
    assert paused.wait == pytest.approx(29.5) and paused.reserved == ()
    gate_clock.now += 29.5  # after the pause it asks like anyone else
    assert isinstance(gate.admit(task, "t3", [ref], lease, paused.reserved), Admission)


def test_several_rates_reserve_one_moment_and_the_task_starts_then(gate_clock):
    """api-a is free now, api-b only in 4 s: the task's start under api-a is taken for the
    moment api-b allows, not now (a start now would be lost), and it starts then on both
    reservations without asking again."""
    from sqs_tasks.limits.gate import Admission, Held, refs_for

    gate = default_task_backend.gate
    task = limit_tasks.calls_two_apis
    a, b = refs_for(task, gate.named, ("x",), {})
    rate_b = Rate(1, per="second", name="api-b")
    for _ in range(4):  # others hold api-b's starts now and in 1, 2 and 3 s
        gate.counters.take(b.item_id, rate_b, gate_clock.now, reserve_within=900)
    lease = gate_clock.now + 60
    held = gate.admit(task, "t1", [a, b], lease)
    assert isinstance(held, Held) and held.wait == pytest.approx(4.0)
    at = gate_clock.now + 4
    assert dict(held.reserved) == {a.item_id: at, b.item_id: at}
    assert rate_tat(a.item_id) == pytest.approx(at + 1)  # api-a's start is at 4 s, once
    gate_clock.now = at
    takes: list[str] = []
    aws_clients.events("dynamodb").register(
        "before-call.dynamodb.UpdateItem", lambda params, **kw: takes.append("take")
    )
    assert isinstance(gate.admit(task, "t1", [a, b], lease, held.reserved), Admission)
    assert takes == []  # both counted when reserved


@pytest.mark.parametrize("worker", ["warm", "cold"])
def test_a_stray_copy_is_deleted_and_takes_no_start_from_the_line(gate_clock, worker):
    """Copy 0 of a task whose live copy is 1 (a duplicate SQS kept, a predecessor) meets
    a saturated rate: the item judges it a stray and it is deleted, not held. A worker
    that has seen the rate busy reads the item before taking a start, and takes none; a
    fresh instance has no view of the rate, so its first take may reserve one before the
    item is read: that start is wasted (under-use, never over the limit). Reading the item
    before every first take would cost each new key on each new instance a request."""
    result = limit_tasks.calls_the_api.enqueue("stray")
    gate = default_task_backend.gate
    rate = gate.named["shared-api"]
    for _ in range(4):
        gate.counters.take("rate:shared-api", rate, gate_clock.now, reserve_within=900)
    tat = rate_tat("rate:shared-api")
    results = default_task_backend.results
    assert results.begin_copy(result.id, from_copy=0).done
    assert results.confirm_copy(result.id, 1)  # copy 1 is live, elsewhere
    if worker == "cold":
        gate.counters._last_tat.clear()  # it has never seen this rate
    queue_url = default_task_backend.queue_url("default")
    sent = sent_envelopes()
    messages = receive_batch(queue_url)
    response = handler(event_for(queue_url, messages), LambdaContext())
    assert response["batchItemFailures"] == [] and sent == []  # deleted, nothing sent
    wasted = 0 if worker == "warm" else rate.interval
    assert rate_tat("rate:shared-api") <= tat + wasted
    assert not limit_tasks.RUNS


def test_two_unnamed_rates_on_one_task_are_refused_at_definition():
    """They would share one counter, each with its own interval."""
    from django.tasks import task

    def work() -> None: ...

    work.__qualname__ = "work"
    with pytest.raises(InvalidTask, match="give each its own name"):
        task(limits=[Rate(1), Rate(10, per="minute")])(work)


def test_one_extra_request_per_limited_task_when_the_limit_is_not_reached():
    calls: list[str] = []
    aws_clients.events("dynamodb").register(
        "before-call.*.*", lambda model, **kw: calls.append(model.name)
    )
    limit_tasks.five_a_second.enqueue("rate")
    baseline = list(calls)
    drain_queue("default")
    rate_calls = calls[len(baseline) :]
    limit_tasks.one_per_account.enqueue("an-account", "the first: its counter is made")
    drain_queue("default")
    calls.clear()
    limit_tasks.one_per_account.enqueue("an-account", "concurrency")
    drain_queue("default")
    concurrency_calls = [c for c in calls if c != "PutItem"]  # the enqueue's item
    plain = ["UpdateItem", "UpdateItem"]  # claim, outcome
    assert sorted(rate_calls) == sorted([*plain, "UpdateItem"])  # + the rate's one write
    # The place: taken (one write), given back with the outcome (the same request).
    assert sorted(concurrency_calls) == ["TransactWriteItems", "UpdateItem", "UpdateItem"]


def test_a_keys_first_task_makes_its_counter_holding_its_place():
    """A new key's UpdateItem finds no counter; the PutItem that makes it holds the place."""
    calls: list[str] = []
    aws_clients.events("dynamodb").register(
        "provide-client-params.dynamodb.*",
        lambda params, model, **kw: (
            calls.append(model.name) if params.get("TableName") == TABLE else None
        ),
    )
    limit_tasks.one_per_account.enqueue("a-new-account", "first")
    drain_queue("default")
    assert calls == ["UpdateItem", "PutItem"]  # its place is given back with the outcome
    item = aws_clients.client("dynamodb").get_item(
        TableName=TABLE,
        Key={"id": {"S": "concurrency:tests.limit_tasks.one_per_account:a-new-account"}},
    )["Item"]
    assert item["holders"] == {"M": {}} and "last_taken" in item


@pytest.mark.parametrize(
    "limits",
    [["no-such-limit"], [object()], [Concurrency(1, key=lambda x: x["no such key"])]],
)
def test_bad_limits_are_refused_at_definition_or_enqueue(limits):
    def work(x: int) -> None: ...

    work.__qualname__ = "work"
    from django.tasks import task

    if isinstance(limits[0], Concurrency):
        declared = task(limits=limits)(work)
        with pytest.raises(Exception, match="limit's key"):
            declared.enqueue(1)
    else:
        with pytest.raises(InvalidTask):
            task(limits=limits)(work)


def test_limits_need_sensible_sizes():
    with pytest.raises(ValueError):
        Concurrency(0)
    with pytest.raises(ValueError):
        Rate(10, per="fortnight")


@pytest.fixture
def visibility_log():
    seen: list[int] = []
    aws_clients.events("sqs").register(
        "provide-client-params.sqs.ChangeMessageVisibility",
        lambda params, **kw: seen.append(params["VisibilityTimeout"]),
    )
    return seen


__all__ = ["Refused"]
