"""Rate reservations under AWS's fault model: sequences an adversarial review found (each
failed before its fix). The invariant: every attempt that starts under a rate used
exactly one counted start, and a pause holds every start."""

import contextlib
import time

import pytest
from django.tasks import default_task_backend

from sqs_tasks import aws as aws_clients
from sqs_tasks.limits import Concurrency
from sqs_tasks.limits.counters import Admitted, Refused
from sqs_tasks.limits.gate import Admission, Held, refs_for
from sqs_tasks.testing import deliver, drain_queue, receive_batch
from tests import limit_tasks
from tests.helpers import expire_delays, expire_visibility, rate_tat, sent_envelopes

pytestmark = pytest.mark.usefixtures("aws", "fresh")


def _reserve_for_c(gate_clock):
    """a, b take shared-api's burst (2); c (fails once, then succeeds) reserves T+0.5 and
    its copy carrying the reservation is sent."""
    limit_tasks.calls_the_api.enqueue("a")
    limit_tasks.calls_the_api.enqueue("b")
    result = limit_tasks.fails_once_calling_the_api.enqueue("c")
    sent = sent_envelopes()
    drain_queue("default")
    (reserving,) = sent
    assert reserving["reserved"] == {"rate:shared-api": gate_clock.now + 0.5}
    return result


def _c_runs() -> int:
    return [tag for tag, *_ in limit_tasks.RUNS].count("c")


def test_a_retry_write_refused_after_it_went_through_does_not_reuse_the_reservation(
    gate_clock, monkeypatch
):
    """record_retry is applied, its response is lost, botocore retries and gets
    ConditionalCheckFailed (the runner's own docstring describes this). The runner sees
    Unwritten, judges the item (READY, due) as Waiting(1 s, reserved=None), and the
    disposition hands back THE SAME copy, still carrying its reservation. It comes back
    within RESERVATION_GRACE and starts a second attempt on the one counted start."""
    from sqs_tasks.results import ResultStore, Written

    _reserve_for_c(gate_clock)
    queue_url = default_task_backend.queue_url("default")
    original = ResultStore.record_retry

    def applied_then_refused(self, task_id, **kwargs):
        assert original(self, task_id, **kwargs).done
        return Written(False, self.get(task_id))  # the retried request's answer

    monkeypatch.setattr(ResultStore, "record_retry", applied_then_refused)
    gate_clock.now += 0.5  # c's reserved start
    expire_delays(queue_url)
    drain_queue("default", max_batches=1)
    assert _c_runs() == 1
    tat = rate_tat("rate:shared-api")

    gate_clock.now += 1.0  # the copy is back after its 1 s, inside the 3 s grace
    expire_visibility(queue_url)
    drain_queue("default", max_batches=1)
    # Invariant: every start under the rate was counted. Here c started twice, the
    # counter moved once (at reservation) and not at all for the second start.
    assert not (_c_runs() == 2 and rate_tat("rate:shared-api") == tat), (
        "second attempt of c started on the already-used reservation, uncounted"
    )


def test_an_sqs_duplicate_of_the_reserved_copy_starts_no_second_attempt_on_it(
    gate_clock, monkeypatch
):
    """SQS delivers the reservation-carrying copy twice. Delivery 1 starts on the
    reservation, fails, records READY (retry, no back-off / short back-off) and dies
    before its retry copy is named (begin_copy). Delivery 2, a second later and inside
    the grace, is admitted by the same reservation and its claim is granted (the item is
    READY, due, and still names this copy): two starts, one counted."""
    from sqs_tasks.worker.copies import Copies

    _reserve_for_c(gate_clock)
    queue_url = default_task_backend.queue_url("default")
    gate_clock.now += 0.5
    expire_delays(queue_url)
    (message,) = receive_batch(queue_url)
    sqs = aws_clients.client("sqs")
    sqs.send_message(  # the duplicate SQS may deliver (at-least-once)
        QueueUrl=queue_url,
        MessageBody=message["Body"],
        MessageAttributes=message.get("MessageAttributes", {}),
    )

    def dies(self, *args, **kwargs):
        raise RuntimeError("the process dies after record_retry, before begin_copy")

    with monkeypatch.context() as patched:
        patched.setattr(Copies, "replace", dies)
        deliver(queue_url, [message])  # delivery 1: runs (fails), READY, dies
    assert _c_runs() == 1
    tat = rate_tat("rate:shared-api")

    gate_clock.now += 1.0  # delivery 2 (the duplicate), within the grace
    duplicate = [m for m in receive_batch(queue_url) if m["MessageId"] != message["MessageId"]]
    assert duplicate
    deliver(queue_url, duplicate)
    assert not (_c_runs() == 2 and rate_tat("rate:shared-api") == tat), (
        "duplicate delivery started a second attempt on the same reservation, uncounted"
    )


