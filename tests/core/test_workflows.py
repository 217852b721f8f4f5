"""Workflows (contract 8): chains pass values, groups and maps join in order, a failure
stops what follows and a redrive resumes, and every step and join starts once whatever
SQS does."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend, task
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.utils import timezone

from functions.worker import handler
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.limits.options import Concurrency
from sqs_tasks.testing import delete_done, drain_queue, receive_batch
from sqs_tasks.workflows import InvalidWorkflow, chain, get_workflow, group
from sqs_tasks.workflows import engine as engine_module
from sqs_tasks.workflows.plan import step_id
from tests import workflow_tasks as t
from tests.helpers import attributes_of, count, event_for, sqs, visible_messages

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture(autouse=True)
def fresh():
    t.CALLS.clear()
    t.FAIL.clear()
    yield
    t.FAIL.clear()


def run_all():
    for _ in range(20):
        if not drain_queue("default").processed:
            return
    raise AssertionError("the queue never emptied")


def fail_once(monkeypatch, owner, name, error):
    """The method `name` of `owner` raises `error` the first time it is called."""
    original, failed = getattr(owner, name), []

    def once(self, *args):
        if not failed:
            failed.append(args)
            raise error
        return original(self, *args)

    monkeypatch.setattr(owner, name, once)


def visible_again(queue, messages):
    """These received messages come back now (as after their visibility timeout)."""
    for message in messages:
        sqs().change_message_visibility(
            QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def test_a_chain_passes_each_value_on():
    w = chain(t.add.step(1, 2), t.add.step(10), t.add.step(100)).enqueue()
    assert get_workflow(w.id).status == TaskResultStatus.READY
    run_all()
    done = get_workflow(w.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 113
    assert t.CALLS == ["add(1, 2)", "add(3, 10)", "add(13, 100)"]
    assert done.progress == (3, 3) and done.failed_step_id is None


def test_a_group_joins_its_members_values_in_order():
    w = group([t.add.step(n, n) for n in range(5)]).then(t.total.step(plus=1)).enqueue()
    run_all()
    done = get_workflow(w.id)
    assert done.return_value == sum(2 * n for n in range(5)) + 1
    assert t.CALLS[-1] == "total([0, 2, 4, 6, 8])"


def test_a_group_alone_is_the_list_of_its_values():
    w = group([t.add.step(1, 1), t.add.step(2, 2)]).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == [2, 4]


def test_a_map_runs_once_per_item_and_keeps_the_order():
    w = chain(t.numbers.step(7), t.square.map(), t.total.step()).enqueue()
    run_all()
    done = get_workflow(w.id)
    assert done.return_value == sum(n * n for n in range(7))
    assert sorted(c for c in t.CALLS if c.startswith("square")) == sorted(
        f"square({n})" for n in range(7)
    )
    assert done.progress == (9, 9)  # numbers, seven squares, total


def test_nested_shapes():
    inner = group([t.add.step(1, 1), chain(t.add.step(2, 2), t.add.step(10))])  # a chain in a group
    w = chain(inner, t.total.step()).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == 2 + 14
    # a group, and a map in it, inside a chain: the group hands its input to both members
    w = chain(t.numbers.step(3), group([t.total.step(), t.square.map()]), t.echo.step()).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == [3, [0, 1, 4]]


def test_a_group_after_an_element_hands_each_member_its_value():
    w = chain(t.add.step(1, 1), group([t.add.step(10), t.add.step(100)])).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == [12, 102]


def test_a_failed_member_fails_the_workflow_and_the_join_never_runs_until_redriven():
    t.FAIL.add("square(2)")
    w = chain(t.numbers.step(4), t.square.map(), t.total.step()).enqueue()
    run_all()
    failed = get_workflow(w.id)
    assert failed.status == TaskResultStatus.FAILED
    step = default_task_backend.get_result(failed.failed_step_id)
    assert step.status == TaskResultStatus.FAILED and step.args == [2]
    assert not any(c.startswith("total") for c in t.CALLS)  # nothing after it started
    squares = {c for c in t.CALLS if c.startswith("square")}
    assert squares == {f"square({n})" for n in range(4)}  # the siblings finished
    t.FAIL.clear()
    call_command("tasks_redrive", "--task-id", failed.failed_step_id)
    assert get_workflow(w.id).status == TaskResultStatus.RUNNING
    run_all()
    done = get_workflow(w.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 0 + 1 + 4 + 9


def test_duplicate_deliveries_of_every_member_start_the_join_once():
    w = group([t.add.step(n, 0) for n in range(6)]).then(t.total.step()).enqueue()
    queue = default_task_backend.queue_url("default")
    messages = receive_batch(queue)
    copies = [dict(m, Attributes=dict(m["Attributes"])) for m in messages]
    for batch in (messages, copies):  # every member delivered twice, in two invocations
        response = handler(event_for(queue, batch), LambdaContext())
        delete_done(queue, batch, response)
    assert visible_messages(queue)  # the join's message (perhaps more than one copy)
    run_all()
    assert t.CALLS.count("total([0, 1, 2, 3, 4, 5])") == 1
    assert get_workflow(w.id).return_value == 15


def test_a_crash_after_a_step_succeeded_still_starts_what_follows(monkeypatch):
    w = chain(t.add.step(1, 1), t.add.step(5)).enqueue()
    fail_once(monkeypatch, engine_module.Engine, "step_succeeded", ConnectionError("died here"))
    queue = default_task_backend.queue_url("default")
    (first,) = receive_batch(queue)
    response = handler(event_for(queue, [first]), LambdaContext())
    assert response["batchItemFailures"]  # not deleted: what follows has not started
    assert t.CALLS == ["add(1, 1)"]
    visible_again(queue, [first])  # it comes back (after its visibility timeout)
    run_all()
    assert get_workflow(w.id).return_value == 7
    assert t.CALLS == ["add(1, 1)", "add(2, 5)"]


def hold_continuations():
    """Run the queue with every workflow continuation held back: the refs the worker
    would have continued, in order."""
    original = engine_module.Engine.steps_succeeded
    refs = []

    def hold(self, succeeded):
        refs.extend(succeeded)
        return set()

    engine_module.Engine.steps_succeeded = hold
    try:
        drain_queue("default")
    finally:
        engine_module.Engine.steps_succeeded = original
    return refs


def test_members_finishing_at_the_same_instant_start_the_join_once():
    """Both members' continuations run twice, interleaved: the join is created once."""
    w = group([t.add.step(1, 0), t.add.step(2, 0)]).then(t.total.step()).enqueue()
    queue = default_task_backend.queue_url("default")
    engine = engine_module.Engine(default_task_backend)
    refs = hold_continuations()
    for ref in [*refs, *reversed(refs)]:
        engine.step_succeeded(ref)
    run_all()
    assert t.CALLS.count("total([1, 2])") == 1
    assert get_workflow(w.id).return_value == 3
    assert visible_messages(queue) == []


