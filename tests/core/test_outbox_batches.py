"""A batch's items, written 25 a request as PartiQL INSERTs (ResultStore.create_many).

Each INSERT creates its item only if absent, as one task's PutItem does; DynamoDB answers
each statement on its own, so one refused statement, one refused request or one item that
already exists holds back its own rows only. The sequences here are those the conditional
PutItem per task was tested for, and those a batch adds."""

from collections.abc import Iterable
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from django.tasks import TaskResultStatus, default_task_backend

from sqs_tasks import aws as aws_clients
from sqs_tasks import outbox
from sqs_tasks.envelope import Envelope
from sqs_tasks.models import OutboxEntry
from sqs_tasks.results import INSERT_BATCH
from sqs_tasks.tasks import relay_outbox
from sqs_tasks.testing import drain_queue
from stack import emulator_dynamodb
from tests import sample_tasks
from tests.helpers import count, refused_statements


def calls_to_dynamodb() -> list[str]:
    calls: list[str] = []
    aws_clients.events("dynamodb").register(
        "before-call.dynamodb.*", lambda model, **kw: calls.append(model.name)
    )
    return calls


def unrelayed(tags: Iterable[str]) -> list:
    """enqueue_many's rows, committed, their relay never run (the process died first)."""
    with mock.patch.object(outbox, "relay"):
        return sample_tasks.records_call.enqueue_many([((tag,), {}) for tag in tags])


def sent_without_delete(results: list) -> None:
    """A relay that wrote these rows' items and sent them, and died before its delete."""
    ids = {r.id for r in results}
    rows = OutboxEntry.objects.filter(task_id__in=ids).order_by("task_id")
    outbox.deliver(default_task_backend, [Envelope.from_json(r.envelope) for r in rows])


def status(task_id: str) -> TaskResultStatus:
    return default_task_backend.get_result(task_id).status


def test_a_batch_writes_the_item_one_enqueue_writes(aws):
    """Arguments of every JSON kind reach the item through a statement's parameters
    exactly as through a PutItem, quotes and PartiQL's own characters included."""
    value = {"nested": {"list": [1, 2.5, None, True, "é'\"{?},"]}, "empty": "", "n": -3}
    single = sample_tasks.heavy_echo.enqueue(value)
    first, second = sample_tasks.heavy_echo.enqueue_many([((value,), {}), ((value,), {})])
    store = default_task_backend.results
    one, *bulk = (store.get(r.id).to_dynamo() for r in (single, first, second))
    differ = {"id", "enqueued_at", "expires_at"}
    for written in bulk:
        assert {k: v for k, v in written.items() if k not in differ} == {
            k: v for k, v in one.items() if k not in differ
        }
    drain_queue("heavy")
    assert default_task_backend.get_result(second.id).return_value == value


def test_sixty_tasks_make_three_requests(aws):
    calls = calls_to_dynamodb()
    sample_tasks.add.enqueue_many([((n, n), {}) for n in range(60)])
    assert calls == ["BatchExecuteStatement"] * 3
    assert count(aws["default"]) == 60


def test_rows_sent_before_go_again_only_if_unfinished_and_run_once(aws):
    """Relays died after writing their items and sending, before deleting their rows; one
    batch has run since. The next relay finds every item there (DuplicateItem), reads them
    back in one request, sends again only the batch that has not run, and each task runs
    once (a second message of one task is a copy of it)."""
    sample_tasks.CALLS.clear()
    ran, waiting = unrelayed("ab"), unrelayed("cd")
    sent_without_delete(ran)
    drain_queue("default")
    sent_without_delete(waiting)
    calls = calls_to_dynamodb()
    report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert calls == ["BatchExecuteStatement", "BatchGetItem"]
    assert len(report.sent) == 4 and not OutboxEntry.objects.exists()  # every row is done
    assert count(aws["default"]) == 4  # c and d twice; a and b, finished, not again
    drain_queue("default")
    assert sorted(sample_tasks.CALLS) == ["a", "b", "c", "d"]


def test_an_item_returned_with_its_duplicate_is_not_read_again(aws):
    """If DynamoDB returns the item that was there with a DuplicateItem (the API reference
    says a refused statement carries it under ALL_OLD; it may not for an INSERT), the relay
    uses it and makes no read."""
    results = unrelayed("ab")
    sent_without_delete(results)
    store = default_task_backend.results
    there = {r.id: store.get(r.id).to_dynamo() for r in results}
    insert = emulator_dynamodb._insert

    def with_old_item(backend, statement):
        answer = insert(backend, statement)
        if answer.get("Error", {}).get("Code") == "DuplicateItem":
            _, item = emulator_dynamodb.inserted_item(statement)
            answer["Error"]["Item"] = there[item["id"]["S"]]
        return answer

    calls = calls_to_dynamodb()
    with mock.patch.object(emulator_dynamodb, "_insert", with_old_item):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert calls == ["BatchExecuteStatement"]
    assert sorted(report.sent) == sorted(r.id for r in results)