def test_a_pause_holds_new_starts_under_a_burst_until_it_ends(gate_clock, monkeypatch):
    """pause() sets tat = until, but GCRA admits a start once tat - now <= (burst-1) *
    interval: with shared-api (2/s, burst 2) a fresh task starts 0.5 s inside a 30 s
    Retry-After. _unpaused() checks only carried reservations, so nothing stops it."""
    gate = default_task_backend.gate
    task = limit_tasks.calls_the_api
    (ref,) = refs_for(task, gate.named, ("x",), {})
    from types import SimpleNamespace

    from sqs_tasks.limits import counters

    monkeypatch.setattr(counters, "time", SimpleNamespace(time=lambda: gate_clock.now))
    gate.pause("shared-api", 30)  # as api.pause_limit does
    until = gate_clock.now + 30
    gate_clock.now = until - 0.5  # still inside the pause
    admitted = gate.admit(task, "t1", [ref], gate_clock.now + 60)
    assert isinstance(admitted, Held), "a start was admitted inside the pause"


def test_limits_given_by_using_are_enforced_by_the_worker(gate_clock):
    """README: a step keeps the named limits `using()` gave it; `using(limits=...)` puts
    the refs in the envelope, but the worker resolves the module-level task and admit()
    only knows the limits *it* declares: "shared-api" is "no longer declared" and every
    call starts. Three calls under 2/s (burst 2) all start in the same instant."""
    limited = limit_tasks.five_a_second.using(limits=["shared-api"])
    for tag in "xyz":
        limited.enqueue(tag)
    drain_queue("default")
    assert len(limit_tasks.RUNS) <= 2, "shared-api (2/s, burst 2) was exceeded"


def test_a_pause_is_one_write_so_a_crash_cannot_leave_it_half_made(gate_clock, monkeypatch):
    """pause() writes paused_until, then tat. A process dying after the first write (the
    fault model) leaves tat alone: gate only checks paused_until for *carried*
    reservations, so every fresh start goes straight through during the pause."""
    from sqs_tasks.limits.counters import Counters

    gate = default_task_backend.gate
    task = limit_tasks.calls_the_api
    (ref,) = refs_for(task, gate.named, ("x",), {})
    original = Counters._write
    writes = []

    def dies_after_first(self, item_id, update):
        if writes:
            raise RuntimeError("the process dies")
        writes.append(item_id)
        return original(self, item_id, update)

    from types import SimpleNamespace

    from sqs_tasks.limits import counters

    monkeypatch.setattr(counters, "time", SimpleNamespace(time=lambda: gate_clock.now))
    with monkeypatch.context() as patched:
        patched.setattr(Counters, "_write", dies_after_first)
        with contextlib.suppress(RuntimeError):
            gate.pause("shared-api", 30)  # dies after its first write, if it has a second
    gate_clock.now += 1
    admitted = gate.admit(task, "t1", [ref], gate_clock.now + 60)
    assert isinstance(admitted, Held), "a start admitted 1 s into a 30 s pause"