def test_a_member_twice_in_one_batch_counts_once_and_the_join_starts_once():
    w = group([t.add.step(n, 0) for n in range(3)]).then(t.total.step()).enqueue()
    refs = hold_continuations()
    engine = engine_module.Engine(default_task_backend)
    assert engine.steps_succeeded([*refs, refs[0]]) == set()  # a duplicate in the batch
    assert engine.steps_succeeded(refs) == set()  # the whole batch delivered again
    run_all()
    assert t.CALLS.count("total([0, 1, 2])") == 1
    assert get_workflow(w.id).return_value == 3


def test_members_of_one_shard_finishing_in_one_batch_are_counted_in_one_write():
    from sqs_tasks import aws

    w = chain(t.numbers.step(10), t.square.map(), t.total.step()).enqueue()
    drain_queue("default", max_batches=1)  # numbers: the ten squares are sent
    keys = []

    def record(params, **_):  # the keys of the ADD writes: member counts
        if params.get("UpdateExpression", "").startswith("ADD"):
            keys.append(params["Key"]["id"]["S"])

    events, event = aws.events("dynamodb"), "before-parameter-build.dynamodb.UpdateItem"
    events.register(event, record)
    try:
        drain_queue("default", max_batches=1)  # the ten squares, in one batch
    finally:
        events.unregister(event, record)
    assert keys == [f"wf:{w.id}:r.1:s0", f"wf:{w.id}:r.1"]  # the shard, then its node
    run_all()
    assert get_workflow(w.id).return_value == sum(n * n for n in range(10))