def test_an_item_that_existed_and_is_gone_keeps_its_row(aws):
    """DuplicateItem, then the read back finds nothing (an operator deleted the item in
    between): the row stays, and the next relay writes the item."""
    results = unrelayed("ab")
    sent_without_delete(results)
    store = default_task_backend.results
    gone = results[0].id
    get_many = type(store).get_many

    def missing_one(self, task_ids, **kwargs):
        return [item for item in get_many(self, task_ids, **kwargs) if item.id != gone]

    with mock.patch.object(type(store), "get_many", missing_one):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert report.sent == [results[1].id] and report.failed == [gone]
    assert list(OutboxEntry.objects.values_list("task_id", flat=True)) == [gone]


def test_a_refused_request_holds_back_its_own_25_rows_only(aws):
    """Three requests for sixty rows, in parallel; DynamoDB refuses the one that carries
    a given task (after botocore's retries): its 25 rows stay for the next relay."""
    sample_tasks.CALLS.clear()
    tags = [f"{n:02}" for n in range(60)]
    results = unrelayed(tags)
    target = results[30].id

    def refuse_its_request(params, **kwargs):
        if any(s["Parameters"][0] == {"S": target} for s in params["Statements"]):
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchExecuteStatement")

    events = aws_clients.events("dynamodb")
    events.register("provide-client-params.dynamodb.BatchExecuteStatement", refuse_its_request)
    report = outbox.relay_all(default_task_backend, budget_seconds=10)
    events.unregister("provide-client-params.dynamodb.BatchExecuteStatement", refuse_its_request)
    assert len(report.sent) == 35 and len(report.failed) == 25 and target in report.failed
    relay_outbox.call()
    drain_queue("default")
    assert sorted(sample_tasks.CALLS) == tags


def test_a_statement_refused_for_its_item_holds_back_that_row_only(aws):
    """DynamoDB refuses one statement for what it carries (ValidationError): that row
    stays, counted as a failed relay, and the batch's others are sent."""
    results = unrelayed("abc")
    with refused_statements({results[1].id: "ValidationError"}):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert report.failed == [results[1].id]
    (row,) = OutboxEntry.objects.all()
    assert row.relay_attempts == 1 and "ValidationError" in row.last_error


def test_create_many_takes_at_most_one_request_of_items(aws):
    store = default_task_backend.results
    assert store.create_many([]) == []
    with pytest.raises(ValueError, match="at most 25"):
        store.create_many([None] * (INSERT_BATCH + 1))  # type: ignore[list-item]


def test_a_failed_read_back_holds_back_only_the_rows_it_was_for(aws):
    """Found by review: the read back of a DuplicateItem throttled made the whole batch an
    error, though the batch's other items were written; they now go at once."""
    results = unrelayed("abc")
    sent_without_delete(results[:1])  # its item exists: a DuplicateItem, then a read

    def throttled(self, task_ids, **kwargs):
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
        raise ClientError(error, "BatchGetItem")

    with mock.patch.object(type(default_task_backend.results), "get_many", throttled):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert sorted(report.sent) == sorted(r.id for r in results[1:])
    assert list(OutboxEntry.objects.values_list("task_id", flat=True)) == [results[0].id]


def test_a_web_request_asks_once_more_not_twice(aws):
    """Under aws.prompt() (a web request's relay) a refused statement is asked again once:
    its row is relay-outbox's a minute later, and the request does not wait longer."""
    results = unrelayed("ab")
    calls = calls_to_dynamodb()
    throttled = {results[0].id: "ThrottlingError"}
    with refused_statements(throttled), aws_clients.prompt():
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert calls == ["BatchExecuteStatement"] * 2
    assert report.failed == [results[0].id]
    assert "ThrottlingError" in OutboxEntry.objects.get().last_error


def test_a_statement_throttled_once_goes_on_the_next_try(aws):
    """botocore retries a throttled request, not a throttled statement: create_many asks
    again for those (with a short back-off), so a passing throttle does not leave a row
    for relay-outbox (a minute later)."""
    results = unrelayed("abc")
    refused: list[str] = []

    def throttled_once(task_id: str) -> str | None:
        if task_id != results[1].id or refused:
            return None
        refused.append(task_id)
        return "ThrottlingError"

    calls = calls_to_dynamodb()
    with refused_statements(throttled_once):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    assert refused and calls == ["BatchExecuteStatement", "BatchExecuteStatement"]
    assert len(report.sent) == 3 and not OutboxEntry.objects.exists()


def test_a_retry_that_fails_keeps_what_the_first_request_wrote(aws):
    """The first request wrote two items and was refused one statement; the retry's
    request fails outright: the two are sent, the third row stays."""
    results = unrelayed("abc")
    requests = []

    def second_request_fails(**kwargs):
        requests.append(1)
        if len(requests) == 2:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchExecuteStatement")

    events = aws_clients.events("dynamodb")
    events.register("provide-client-params.dynamodb.BatchExecuteStatement", second_request_fails)
    with refused_statements({results[1].id: "InternalServerError"}):
        report = outbox.relay_all(default_task_backend, budget_seconds=10)
    events.unregister("provide-client-params.dynamodb.BatchExecuteStatement", second_request_fails)
    assert sorted(report.sent) == sorted([results[0].id, results[2].id])
    assert report.failed == [results[1].id]


def test_a_statement_refused_for_good_is_not_asked_again(aws):
    results = unrelayed("ab")
    calls = calls_to_dynamodb()
    with refused_statements({results[0].id: "ValidationError"}):
        outbox.relay_all(default_task_backend, budget_seconds=10)
    assert calls.count("BatchExecuteStatement") == 1