def test_a_concurrency_refusal_keeps_the_carried_rate_start_good(gate_clock, monkeypatch):
    """Weakness (under-use), concurrency + rate on one task: X reserves shared-api's next
    start (its place given back meanwhile); at that start another attempt holds the key's
    place, so X is told to come back after CONCURRENCY_RECHECK (5 s), past the 3 s grace:
    the counted start lapses and X counts another. Under contention a backlog on one key
    burns a shared rate's starts with no run (one per cycle per waiting task)."""
    gate = default_task_backend.gate
    task = limit_tasks.one_per_account_on_the_api
    refs = refs_for(task, gate.named, ("acct", "x"), {})
    rate = gate.named["shared-api"]
    for _ in range(2):  # others use the burst
        gate.counters.take("rate:shared-api", rate, gate_clock.now)
    held = gate.admit(task, "X", refs, gate_clock.now + 60)
    assert isinstance(held, Held) and held.reserved
    place = next(r.item_id for r in refs if r.kind == "concurrency")
    import time as real

    gate.counters.acquire(place, task.limits[0], "S", real.time() + 60)  # leases: real time
    gate_clock.now += 0.5  # X's reserved start: S holds the place
    again = gate.admit(task, "X", refs, gate_clock.now + 60, held.reserved)
    assert isinstance(again, Held) and again.reserved == held.reserved
    gate_clock.now += again.wait  # back when told to
    gate.counters.release(place, "S")
    tat = rate_tat("rate:shared-api")
    assert isinstance(gate.admit(task, "X", refs, gate_clock.now + 60, held.reserved), Admission)
    assert rate_tat("rate:shared-api") == tat, "X counted a second start for one run"


def test_using_refuses_a_limit_the_worker_could_not_know():
    """The worker knows a limit's size from the task's module or from OPTIONS["LIMITS"]:
    a new Concurrency or Rate given to `using()` would be skipped there, so it is refused
    here, with a clear error."""
    from django.tasks.exceptions import InvalidTask

    from sqs_tasks.limits import Rate

    with pytest.raises(InvalidTask, match="names of OPTIONS"):
        limit_tasks.five_a_second.using(limits=[Rate(1, per="minute")])
    own = limit_tasks.five_a_second.limits
    assert limit_tasks.five_a_second.using(limits=[*own, "shared-api"]).limits[-1] == "shared-api"
    # The module's own limits stay allowed after a using() that left them out.
    named_only = limit_tasks.five_a_second.using(limits=["shared-api"])
    assert named_only.using(limits=[*own]).limits == tuple(own)


def test_a_copy_whose_reserved_attempt_died_starts_on_a_new_start(gate_clock):
    """The attempt a reservation started dies with its worker (its claim marked the
    reservation spent). The copy comes back when the lease has ended, long after its
    reservation: it takes a new start, and that claim is not refused for the spent one."""
    from django.utils import timezone

    result = _reserve_for_c(gate_clock)
    results = default_task_backend.results
    claim = results.claim(
        result.id,
        copy=1,
        worker_id="died",
        lease_until=time.time() - 1,  # its invocation is over
        now=timezone.now(),
        reserved="rate:shared-api@x",
    )
    assert claim.granted
    gate_clock.now += 60  # the lease ran out; the reservation is long void
    queue_url = default_task_backend.queue_url("default")
    expire_delays(queue_url)
    tat = rate_tat("rate:shared-api")
    drain_queue("default", max_batches=1)
    assert _c_runs() == 1  # started on its new, counted start
    assert rate_tat("rate:shared-api") > tat


def test_a_fresh_copy_made_after_an_unwritten_retry_does_not_reuse_the_spent_reservation(
    gate_clock, monkeypatch
):
    """As the lost retry answer above, but the copy had been received once before, so
    the copy that comes back is a fresh one, and it carries the same reservation: the
    claim marks the reservation spent by what it is (limit and time), not by the copy
    number, so no copy can start a second attempt on it."""
    from sqs_tasks.results import ResultStore, Written

    limit_tasks.calls_the_api.enqueue("a")
    limit_tasks.calls_the_api.enqueue("b")
    limit_tasks.fails_once_calling_the_api.enqueue("c")
    sent = sent_envelopes()
    drain_queue("default")
    (reserving,) = sent
    assert reserving["reserved"] == {"rate:shared-api": gate_clock.now + 0.5}
    queue_url = default_task_backend.queue_url("default")
    gate_clock.now += 0.5
    expire_delays(queue_url)
    assert receive_batch(queue_url)  # a receive whose invocation never got it (count 1)
    expire_visibility(queue_url)

    original = ResultStore.record_retry

    def applied_then_refused(self, task_id, **kwargs):
        assert original(self, task_id, **kwargs).done
        return Written(False, self.get(task_id))

    monkeypatch.setattr(ResultStore, "record_retry", applied_then_refused)
    drain_queue("default", max_batches=1)  # receive 2: runs c on the reservation
    assert _c_runs() == 1
    tat = rate_tat("rate:shared-api")

    gate_clock.now += 1.0  # the fresh copy, 1 s later: inside the 3 s grace
    expire_delays(queue_url)
    expire_visibility(queue_url)
    drain_queue("default", max_batches=1)
    assert not (_c_runs() == 2 and rate_tat("rate:shared-api") == tat), (
        "a fresh copy carried the spent reservation and started a second, uncounted attempt"
    )