def test_a_crash_after_the_members_were_counted_brings_them_back_to_start_the_join(
    monkeypatch,
):
    """The batch's members are recorded, the last shard completes the join, and the
    invocation dies before the join starts: every member of that write comes back, and
    their redelivery (finding the join complete) starts it, once."""
    from sqs_tasks.workflows.records import WorkflowRecords

    w = group([t.add.step(n, 0) for n in range(4)]).then(t.total.step()).enqueue()
    fail_once(monkeypatch, WorkflowRecords, "store_value", ConnectionError("died here"))
    queue = default_task_backend.queue_url("default")
    batch = receive_batch(queue)
    response = handler(event_for(queue, batch), LambdaContext())
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert failed == {m["MessageId"] for m in batch}  # all four come back
    assert sorted(t.CALLS) == [f"add({n}, 0)" for n in range(4)]
    assert visible_messages(queue) == []  # the join has not started
    visible_again(queue, batch)  # after return_later's delay
    run_all()
    assert t.CALLS.count("total([0, 1, 2, 3])") == 1
    assert get_workflow(w.id).return_value == 6


def test_a_join_that_cannot_be_counted_returns_only_its_members(monkeypatch):
    """A batch holds a chain's step and a group's members; AWS refuses the members'
    write: only their messages come back, the chain goes on."""
    from sqs_tasks.workflows.records import WorkflowRecords

    chained = chain(t.add.step(1, 1), t.add.step(5)).enqueue()
    grouped = group([t.add.step(n, 10) for n in range(3)]).then(t.total.step()).enqueue()
    fail_once(monkeypatch, WorkflowRecords, "member_finished", ConnectionError("refused"))
    queue = default_task_backend.queue_url("default")
    batch = receive_batch(queue)
    assert len(batch) == 4
    response = handler(event_for(queue, batch), LambdaContext())
    delete_done(queue, batch, response)
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    first_step = step_id(chained.id, "r.0")
    members = {m["MessageId"] for m in batch if attributes_of(m)["task_id"] != first_step}
    assert len(members) == 3 and failed == members
    assert len(visible_messages(queue)) == 1  # add(2, 5), the chain's next step
    visible_again(queue, [m for m in batch if m["MessageId"] in failed])
    run_all()
    assert get_workflow(chained.id).return_value == 7
    assert get_workflow(grouped.id).return_value == 33
    assert t.CALLS.count("total([10, 11, 12])") == 1


def test_two_workers_that_both_see_the_join_complete_start_it_once(monkeypatch):
    """Worker A's write completes the join; before A has gathered the values, worker B (a
    duplicate delivery of a member, on another worker) writes too, sees it complete with
    no value yet, gathers, stores and starts the join; then A does the same. The join
    runs once, with the values in order."""
    w = group([t.add.step(n, 0) for n in range(3)]).then(t.total.step()).enqueue()
    refs = hold_continuations()
    worker_a, worker_b = (engine_module.Engine(default_task_backend) for _ in range(2))
    original, interleaved = engine_module.Engine._gather, []

    def b_runs_first(self, *args):
        if self is worker_a and not interleaved:
            interleaved.append(True)
            assert worker_b.steps_succeeded([refs[0]]) == set()  # B: complete, no value
        return original(self, *args)

    monkeypatch.setattr(engine_module.Engine, "_gather", b_runs_first)
    assert worker_a.steps_succeeded(refs) == set()
    assert interleaved
    run_all()
    assert t.CALLS.count("total([0, 1, 2])") == 1
    assert get_workflow(w.id).return_value == 3


