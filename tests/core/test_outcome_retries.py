"""An attempt's outcome asked for again while DynamoDB refuses it for a passing reason
(sqs_tasks.refusals, results.py, runner.py): what is asked again and what is not, until
when, and a try that went through though its answer was lost. test_burst_throttling.py
has the bursts themselves."""

import time
from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from sqs_tasks import aws as aws_clients
from sqs_tasks import refusals
from sqs_tasks.dynamo import Update
from sqs_tasks.item import StoredJSON
from sqs_tasks.results import TOKEN_WINDOW, Also
from sqs_tasks.testing import deliver, drain_queue, receive_batch
from sqs_tasks.worker.deadline import AFTER_OUTCOME, LEASE_SLACK, Deadline
from tests import limit_tasks, sample_tasks
from tests.helpers import count, short_context

pytestmark = pytest.mark.usefixtures("aws", "tries_clock")

Error = Callable[[dict], Exception]


def client_error(code: str, **response: object) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}, **response}, "Write")


def cancelled(*reasons: str) -> Error:
    """A TransactionCanceledException with these reasons, one per write, the task's first."""
    return lambda params: client_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": code} for code in reasons]
    )


def lost_answer(params: dict) -> Exception:
    return ReadTimeoutError(endpoint_url="https://dynamodb.invalid/")


def is_outcome(params: dict) -> bool:
    """An attempt's outcome write (its condition names the lease's owner), not its claim."""
    write = params["TransactItems"][0]["Update"] if "TransactItems" in params else params
    return "#lease_owner = " in write.get("ConditionExpression", "")


class Refusal:
    """Refuses the next `times` outcome writes of one operation with `error(params)` before
    they are sent; with `after`, lets them through and loses their answers instead."""

    def __init__(self, error: Error, times: int, after: bool) -> None:
        self.error, self.left, self.after = error, times, after
        self.tries: list[dict] = []  # the outcome writes sent, refused or not

    def before(self, params: dict, **kwargs) -> None:
        if is_outcome(params):
            self.tries.append(params)
            if not self.after:
                self._refuse(params)

    def answered(self, params: dict, **kwargs) -> None:
        if is_outcome(params) and self.after:
            self._refuse(params)

    def _refuse(self, params: dict) -> None:
        if self.left:
            self.left -= 1
            raise self.error(params)


@pytest.fixture
def refuse() -> Iterator[Callable[..., Refusal]]:
    """refuse(operation, error, times=1, after=False): a Refusal of that operation's
    outcome writes, on every DynamoDB client until the test ends."""
    events = aws_clients.events("dynamodb")
    hooks: list[tuple[str, str]] = []

    def install(operation: str, error: Error, times: int = 1, after: bool = False) -> Refusal:
        refusal = Refusal(error, times, after)
        stash = f"refusal-stash-{len(hooks)}"
        before = f"refusal-before-{len(hooks)}"
        answered = f"refusal-after-{len(hooks)}"

        def keep_params(params: dict, context: dict, **kwargs) -> None:
            context["refusal_params"] = params

        def after_call(context: dict, **kwargs) -> None:
            refusal.answered(context.get("refusal_params", {}))

        events.register(f"provide-client-params.dynamodb.{operation}", keep_params, stash)
        events.register(f"provide-client-params.dynamodb.{operation}", refusal.before, before)
        events.register(f"after-call.dynamodb.{operation}", after_call, answered)
        hooks.extend(
            [
                (f"provide-client-params.dynamodb.{operation}", stash),
                (f"provide-client-params.dynamodb.{operation}", before),
                (f"after-call.dynamodb.{operation}", answered),
            ]
        )
        return refusal

    yield install
    for event, unique_id in hooks:
        events.unregister(event, unique_id=unique_id)


def live_messages(queue_name: str = "default") -> int:
    queue = default_task_backend.queue_url(queue_name)
    return count(queue) + count(queue, "ApproximateNumberOfMessagesNotVisible")


