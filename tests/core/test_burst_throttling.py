"""A burst above provisioned capacity (TableCapacity=provisioned, issue 14): until auto
scaling catches up (two minutes above the target, then minutes to apply), DynamoDB refuses
writes to the tasks table with ProvisionedThroughputExceededException, after botocore's own
retries. What each write that a task's path makes does then, one sequence at a time:

- enqueue: the item's PutItem (or a batch's INSERTs, statement by statement) refused, the
  task waits in the outbox (READY to get_result), no message goes, and relay-outbox sends
  it once the burst has passed; it runs once.
- a worker's claim refused: the message comes back in seconds, no attempt spent.
- a worker's outcome refused (the body ran): the worker asks again, with jittered
  back-off, while the attempt's lease and its invocation allow a try (sqs_tasks/refusals.py,
  worker/deadline.py). A burst that passes by then: the same attempt records its outcome,
  the body runs once. One that outlasts them: the message comes back, finds the task still
  held by the attempt's lease, and the task runs again once that lease ends: the body runs
  twice, the second attempt records a WorkerLost before it.

The throttle here refuses every write to the tasks table, as a table at its capacity does;
reads have capacity of their own and go on. The pauses between an outcome's tries pass at
once, on a clock of their own (tries_clock): nothing else sees them."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import time_machine
from botocore.exceptions import ClientError
from django.tasks import TaskResultStatus, default_task_backend, task

from functions.worker import handler
from sqs_tasks import aws as aws_clients
from sqs_tasks import refusals
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.models import OutboxEntry
from sqs_tasks.tasks import relay_outbox
from sqs_tasks.testing import delete_done, drain_queue, receive_batch
from sqs_tasks.worker.deadline import Deadline
from tests import sample_tasks
from tests.helpers import event_for, refused_statements

pytestmark = pytest.mark.usefixtures("aws")

PARAMS_EVENT = "provide-client-params.dynamodb"  # where a test may refuse a call
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
# The queue's visibility timeout and then some: a lease never outlasts it (worker/deadline.py).
AFTER_THE_LEASE = 1200 + 60


class Burst:
    """While on, every write to the tasks table is refused as over capacity; with `left`,
    only that many more (then the burst has passed)."""

    def __init__(self) -> None:
        self.on = False
        self.left: int | None = None
        self.refused: list[str] = []
        self.refused_at: list[float] = []  # on the clock of an outcome's tries

    def __call__(self, params: dict, model, **kwargs) -> None:
        if self.on and self.left == 0:
            self.on = False
        if self.on and self._touches_the_table(params):
            if self.left is not None:
                self.left -= 1
            self.refused.append(model.name)
            self.refused_at.append(refusals.clock.now())
            error = {
                "Error": {
                    "Code": "ProvisionedThroughputExceededException",
                    "Message": "The level of configured provisioned throughput for the table "
                    "was exceeded.",
                }
            }
            raise ClientError(error, model.name)

    @staticmethod
    def _touches_the_table(params: dict) -> bool:
        table = default_task_backend.results.table_name
        if params.get("TableName") == table or table in params.get("RequestItems", {}):
            return True
        return any(
            part.get("TableName") == table
            for item in params.get("TransactItems", [])
            for part in item.values()
        )


BURST = Burst()


@pytest.fixture
def burst(tries_clock) -> Iterator[Burst]:
    """The burst, and the clock an outcome's tries wait on: their pauses pass at once."""
    BURST.on, BURST.left, BURST.refused, BURST.refused_at = False, None, [], []
    events = aws_clients.events("dynamodb")
    for operation in WRITES:
        events.register(f"{PARAMS_EVENT}.{operation}", BURST, unique_id=f"burst-{operation}")
    try:
        yield BURST
    finally:
        BURST.on = False
        for operation in WRITES:
            events.unregister(f"{PARAMS_EVENT}.{operation}", unique_id=f"burst-{operation}")


@contextmanager
def over_capacity(throttle: Burst) -> Iterator[None]:
    throttle.on = True
    try:
        yield
    finally:
        throttle.on = False


@task
def runs_into_a_burst(tag: str) -> str:
    """A body during whose first run the burst arrives: that run's outcome write is refused."""
    sample_tasks.CALLS.append(tag)
    if sample_tasks.CALLS.count(tag) == 1:
        BURST.on = True
    return tag


@task
def runs_into_a_short_burst(tag: str) -> str:
    """A body during whose run a burst arrives that refuses three writes, then passes."""
    sample_tasks.CALLS.append(tag)
    BURST.on, BURST.left = True, 3
    return tag


def one_invocation(queue_name: str = "default") -> dict:
    queue_url = default_task_backend.queue_url(queue_name)
    messages = receive_batch(queue_url)
    response = handler(event_for(queue_url, messages), LambdaContext())
    delete_done(queue_url, messages, response)
    return response


def test_an_enqueue_refused_waits_in_the_outbox_and_runs_once_after_the_burst(burst):
    sample_tasks.CALLS.clear()
    with over_capacity(burst):
        result = sample_tasks.records_call.enqueue("queued")  # never raises (contract 9)
    assert "PutItem" in burst.refused
    (row,) = OutboxEntry.objects.all()
    assert row.task_id == result.id
    assert sample_tasks.records_call.get_result(result.id).status == TaskResultStatus.READY
    assert drain_queue("default").processed == 0  # no item, no message: nothing to run yet
    relay_outbox.call()  # the next tick, the burst over
    assert not OutboxEntry.objects.exists()
    drain_queue("default")
    assert sample_tasks.CALLS == ["queued"]
    assert sample_tasks.records_call.get_result(result.id).status == TaskResultStatus.SUCCESSFUL