def test_a_crash_between_the_members_success_and_the_batch_end_starts_the_join(monkeypatch):
    """The members succeed and the invocation dies before finish_batch: Lambda deletes
    nothing, every message comes back, and the redeliveries (finding each member
    SUCCESSFUL) count them and start the join, once."""
    from sqs_tasks.worker.record import RecordHandler

    w = chain(t.numbers.step(5), t.square.map(), t.total.step()).enqueue()
    drain_queue("default", max_batches=1)  # numbers: the five squares are sent
    fail_once(monkeypatch, RecordHandler, "finish_batch", SystemExit("died here"))
    queue = default_task_backend.queue_url("default")
    batch = receive_batch(queue)
    assert len(batch) == 5
    with pytest.raises(SystemExit):
        handler(event_for(queue, batch), LambdaContext())
    assert sorted(c for c in t.CALLS if c.startswith("square")) == [
        f"square({n})" for n in range(5)
    ]
    visible_again(queue, batch)  # after the queue's visibility timeout
    run_all()
    assert t.CALLS.count("total([0, 1, 4, 9, 16])") == 1
    assert len([c for c in t.CALLS if c.startswith("square")]) == 5  # none ran again
    assert get_workflow(w.id).return_value == 30


def test_members_whose_join_was_never_counted_are_resumed_by_the_reconciler(monkeypatch):
    """DynamoDB refuses the members' count on every delivery until SQS moves their
    messages to the dead-letter queue; the reconciler finds them SUCCESSFUL, counts them
    (step_succeeded) and the join starts, once."""
    from sqs_tasks.operations.reconcile import reconcile
    from sqs_tasks.workflows.records import WorkflowRecords

    w = group([t.add.step(n, 10) for n in range(3)]).then(t.total.step()).enqueue()
    original = WorkflowRecords.member_finished

    def refuse(self, *args):
        raise ConnectionError("DynamoDB refused the write")

    monkeypatch.setattr(WorkflowRecords, "member_finished", refuse)
    queue = default_task_backend.queue_url("default")
    batch = receive_batch(queue)
    response = handler(event_for(queue, batch), LambdaContext())
    assert {item["itemIdentifier"] for item in response["batchItemFailures"]} == {
        m["MessageId"] for m in batch
    }
    for message in batch:  # SQS moves each message as it was, after maxReceiveCount
        sqs().send_message(
            QueueUrl=queue + "-dlq",
            MessageBody=message["Body"],
            MessageAttributes={"signature": message["MessageAttributes"]["signature"]},
        )
        sqs().delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    monkeypatch.setattr(WorkflowRecords, "member_finished", original)
    assert visible_messages(queue) == []  # the join has not started
    report = reconcile(default_task_backend)
    assert report.actions["deleted: task succeeded"] == 3
    assert count(queue + "-dlq") == 0
    run_all()
    assert t.CALLS.count("total([10, 11, 12])") == 1
    assert get_workflow(w.id).return_value == 33


def test_a_join_larger_than_an_item_goes_through_s3():
    w = group([t.text.step(4000) for _ in range(4)]).then(t.lengths.step()).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == [4000] * 4
    body = json.dumps(default_task_backend.results.get(w_step(w.id)).to_dynamo())
    assert "arguments_ref" in body


def w_step(workflow_id):
    return step_id(workflow_id, "r.1")