# -- what is asked again ------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        lambda params: client_error("ProvisionedThroughputExceededException"),
        lambda params: client_error("ThrottlingException"),
        lambda params: client_error("RequestLimitExceeded"),
        lambda params: client_error("InternalServerError"),
        lambda params: EndpointConnectionError(endpoint_url="https://dynamodb.invalid/"),
        lost_answer,  # before it was sent: a read timeout of a write that did not go through
    ],
    ids=["over capacity", "throttled", "request limit", "internal error", "connection", "read"],
)
def test_an_outcome_refused_for_a_passing_reason_is_asked_for_again(refuse, tries_clock, error):
    sample_tasks.CALLS.clear()
    result = sample_tasks.records_call.enqueue("once")
    refusal = refuse("UpdateItem", error, times=2)
    assert drain_queue("default").returned == []
    assert len(refusal.tries) == 3 and len(tries_clock.pauses) == 2
    assert all(try_ == refusal.tries[0] for try_ in refusal.tries)  # the same request
    done = default_task_backend.results.get(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.attempts == 1
    assert sample_tasks.CALLS == ["once"] and live_messages() == 0


@pytest.mark.parametrize(
    "error",
    [
        lambda params: client_error("ValidationException"),
        lambda params: client_error("AccessDeniedException"),
        lambda params: client_error("ItemCollectionSizeLimitExceededException"),
        lambda params: client_error("ResourceNotFoundException"),
    ],
    ids=["validation", "access denied", "item collection", "no table"],
)
def test_an_outcome_refused_for_good_is_not_asked_for_again(refuse, tries_clock, error):
    """As before: the record fails at once, the message comes back, the lease decides."""
    result = sample_tasks.records_call.enqueue("refused")
    refusal = refuse("UpdateItem", error, times=1)
    assert len(drain_queue("default").returned) == 1
    assert len(refusal.tries) == 1 and tries_clock.pauses == []
    held = default_task_backend.results.get(result.id)
    assert held.status == TaskResultStatus.RUNNING and held.attempts == 1


def test_a_claim_refused_is_not_asked_for_again(refuse, tries_clock):
    """A refused claim costs a receive: the message comes back in seconds."""
    events = aws_clients.events("dynamodb")
    claims: list[dict] = []

    def throttle_claims(params: dict, **kwargs) -> None:
        if not is_outcome(params):
            claims.append(params)
            raise client_error("ProvisionedThroughputExceededException")

    events.register("provide-client-params.dynamodb.UpdateItem", throttle_claims, "claims")
    try:
        result = sample_tasks.records_call.enqueue("later")
        assert len(drain_queue("default").returned) == 1
    finally:
        events.unregister("provide-client-params.dynamodb.UpdateItem", unique_id="claims")
    assert len(claims) == 1 and tries_clock.pauses == []
    assert default_task_backend.results.get(result.id).attempts == 0


# -- a try that went through, its answer lost -------------------------------------------


@pytest.mark.parametrize(
    ("task", "status", "attempts", "letters"),
    [
        (sample_tasks.records_call, TaskResultStatus.SUCCESSFUL, 1, 0),
        (sample_tasks.fails_with_value_error, TaskResultStatus.FAILED, 1, 1),
    ],
    ids=["success", "failure"],
)
def test_an_outcome_written_whose_answer_was_lost_stands(refuse, task, status, attempts, letters):
    """The first try goes through and its answer is lost; the next is refused by it (no
    longer RUNNING under this lease), with the item: this attempt's own outcome. It stands
    as if answered: nothing runs again, the message is done, a letter owed is sent once."""
    sample_tasks.CALLS.clear()
    args = ("once",) if task is sample_tasks.records_call else ()
    result = task.enqueue(*args)
    refusal = refuse("UpdateItem", lost_answer, times=1, after=True)
    assert drain_queue("default").returned == []
    assert len(refusal.tries) == 2
    done = default_task_backend.results.get(result.id)
    assert done.status == status and done.attempts == attempts
    assert all(e.exception_class_path != "sqs_tasks.exceptions.WorkerLost" for e in done.errors)
    assert list(args) == sample_tasks.CALLS
    assert live_messages() == 0
    assert count(default_task_backend.queue_url("default") + "-dlq") == letters


def test_a_retry_written_whose_answer_was_lost_brings_the_message_back_when_due(refuse, caplog):
    """The attempt is RetryLater, as if answered: its message comes back when the retry is
    due, without the reservation this attempt used (worker/disposition.py)."""
    result = sample_tasks.always_flaky.enqueue()
    refusal = refuse("UpdateItem", lost_answer, times=1, after=True)
    queue = default_task_backend.queue_url("default")
    response = deliver(queue, receive_batch(queue))  # one invocation
    assert len(response["batchItemFailures"]) == 1  # back when due
    assert len(refusal.tries) == 2
    outcomes = [record.outcome for record in caplog.records if hasattr(record, "outcome")]
    assert outcomes == ["RetryLater"]
    ready = default_task_backend.results.get(result.id)
    assert ready.status == TaskResultStatus.READY and ready.attempts == 1
    assert len(ready.errors) == 1  # the one failure, written once
    assert live_messages() == 1


# -- with the limits' places given back (TransactWriteItems) -----------------------------


@pytest.mark.parametrize(
    ("error", "same_token"),
    [
        # Cancelled: nothing was written, and the next try is a request of its own.
        (cancelled("None", "TransactionConflict"), False),
        (cancelled("ThrottlingError", "None"), False),
        (cancelled("ProvisionedThroughputExceeded", "None"), False),
        # May have gone through: asked again as the same request, which DynamoDB answers
        # as the first (moto ignores the token, and refuses a replay by its condition).
        (lambda params: client_error("TransactionInProgressException"), True),
        (lambda params: client_error("InternalServerError"), True),
        (lost_answer, True),
    ],
    ids=["conflict", "throttled", "over capacity", "in progress", "server error", "answer lost"],
)
def test_an_outcome_with_releases_keeps_its_token_while_it_may_have_gone_through(
    refuse, fresh, tries_clock, error, same_token
):
    result = limit_tasks.one_per_account.enqueue("acct", "t1")
    after = error is lost_answer
    refusal = refuse("TransactWriteItems", error, times=1, after=after)
    assert drain_queue("default").returned == []
    first, second = refusal.tries
    assert (first["ClientRequestToken"] == second["ClientRequestToken"]) is same_token
    assert first["TransactItems"] == second["TransactItems"]
    done = default_task_backend.results.get(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.attempts == 1
    assert [run[0] for run in limit_tasks.RUNS] == ["t1"]
    # The place went back: the next task of the account starts at once.
    limit_tasks.one_per_account.enqueue("acct", "t2")
    drain_queue("default")
    assert [run[0] for run in limit_tasks.RUNS] == ["t1", "t2"]


def test_an_outcome_with_its_releases_refused_by_its_condition_is_not_asked_for_again(
    refuse, fresh, tries_clock
):
    """ConditionalCheckFailed is an answer: the item says the lease is another's now."""
    result = limit_tasks.one_per_account.enqueue("acct", "t1")
    results = default_task_backend.results

    def taken_over(params: dict) -> Exception:
        item = results._db.get_item(TableName=results.table_name, Key={"id": {"S": result.id}})
        taken = {**item["Item"], "lease_owner": {"S": "another"}}
        reasons = [{"Code": "ConditionalCheckFailed", "Item": taken}, {"Code": "None"}]
        return client_error("TransactionCanceledException", CancellationReasons=reasons)

    refusal = refuse("TransactWriteItems", taken_over, times=1)
    assert len(drain_queue("default").returned) == 1  # busy: back when that lease ends
    assert len(refusal.tries) == 1 and tries_clock.pauses == []


# -- until when ---------------------------------------------------------------------------


def test_the_tries_stop_within_the_lease_and_the_invocation():
    margin = default_task_backend.config.deadline_margin
    lease_until = time.time() + 100
    outside = Deadline(None, margin)
    assert outside.outcome_until(lease_until) == lease_until - LEASE_SLACK
    inside = Deadline(short_context(30), margin)
    # What follows the last try (a dead letter, the batch's answer) keeps time of its own.
    assert inside.outcome_until(lease_until) <= time.time() + 30 - margin - AFTER_OUTCOME
    lease = inside.lease_until(inside.time_limit(10) or 0)
    assert inside.outcome_until(lease) < lease - LEASE_SLACK


def claimed_task(lease: float) -> str:
    """A task claimed by worker w-1 for `lease` seconds."""
    task_id = sample_tasks.add.enqueue(1, 1).id
    claim = default_task_backend.results.claim(
        task_id, copy=0, worker_id="w-1", lease_until=time.time() + lease, now=timezone.now()
    )
    assert claim.granted
    return task_id


def record_success(task_id: str, until: float, also: list[Also] | None = None) -> None:
    """w-1's success, which DynamoDB refuses until `until` has passed: it raises."""
    with pytest.raises(ClientError):
        default_task_backend.results.record_success(
            task_id,
            owner="w-1",
            now=timezone.now(),
            value=StoredJSON(text="2"),
            carried=[],
            also=also or (),
            until=until,
        )


def test_an_outcome_whose_lease_is_over_is_not_asked_for_again(refuse, tries_clock):
    """Its lease over, another copy may start the task: one try, as before."""
    task_id = claimed_task(lease=60)
    lease_over = Deadline(None, 5.0).outcome_until(time.time() - 1)
    refusal = refuse("UpdateItem", lambda params: client_error("ThrottlingException"))
    record_success(task_id, until=lease_over)
    assert len(refusal.tries) == 1 and tries_clock.pauses == []


def test_the_tries_of_an_outcome_with_releases_stop_at_their_deadline(refuse, tries_clock):
    task_id = claimed_task(lease=600)
    until = time.time() + 120
    refusal = refuse("TransactWriteItems", cancelled("None", "TransactionConflict"), times=10**6)
    table = default_task_backend.results.table_name
    record_success(task_id, until, also=[Also(table, "a-counter", Update().add("releases", 1))])
    assert len(refusal.tries) == len(tries_clock.pauses) + 1 > 2
    assert tries_clock.now() + aws_clients.PROMPT_CALL_LIMIT <= until


def test_the_tries_of_a_transaction_stop_while_its_token_is_answered(refuse, tries_clock):
    """DynamoDB answers a ClientRequestToken for ten minutes: a replay after that would be
    a new request, so the tries stop within TOKEN_WINDOW whatever `until` allows."""
    task_id = claimed_task(lease=3600)
    started = tries_clock.now()
    error = lambda params: client_error("InternalServerError")  # noqa: E731
    refusal = refuse("TransactWriteItems", error, times=10**6)
    table = default_task_backend.results.table_name
    also = [Also(table, "a-counter", Update().add("releases", 1))]
    record_success(task_id, started + 3000, also=also)
    assert len(refusal.tries) > 2
    assert tries_clock.now() + aws_clients.PROMPT_CALL_LIMIT <= started + TOKEN_WINDOW + 1
    assert len({try_["ClientRequestToken"] for try_ in refusal.tries}) == 1


@pytest.mark.parametrize(
    ("left", "prompt"),
    [(10**4, [False, False, False]), (60, [True, True, True]), (0, [True])],
    ids=["time for a patient call", "time for prompt calls only", "no time: one try"],
)
def test_each_try_ends_by_the_deadline_if_any_can(tries_clock, left, prompt):
    """A try goes on the patient clients when their slowest call (aws.CALL_LIMIT) ends by
    the deadline, else on the prompt ones; the first is made even with no time left."""
    seen = []

    def send() -> str:
        seen.append(aws_clients.prompting())
        if len(seen) < 3:
            raise client_error("ThrottlingException")
        return "written"

    if left:
        assert refusals.keep_asking(send, until=tries_clock.now() + left) == "written"
    else:
        with pytest.raises(ClientError):
            refusals.keep_asking(send, until=tries_clock.now() + left)
    assert seen == prompt


def test_the_pause_between_tries_is_capped_however_many():
    assert 0 <= refusals.backoff(refusals.BACKOFF, 5000) <= refusals.BACKOFF_MAX


# -- what a passing refusal is --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "passing"),
    [
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("ServiceUnavailable"), True),
        (client_error("Whatever", ResponseMetadata={"HTTPStatusCode": 503}), True),
        (cancelled("None", "TransactionConflict")({}), True),
        (cancelled("ThrottlingError", "ProvisionedThroughputExceeded")({}), True),
        (cancelled("ConditionalCheckFailed", "None")({}), False),
        (cancelled("TransactionConflict", "ConditionalCheckFailed")({}), False),
        (cancelled("ValidationError", "None")({}), False),
        (cancelled("None")({}), False),
        (client_error("ConditionalCheckFailedException"), False),
        (client_error("ValidationException"), False),
        (client_error("IdempotentParameterMismatchException"), False),
        (ReadTimeoutError(endpoint_url="https://dynamodb.invalid/"), True),
        (ValueError("a bug"), False),
    ],
)
def test_what_passes(error, passing):
    assert refusals.passing(error) is passing