def test_an_unnamed_concurrency_and_rate_on_one_task_are_both_enforced(gate_clock):
    """An unnamed Concurrency and an unnamed Rate on one task share a name (the task's
    path): the gate tells them apart by kind, so each is enforced."""
    from sqs_tasks.limits.gate import Admission, refs_for

    gate = default_task_backend.gate
    task = limit_tasks.one_at_a_time_and_rated
    refs = refs_for(task, gate.named, ("k",), {})
    assert {r.kind for r in refs} == {"concurrency", "rate"}
    first = gate.admit(task, "t1", refs, time.time() + 600)  # leases: real time
    assert isinstance(first, Admission)
    gate_clock.now += 10  # the rate allows another start; t1 still holds the key's place
    second = gate.admit(task, "t2", refs, time.time() + 600)
    assert not isinstance(second, Admission), "two attempts under Concurrency(1) admitted"


def test_a_waiter_does_not_poll_every_second_while_a_long_holder_overruns_the_average():
    """_recheck: attempts average 600 s; the holder began 700 s ago and runs on (its
    lease, its invocation, ends in 15 min). expected = last_taken + average - now = -100,
    which passes `expected > -average`, and min(..., expected, ...) clamps to 1 s: every
    waiter polls each second (a receive, a conditional write, an item read, note_waiting,
    a visibility change, and a fresh copy every other time) for up to a whole average,
    5x the CONCURRENCY_RECHECK pace the guess was meant to improve on."""
    from sqs_tasks import aws as aws_clients

    counters = default_task_backend.gate.counters
    place, limit = "concurrency:long", Concurrency(1)
    lease = time.time() + 900
    counters.acquire(place, limit, "earlier", lease)
    aws_clients.client("dynamodb").update_item(
        TableName="app-test-rate-limits",
        Key={"id": {"S": place}},
        **counters.release_update("earlier", ran_for=600.0).request(),
    )
    counters.acquire(place, limit, "holder", lease)
    aws_clients.client("dynamodb").update_item(
        TableName="app-test-rate-limits",
        Key={"id": {"S": place}},
        UpdateExpression="SET last_taken = :t",
        ExpressionAttributeValues={":t": {"N": str(time.time() - 700)}},
    )
    refused, _ = counters.acquire(place, limit, "waiter", lease)
    assert isinstance(refused, Refused)
    assert refused.wait > 1.0, "an overdue holder makes every waiter poll each second"


@pytest.mark.parametrize("limit", [1, 2])
def test_two_workers_making_a_new_keys_counter_at_once_share_it(monkeypatch, limit):
    """Both find no counter; the other's PutItem lands first, ours is refused and takes a
    place in the counter the other made, as any later task would: one place each, never
    over the limit."""
    from sqs_tasks.limits.counters import Counters

    counters = default_task_backend.gate.counters
    original = Counters._create

    def the_other_first(self, item_id, task_id, until, now):
        assert original(self, item_id, "the-other", until, now)
        return original(self, item_id, task_id, until, now)

    monkeypatch.setattr(Counters, "_create", the_other_first)
    place, lease = f"concurrency:race-{limit}", time.time() + 600
    outcome, held = counters.acquire(place, Concurrency(limit), "ours", lease)
    item = aws_clients.client("dynamodb").get_item(
        TableName="app-test-rate-limits", Key={"id": {"S": place}}, ConsistentRead=True
    )["Item"]
    holders = set(item["holders"]["M"])
    if limit == 1:
        assert isinstance(outcome, Refused) and holders == {"the-other"}
    else:
        assert isinstance(outcome, Admitted) and not held and holders == {"the-other", "ours"}