def test_a_bulk_enqueue_refused_waits_in_the_outbox_and_runs_once_after_the_burst(burst):
    """enqueue_many's INSERTs are refused statement by statement (a batch's request goes
    through; each statement is throttled on its own, and asked again, in vain)."""
    sample_tasks.CALLS.clear()
    throttled = refused_statements(lambda task_id: "ProvisionedThroughputExceeded")
    with over_capacity(burst), throttled:
        results = sample_tasks.records_call.enqueue_many([((tag,), {}) for tag in "abc"])
    assert OutboxEntry.objects.count() == 3
    assert drain_queue("default").processed == 0
    relay_outbox.call()  # the next tick, the burst over
    assert not OutboxEntry.objects.exists()
    drain_queue("default")
    assert sorted(sample_tasks.CALLS) == ["a", "b", "c"]
    statuses = {sample_tasks.records_call.get_result(r.id).status for r in results}
    assert statuses == {TaskResultStatus.SUCCESSFUL}


def test_a_claim_refused_comes_back_in_seconds_with_no_attempt_spent(burst):
    sample_tasks.CALLS.clear()
    result = sample_tasks.records_call.enqueue("claimed")
    with over_capacity(burst):
        response = one_invocation()
    assert "UpdateItem" in burst.refused or "TransactWriteItems" in burst.refused
    assert len(response["batchItemFailures"]) == 1
    assert sample_tasks.CALLS == []
    assert default_task_backend.results.get(result.id).attempts == 0
    with time_machine.travel(time.time() + 15, tick=True):  # the 10 s it returns in
        drain_queue("default")
        done = default_task_backend.results.get(result.id)
    assert sample_tasks.CALLS == ["claimed"]
    assert done.status == TaskResultStatus.SUCCESSFUL and done.attempts == 1


def test_an_outcome_refused_runs_the_task_again_once_its_lease_ends(burst):
    """The one sequence where a burst costs more than a delay: it outlasts the attempt's
    invocation, so the body ran but its outcome, asked for until then, was not recorded;
    it runs again (at least once, as after a crash)."""
    sample_tasks.CALLS.clear()
    result = runs_into_a_burst.enqueue("twice")
    response = one_invocation()  # the claim goes through; the body turns the burst on
    burst.on = False
    assert len(response["batchItemFailures"]) == 1
    held = default_task_backend.results.get(result.id)
    assert held.status == TaskResultStatus.RUNNING and held.attempts == 1
    assert sample_tasks.CALLS == ["twice"]
    with time_machine.travel(time.time() + 15, tick=True):  # back in seconds: still leased
        drain_queue("default")
    assert sample_tasks.CALLS == ["twice"]
    with time_machine.travel(time.time() + AFTER_THE_LEASE, tick=True):
        drain_queue("default")
        done = default_task_backend.results.get(result.id)
    assert sample_tasks.CALLS == ["twice", "twice"]
    assert done.status == TaskResultStatus.SUCCESSFUL and done.attempts == 2
    assert [error.exception_class_path for error in done.errors] == [
        "sqs_tasks.exceptions.WorkerLost"
    ]


def test_an_outcome_refused_by_a_short_burst_is_asked_for_again_and_recorded_once(
    burst, tries_clock
):
    """The burst passes within the attempt's invocation and lease: the same attempt
    records its outcome, the body ran once, and the message is done."""
    sample_tasks.CALLS.clear()
    result = runs_into_a_short_burst.enqueue("once")
    response = one_invocation()
    assert response["batchItemFailures"] == []
    assert burst.refused == ["UpdateItem"] * 3 and len(tries_clock.pauses) == 3
    done = default_task_backend.results.get(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.attempts == 1
    assert done.errors == () and done.lease is None
    drain_queue("default")
    assert sample_tasks.CALLS == ["once"]


def test_an_outcome_is_asked_for_only_while_the_invocation_can_afford_a_try(burst, monkeypatch):
    """A burst that outlasts the invocation: the tries stop where the slowest one would
    still end inside it, with the margin kept to answer Lambda; then as before."""
    sample_tasks.CALLS.clear()
    bounds: list[float] = []
    until = Deadline.outcome_until

    def outcome_until(self, lease_until):
        bounds.append(until(self, lease_until))
        return bounds[-1]

    monkeypatch.setattr(Deadline, "outcome_until", outcome_until)
    runs_into_a_burst.enqueue("bounded")
    started = time.time()
    response = one_invocation()
    burst.on = False
    assert len(response["batchItemFailures"]) == 1
    (bound,) = bounds
    margin = default_task_backend.config.deadline_margin
    assert started < bound <= time.time() + LambdaContext.timeout_seconds - margin
    last = burst.refused_at[-1]
    assert len(burst.refused) > 10
    assert last + aws_clients.PROMPT_CALL_LIMIT <= bound
    # ... and not much before: the time it had, it used.
    assert last + aws_clients.PROMPT_CALL_LIMIT + refusals.BACKOFF_MAX > bound
