"""Rate reservations under AWS's fault model: sequences an adversarial review found (each
failed before its fix). The invariant: every attempt that starts under a rate used
exactly one counted start, and a pause holds every start."""

import contextlib

import pytest
from django.tasks import default_task_backend

from sqs_tasks import aws as aws_clients
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


def test_a_copy_whose_reserved_attempt_died_starts_on_a_new_start(gate_clock):
    """The attempt a reservation started dies with its worker (its claim marked the
    reservation spent). The copy comes back when the lease has ended, long after its
    reservation: it takes a new start, and that claim is not refused for the spent one."""
    import time

    from django.utils import timezone

    result = _reserve_for_c(gate_clock)
    results = default_task_backend.results
    claim = results.claim(
        result.id,
        copy=1,
        worker_id="died",
        lease_until=time.time() - 1,  # its invocation is over
        now=timezone.now(),
        reserved=True,
    )
    assert claim.granted
    gate_clock.now += 60  # the lease ran out; the reservation is long void
    queue_url = default_task_backend.queue_url("default")
    expire_delays(queue_url)
    tat = rate_tat("rate:shared-api")
    drain_queue("default", max_batches=1)
    assert _c_runs() == 1  # started on its new, counted start
    assert rate_tat("rate:shared-api") > tat