@pytest.mark.parametrize("size", [32, 33])
def test_a_map_whose_last_shard_is_full_or_holds_one(size):
    """Members are counted in shards of 32; a map's last shard holds what is left."""
    w = chain(t.numbers.step(size), t.square.map(), t.total.step()).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == sum(n * n for n in range(size))
    assert t.CALLS.count(f"total({[n * n for n in range(size)]})") == 1


def test_a_fan_out_cut_short_is_finished_by_the_redelivery():
    """SQS refuses the fan-out's second SendMessageBatch: the step's message comes back,
    and its redelivery sends the rest (and again what had not finished); every call runs
    once, the join once, with the values in order."""
    from sqs_tasks import aws

    w = chain(t.numbers.step(33), t.square.map(), t.total.step()).enqueue()
    queue = default_task_backend.queue_url("default")
    sent = []

    def refuse_the_second(**_):
        sent.append(1)
        if len(sent) == 2:
            raise ConnectionError("SQS refused the request")

    events = aws.events("sqs")
    events.register("before-call.sqs.SendMessageBatch", refuse_the_second)
    try:
        (first,) = receive_batch(queue)
        response = handler(event_for(queue, [first]), LambdaContext())
    finally:
        events.unregister("before-call.sqs.SendMessageBatch", refuse_the_second)
    assert response["batchItemFailures"]  # not all went: numbers' message comes back
    assert count(queue) == 10  # the first ten calls were sent
    visible_again(queue, [first])
    run_all()
    assert get_workflow(w.id).return_value == sum(n * n for n in range(33))
    assert sorted(c for c in t.CALLS if c.startswith("square")) == sorted(
        f"square({n})" for n in range(33)
    )
    assert t.CALLS.count("numbers(33)") == 1 and len(t.CALLS) == 1 + 33 + 1


