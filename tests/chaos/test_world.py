"""The chaos world's own parts, and proof that its audit finds what it claims to find: a
fake that were kinder than SQS, or an audit that could not fail, would make the chaos test
pass for nothing. Each sabotage below breaks the core in one way; a tiny world must count it.
"""

import random
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from tests.chaos.faults import QUIET
from tests.chaos.ledger import Ledger, Plan
from tests.chaos.simulation import Process, Simulation, VirtualSignals
from tests.chaos.sqs import FakeSQS
from tests.chaos.world import ChaosConfig, run_world

START = 1_800_000_000.0


class NoFaults:
    def before_call(self, service, operation):
        pass

    def after_call(self, service, operation):
        pass

    def refuse_entry(self, service, operation):
        return False


@pytest.fixture
def sqs():
    clock = {"now": START}
    fake = FakeSQS(
        region="us-east-1", rng=random.Random(1), now=lambda: clock["now"], faults=NoFaults()
    )
    fake.stale_delete_takes_effect = 0.0  # "might not be deleted": here, never
    dlq = fake.create_queue("q-dlq")
    fake.create_queue("q", visibility_timeout=30, dead_letter=dlq.name, max_receive=3)
    fake.clock = clock
    return fake


def receive(sqs, url):
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])


def test_the_fake_sqs_counts_receives_and_moves_the_message_after_max_receive_count(sqs):
    url, dlq_url = sqs.queues["q"].url, sqs.queues["q-dlq"].url
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={})
    counts = []
    for _ in range(3):
        (message,) = receive(sqs, url)
        counts.append(message["Attributes"]["ApproximateReceiveCount"])
        assert receive(sqs, url) == []  # hidden for the visibility timeout
        sqs.clock["now"] += 31
    assert counts == ["1", "2", "3"]
    assert receive(sqs, url) == []  # the fourth receive moved it
    (moved,) = receive(sqs, dlq_url)
    assert moved["Body"] == "m"


def test_the_fake_sqs_refuses_an_old_receipt_handle_as_aws_does(sqs):
    url = sqs.queues["q"].url
    sqs.send_message(QueueUrl=url, MessageBody="m")
    (first,) = receive(sqs, url)
    sqs.clock["now"] += 31
    (second,) = receive(sqs, url)
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
        )
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # succeeds...
    assert len(sqs.queues["q"].messages) == 1  # ...and, here, deletes nothing
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    assert not sqs.queues["q"].messages


@pytest.mark.parametrize(
    ("call", "arguments"),
    [
        ("send_message", {"MessageBody": "m", "DelaySeconds": 901}),
        (
            "send_message_batch",
            {"Entries": [{"Id": str(i), "MessageBody": "m"} for i in range(11)]},
        ),
    ],
)
def test_the_fake_sqs_keeps_sqs_limits(sqs, call, arguments):
    with pytest.raises(ClientError):
        getattr(sqs, call)(QueueUrl=sqs.queues["q"].url, **arguments)


def test_visibility_is_at_most_twelve_hours_from_the_receive(sqs):
    url = sqs.queues["q"].url
    sqs.send_message(QueueUrl=url, MessageBody="m")
    (message,) = receive(sqs, url)
    sqs.clock["now"] += 20
    with pytest.raises(ClientError, match="43200"):
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=43200
        )


def test_a_virtual_time_limit_fires_inside_the_work_and_again_each_second():
    fired = []
    with Simulation(START) as simulation:
        signals = VirtualSignals(simulation)
        process = Process(name="invocation", kind="invocation", hard_end=START + 100)

        def run():
            signals.signal(signals.SIGALRM, lambda signum, frame: fired.append(simulation.now))
            signals.setitimer(signals.ITIMER_REAL, 10, 1.0)
            simulation.pause(12.5)
            signals.setitimer(signals.ITIMER_REAL, 0)

        simulation.spawn(process, run, START)
        while simulation.next_event_at() < float("inf"):
            simulation.step()
    assert fired == [START + 10, START + 11, START + 12]


def test_an_invocation_dies_at_its_hard_end_wherever_it_is():
    ended = []
    with Simulation(START) as simulation:
        process = Process(name="invocation", kind="invocation", hard_end=START + 5)

        def run():
            try:
                simulation.pause(60)
            except KeyboardInterrupt:  # ProcessDied
                ended.append(simulation.now)

        simulation.spawn(process, run, START)
        while simulation.next_event_at() < float("inf"):
            simulation.step()
    assert ended == [START + 5] and process.dead


def test_the_audit_counts_each_kind_of_failure():
    ledger = Ledger(backoff_base=10, backoff_max=3600)
    plan = Plan(kind="quick", value="v")
    ids = ["lost", "doubled", "early", "stuck"]
    for task_id in ids:
        ledger.plans[task_id] = plan
        ledger.committed.add(task_id)
    first = ledger.started("doubled", 1, "w1", START)
    second = ledger.started("doubled", 2, "w2", START + 1)  # while the first still ran
    ledger.ended(first, START + 2, returned=True)
    ledger.ended(second, START + 3, returned=True)
    ledger.gates["early"].append((START, START + 600, "retry"))
    ledger.claims["early"].append(START + 60)
    audit = ledger.audit(
        items={"lost": None, "doubled": None, "early": None, "stuck": None},
        return_values={},
        outbox_ids={"doubled", "early", "stuck"},
        letters=[("nobody", 0, True)],
        queued_ids=set(),
    )
    assert audit.counts["lost"] == 1 and audit.counts["false dead letters"] == 1
    assert audit.counts["stuck"] == 3  # unsent rows: READY forever


SABOTAGE = {
    # A retry that waits no backoff: its gate is written sooner than the backoff allows.
    "early": ("sqs_tasks.runner.runner.retry.retry_delay", lambda *args: 0.0),
    # A message handed back is deleted instead: the task waits READY with no message.
    "stuck": ("sqs_tasks.worker.disposition.Disposition.come_back", lambda *args: None),
    # A failed task's letter never sent, though the item says it is.
    "false dead letters": ("sqs_tasks.worker.disposition.send_letter", lambda *a, **k: None),
    # A lease that ends before the attempt does: a second copy runs the body alongside.
    "doubled": (
        "sqs_tasks.worker.deadline.Deadline.lease_until",
        lambda self, limit: __import__("time").time() + 0.5,
    ),
}


@pytest.mark.usefixtures("transactional_db")
@pytest.mark.parametrize("count", list(SABOTAGE))
def test_a_tiny_world_finds_a_sabotaged_core(count):
    target, replacement = SABOTAGE[count]
    rates = QUIET if count != "doubled" else _visible_again()
    config = ChaosConfig(
        tasks=16, seed=3, rates=rates, deferred_hours=(0.1, 0.2), retry_after_seconds=(60, 120)
    )
    with mock.patch(target, replacement):
        report = run_world(config)
    assert report.audit.counts[count] > 0, "\n".join(report.lines())


def _visible_again():
    from dataclasses import replace

    return replace(QUIET, visible_again=0.5)