@pytest.mark.volume
def test_a_large_map_joins_once_with_its_values_in_order():
    """The largest map that stays quick here (moto answers in milliseconds a call):
    bench.workflows runs 1,000 members end to end, with its requests and time per member."""
    w = chain(t.numbers.step(LARGE_MAP), t.square.map(), t.total.step()).enqueue()
    for _ in range(LARGE_MAP // 10 + 5):
        if not drain_queue("default", max_batches=LARGE_MAP).processed:
            break
    done = get_workflow(w.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == sum(n * n for n in range(LARGE_MAP))
    assert t.CALLS.count(f"total({[n * n for n in range(LARGE_MAP)]})") == 1  # in order, once
    join = default_task_backend.get_result(step_id(w.id, "r.2"))
    assert join.attempts == 1 and done.progress == (LARGE_MAP + 2, LARGE_MAP + 2)


LARGE_MAP = 300


# -- what is refused, and what is not known -----------------------------------------------


def test_a_map_with_nothing_to_run_over_is_refused_at_enqueue():
    with pytest.raises(InvalidWorkflow, match="needs a list"):
        chain(t.square.map(), t.total.step()).enqueue()


def test_a_map_over_what_is_not_a_list_fails_the_workflow_clearly():
    w = chain(t.add.step(1, 1), t.square.map()).enqueue()
    run_all()
    failed = get_workflow(w.id)
    assert failed.status == TaskResultStatus.FAILED
    step = default_task_backend.get_result(failed.failed_step_id)
    assert step.errors[-1].exception_class_path.endswith("InvalidMapInput")
    assert "given int" in default_task_backend.results.get(step.id).errors[-1].message


def test_arguments_that_do_not_fit_are_refused_at_enqueue():
    with pytest.raises(Exception, match="do not fit"):
        chain(t.add.step(1, 2), t.add.step(1, 2)).enqueue()  # add(3, 1, 2)


def test_an_unknown_workflow_does_not_exist():
    with pytest.raises(TaskResultDoesNotExist):
        get_workflow("0" * 32)


def test_a_workflow_follows_its_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = chain(t.add.step(1, 1)).enqueue()
        raise RuntimeError("the view failed")
    with pytest.raises(TaskResultDoesNotExist):
        get_workflow(rolled_back.id)
    with transaction.atomic():
        committed = chain(t.add.step(1, 1), t.add.step(1)).enqueue()
        assert get_workflow(committed.id).status == TaskResultStatus.READY  # its row
    run_all()
    assert get_workflow(committed.id).return_value == 3


def test_operators_see_a_workflow_and_each_step_names_its_workflow():
    from io import StringIO

    t.FAIL.add("square(1)")
    w = chain(t.numbers.step(2), t.square.map(), t.total.step()).enqueue()
    run_all()
    out = StringIO()
    call_command("workflow_show", w.id, "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["status"] == "FAILED" and shown["failed_step_id"]
    assert [(s["path"], s["status"]) for s in shown["steps"]] == [
        ("r.0", "SUCCESSFUL"),
        ("r.1.m0", "SUCCESSFUL"),
        ("r.1.m1", "FAILED"),
        ("r.2", "READY"),
    ]
    out = StringIO()
    call_command("tasks_show", shown["failed_step_id"], stdout=out)
    assert f"{w.id} (step r.1.m1)" in out.getvalue()
    with pytest.raises(Exception, match="No workflow"):
        call_command("workflow_show", "f" * 32)


# -- review (issue 16): sequences that break contract 8 ----------------------------------


def test_a_success_write_retried_after_it_went_through_still_starts_what_follows(monkeypatch):
    """DynamoDB applies record_success (SUCCESSFUL), its response is lost (a read timeout,
    a 500), botocore retries the UpdateItem, and the retry's condition (RUNNING, this
    lease) fails: record_success returns False, the runner says Lost(), the worker deletes
    the message without running the continuation. The step is SUCCESSFUL, the next step
    never starts, no message is left anywhere (the reconciler only reads dead-letter
    queues): the workflow is RUNNING forever. It should continue as a duplicate delivery
    of a SUCCESSFUL step does (Finished(SUCCESSFUL) -> step_succeeded)."""
    from sqs_tasks.results import ResultStore

    original = ResultStore.record_success

    def applied_then_retried(self, task_id, **kwargs):
        original(self, task_id, **kwargs)  # applied; its response never arrived
        return original(self, task_id, **kwargs)  # botocore's retry: condition fails

    monkeypatch.setattr(ResultStore, "record_success", applied_then_retried)
    w = chain(t.add.step(1, 1), t.add.step(5)).enqueue()
    run_all()
    done = get_workflow(w.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 7


@pytest.fixture
def small_payloads(settings):
    """Arguments over 20,000 bytes are refused (MAX_PAYLOAD_BYTES), as 10 MiB are deployed."""
    options = {**settings.TASKS["default"]["OPTIONS"], "MAX_PAYLOAD_BYTES": 20_000}
    settings.TASKS = {"default": {**settings.TASKS["default"], "OPTIONS": options}}


def test_a_value_too_large_for_the_next_step_fails_the_workflow(small_payloads):
    """text(30000) succeeds; its value is stored (S3: return values have no limit). The
    continuation builds echo's envelope with that value as its argument: 30,000 bytes >
    MAX_PAYLOAD_BYTES, so step_envelope raises InvalidTaskArguments inside the worker.
    The message returns, again and again, until SQS moves it to the DLQ; the reconciler
    then calls step_succeeded and fails the same way every five minutes. No step is FAILED:
    get_workflow says RUNNING forever, nothing names what went wrong. It should fail the
    workflow with the next step as failed_step_id (as a map over a non-list does), the
    error saying the value is too large. The same happens to a join whose gathered values
    exceed the limit (1,000 members of 20 KB each, with the real 10 MiB)."""
    w = chain(t.text.step(30_000), t.echo.step()).enqueue()
    run_all()
    failed = get_workflow(w.id)
    assert failed.status == TaskResultStatus.FAILED
    assert default_task_backend.get_result(failed.failed_step_id).status == "FAILED"


def test_a_step_keeps_the_queue_using_gave_it(aws):
    """`t.add.using(queue_name="heavy").step(1, 2)`: the plan keeps only the module path
    (plan.StepNode.task), and the engine resolves it again to the declared task, so the
    step is sent to `default`. `run_after`, `priority` and `dedup_key` from using() vanish
    the same way. Either keep them in the plan, or refuse a step whose task was changed by
    using() with a clear InvalidWorkflow."""
    chain(t.add.using(queue_name="heavy").step(1, 2)).enqueue()
    assert count(aws["heavy"]) == 1 and count(aws["default"]) == 0


def test_a_step_after_the_first_keeps_its_queue_too(aws):
    w = chain(t.add.step(1, 1), t.add.using(queue_name="heavy").step(5)).enqueue()
    drain_queue("default")
    assert count(aws["heavy"]) == 1
    drain_queue("heavy")
    assert get_workflow(w.id).return_value == 7


def test_a_step_keeps_its_priority_and_so_its_lane(aws):
    chain(t.add.using(priority=50).step(1, 2)).enqueue()
    assert count(default_task_backend.queue_url("default", "express")) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"dedup_key": "once"},
        {"run_after": timedelta(minutes=5)},
        {"limits": [Concurrency(2)]},
        {"message_group": lambda a, b: a},
    ],
    ids=["dedup_key", "run_after", "a limit object", "a message group function"],
)
def test_what_a_step_cannot_keep_is_refused_at_enqueue(aws, changes):
    if "run_after" in changes:
        changes = {"run_after": timezone.now() + changes["run_after"]}
    if "limits" in changes:  # no task may take a limit object it does not declare
        with pytest.raises(InvalidTask, match="names of OPTIONS"):
            t.add.using(**changes)
        return
    with pytest.raises(InvalidWorkflow):
        chain(t.add.using(**changes).step(1, 2)).enqueue()
    assert count(aws["default"]) == 0


def test_get_result_of_an_id_that_names_no_task_does_not_exist():
    """get_result(id) reads any item of the table: given "wf:<workflow id>" (or a join's
    "wf:<id>:r"), TaskItem.from_dynamo meets an item with no task_path and raises
    KeyError, a 500 in a view that polls an id from a URL. An empty id makes GetItem raise
    ValidationException (and so would an id over DynamoDB's 2,048-byte key limit, which
    moto does not enforce). Django's API says TaskResultDoesNotExist, for get_workflow too.
    Check the id's shape (a 32-hex task id) before reading, and refuse items of another
    kind."""
    w = group([t.add.step(1, 1), t.add.step(2, 2)]).enqueue()
    run_all()
    for key in (f"wf:{w.id}", f"wf:{w.id}:r", ""):
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(key)
    with pytest.raises(TaskResultDoesNotExist):
        get_workflow("")


# -- review: edges that held up (kept as regressions) --------------------------------------


@task
def starts_a_workflow(start: int) -> str:
    return chain(t.add.step(start, 1), t.add.step(10)).enqueue().id


def test_a_workflow_enqueued_inside_a_task():
    started = starts_a_workflow.enqueue(1)
    run_all()
    workflow_id = default_task_backend.get_result(started.id).return_value
    assert get_workflow(workflow_id).return_value == 12


def test_empty_maps_finish_at_once_alone_and_in_a_group():
    w = chain(t.numbers.step(0), t.square.map(), t.total.step()).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == 0
    w = chain(t.numbers.step(0), group([t.square.map(), t.square.map()])).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == [[], []]


def test_a_group_in_a_group_and_a_map_over_a_groups_value():
    w = group([group([t.add.step(1, 1), t.add.step(2, 2)]), t.add.step(3, 3)]).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == [[2, 4], 6]
    w = chain(group([t.add.step(1, 1), t.add.step(2, 2)]), t.add.map(10)).enqueue()
    run_all()
    assert get_workflow(w.id).return_value == [12, 14]  # each item first, then its own
