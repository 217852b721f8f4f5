"""Least privilege, proven (issue 15): the task system's flows run in moto with IAM enforced,
each under the role template.yaml gives the part that runs it, so a permission the code
needs and the template does not grant fails a test; and each role is refused what it must
not do.

The template is deployed into moto (stack/sam.py), and the roles are found in the deployed
stack, never named here: each SQS-triggered function's role by the queue it consumes, the
scheduler function's, and the web stage's (zappa_settings.json role_name). A queue, a
schedule or a statement added to the template is in these tests without an edit here.

Proven, with moto's enforcement (tests/infra/iam_enforced.py closes the gaps that would
make moto refuse what AWS allows):
- the web role enqueues on every task queue (outbox row, result item, SendMessage);
- each queue's worker role runs a batch from its queue (receive, claim, record, delete) and
  dead-letters a task that fails for good into that queue's DLQ;
- the report path's S3 calls: the web checks and reads an upload and serves the report,
  the worker that runs the report tasks reads the upload and writes the report;
- large arguments and return values through S3 (claim checks), each write and read as
  the role that makes it;
- workers keep tasks under their concurrency and rate limits (the limits table);
- a workflow enqueued by the web runs and joins on the workers (DynamoDB transactions and
  batch reads), and the web reads its status;
- the scheduler role enqueues every periodic task the template schedules, and each
  queue's worker role then runs each of them to success (every maintenance job: the
  backup's S3 writes, queue health's metrics, the digest's mail through SES, ...);
- an operator lists failed tasks and redrives them (tasks_failed, tasks_redrive), as the
  stack's operator role if it makes one, else as an administrator;
- the web role cannot receive from a dead-letter queue, nor read or plant a backup; a
  worker cannot send to another queue's dead-letter queue; no role writes Zappa's
  deployment packages, nor anywhere in the tasks bucket where the code never writes.

Backups have a bucket of their own that only the backup task's worker writes, and each
role writes only the prefixes of the tasks bucket it uses (issue 15).

What moto cannot prove, so these tests do not claim it:
- Conditions in identity policies (ses:FromAddress, s3:prefix, aws:SourceArn) are not
  evaluated: a statement with a condition counts as if the condition held.
- Resource-based policies are not evaluated: S3 bucket policies (DenyInsecureTransport),
  SQS queue policies (who may send to a queue), secret resource policies, and the
  trust policies' service principals (Lambda and Scheduler assume the roles here
  without a check). Permission boundaries and SCPs likewise.
- Services moto checks against no resource at all, beyond DynamoDB, Secrets Manager and
  SES (iam_enforced.py names those): CloudWatch (GetMetricData takes "*" anyway),
  CloudWatch Logs (the functions' log writes are Lambda's, not the code's calls).
- S3's answer to a missing key: AWS says 403, not 404, unless the caller may ListBucket;
  moto says 404 either way, so the ListBucket grants are not proven needed here.
- The schedule-invoke role (EventBridge Scheduler invoking the scheduler function): moto
  runs no schedule.
- What Lambda itself does with a role: the event source mapping's polling and the
  asynchronous invocation's on-failure destination run as the function's role on AWS; here
  the test receives and deletes with the worker's credentials, as the mapping would, but the
  scheduler's on-failure SendMessage is not exercised.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from io import StringIO
from types import SimpleNamespace
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command
from django.tasks import Task, TaskResult, TaskResultStatus, default_task_backend
from moto import mock_aws
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends

from functions.scheduler import handler
from functions.worker import handler as worker_handler
from sqs_tasks import outbox
from sqs_tasks.envelope import Envelope
from sqs_tasks.infra.task_queues import queue_names
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.models import OutboxEntry
from sqs_tasks.periodic import periodic_tasks
from sqs_tasks.testing import delete_done, receive_batch
from stack import sam
from stack.local.system import detach_moto_lambda_runner
from stack.template import TEMPLATE
from tests import sample_tasks
from tests.helpers import event_for
from tests.infra.conftest import REGION
from tests.infra.iam_enforced import (
    ACCOUNT,
    StackRoles,
    acting_as,
    admin,
    assume,
    complete_roles,
    enforced,
    judged_like_aws,
)
from tests.maintenance.scheduling import delivered_event, scheduler_inputs

STAGE = "dev"
PREFIX = f"app-{STAGE}-"
# Where the code writes in the tasks bucket (claim_check.py, reports/storage.py,
# maintenance/backups/store.py): no role may write anywhere else.
NOWHERE = "elsewhere/planted.txt"
# Known when tests are collected, for the parameters of one test.
TEMPLATE_QUEUES = queue_names(TEMPLATE)
SENDER = "tasks@example.com"
CSV = b"region,amount\nnorth,1\nsouth,2\n"


@pytest.fixture(scope="module")
def deployed(fake_aws_env):
    """The template deployed into a fresh moto account with a sender: without EmailSender
    no role may send email at all (template.yaml), and the digest's flow needs one."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        outputs = sam.deploy(session, parameters={"EmailSender": SENDER})
        yield SimpleNamespace(session=session, outputs=outputs)


@pytest.fixture(scope="module")
def stack(deployed):
    session = deployed.session
    complete_roles(session, sam.stack_name({}))
    roles = StackRoles.discover(session, PREFIX, STAGE)
    # The test delivers batches to the worker itself, as the local system's pollers do.
    detach_moto_lambda_runner()
    # Every task queue the stack declares has its worker: nothing below passes for want of one.
    assert set(deployed.outputs["TaskQueueNames"].split(",")) <= set(roles.workers)
    with judged_like_aws():
        yield session, deployed.outputs, roles


@pytest.fixture(scope="module")
def as_role(stack):
    """Credentials of a part's role ("web", "scheduler", "worker-<queue>"), assumed once."""
    session, _, roles = stack
    return cache(lambda part: assume(session, roles.all()[part], f"test-{part}"))


@pytest.fixture(autouse=True)
def deployed_names(stack, settings, transactional_db):
    """The project's settings pointed at the deployed stack's resources, not the test ones:
    its task queues, and those of the test settings' priority lanes that it has."""
    _, outputs, roles = stack
    options = settings.TASKS["default"]["OPTIONS"]
    lanes = {
        queue: {
            lane: bounds for lane, bounds in by_lane.items() if f"{queue}-{lane}" in roles.queues
        }
        for queue, by_lane in options.get("PRIORITY_LANES", {}).items()
    }
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "QUEUES": outputs["TaskQueueNames"].split(","),
            "OPTIONS": {
                **options,
                "QUEUE_NAME_PREFIX": outputs["QueueNamePrefix"],
                "TABLE_NAME": outputs["TasksTableName"],
                "BUCKET_NAME": outputs["TasksBucketName"],
                "LIMITS_TABLE": f"{PREFIX}rate-limits",
                "PRIORITY_LANES": {queue: found for queue, found in lanes.items() if found},
            },
        }
    }
    settings.RESOURCE_PREFIX = PREFIX.rstrip("-")
    settings.BACKUP_BUCKET = f"{PREFIX}backups"  # template.yaml's BackupsBucket
    settings.TASKS_METRICS_NAMESPACE = PREFIX.rstrip("-")
    yield
    drain_all(stack)


def drain_all(stack) -> None:
    """Leave every queue empty for the next test (PurgeQueue allows one call a minute)."""
    _, _, roles = stack
    backend = sqs_backends[ACCOUNT][REGION]
    for queue in roles.queues.values():
        for url in (queue.url, queue.dead_letter_url):
            backend.queues[url.rsplit("/", 1)[1]]._messages.clear()


def messages_in(session, url: str) -> int:
    attributes = session.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def sqs_queues() -> dict[str, tuple[Task, Task]]:
    """Each SQS queue the backend sends to (a task queue, or one of its lanes), by its name
    without the prefix, with a task that lands there: add, and fails_with_value_error."""
    backend = default_task_backend
    found = {}
    for queue, lane in backend.sqs_queues():
        low = backend.config.priority_lanes.get(queue, {}).get(lane, (0, 0))[0]
        found[backend.sqs_queue_name(queue, lane).removeprefix(PREFIX)] = (
            sample_tasks.add.using(queue_name=queue, priority=low),
            sample_tasks.fails_with_value_error.using(queue_name=queue, priority=low),
        )
    return found


def deliver_all(url: str) -> tuple[int, list[str]]:
    """What the event source mapping does, with the credentials in force: receive a batch,
    invoke functions/worker.handler with it, delete what it did not report as failed."""
    processed, returned = 0, []
    while messages := receive_batch(url):
        response = worker_handler(event_for(url, messages), LambdaContext())
        delete_done(url, messages, response)
        processed += len(messages)
        returned += [item["itemIdentifier"] for item in response["batchItemFailures"]]
    return processed, returned


def refused(call, **parameters) -> bool:
    """Whether AWS says no to the call (moto's SQS answers 403 with an XML body that
    botocore's JSON parser cannot read, so the status tells, not the code)."""
    try:
        call(**parameters)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return False


# ---------------------------------------------------------------- the flows


def test_the_web_role_enqueues_on_every_queue_and_reads_results(stack, as_role):
    session, _, roles = stack
    tasks = sqs_queues()
    assert set(tasks) == set(roles.queues), "every queue of the stack, and only those"
    with acting_as(as_role("web")):
        ids = {name: adds.enqueue(2, 3).id for name, (adds, _) in tasks.items()}
        statuses = {name: default_task_backend.get_result(i).status for name, i in ids.items()}
    assert not OutboxEntry.objects.exists(), "the relay after the commit failed"
    assert statuses == dict.fromkeys(ids, TaskResultStatus.READY)
    for name in ids:
        assert messages_in(session, roles.queues[name].url) == 1, name


def test_the_web_role_enqueues_a_batch(stack, as_role):
    """enqueue_many writes its items with PartiQL INSERTs (dynamodb:PartiQLInsert)."""
    session, _, roles = stack
    adds, _ = sqs_queues()["default"]
    with acting_as(as_role("web")):
        results = adds.enqueue_many([((n, n), {}) for n in range(30)])
    assert not OutboxEntry.objects.exists(), "the relay after the commit failed"
    assert messages_in(session, roles.queues["default"].url) == 30
    statuses = {default_task_backend.get_result(r.id).status for r in results}
    assert statuses == {TaskResultStatus.READY}


def test_relay_outbox_relays_a_batch_left_behind_as_its_worker(stack, as_role):
    """Rows a committing process left (it died before its relay), and rows a relay sent
    before dying (their items exist: DuplicateItem, then read back), relayed by
    relay-outbox on the worker of its queue."""
    session, _, roles = stack
    adds, _ = sqs_queues()["default"]
    with mock.patch.object(outbox, "relay"):
        results = adds.enqueue_many([((n, n), {}) for n in range(30)])
    outbox.deliver(
        default_task_backend,
        [Envelope.from_json(r.envelope) for r in OutboxEntry.objects.all()[:10]],
    )
    queue = periodic_tasks.get("relay-outbox").task.queue_name
    with acting_as(as_role(f"worker-{queue}")):
        report = outbox.relay_all(default_task_backend, budget_seconds=30)
    assert (len(report.sent), report.failed) == (30, [])
    assert messages_in(session, roles.queues["default"].url) == 40  # ten went twice
    assert {default_task_backend.get_result(r.id).status for r in results} == {
        TaskResultStatus.READY
    }


def test_each_worker_role_runs_a_batch_from_its_queue(stack, as_role):
    _, _, roles = stack
    for name, (adds, _) in sqs_queues().items():
        task_id = adds.enqueue(20, 22).id
        with acting_as(as_role(f"worker-{name}")):
            outcome = deliver_all(roles.queues[name].url)
        assert outcome == (1, []), name
        result = default_task_backend.get_result(task_id)
        assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 42), name


def test_each_worker_role_dead_letters_into_its_queues_dlq(stack, as_role):
    session, _, roles = stack
    for name, (_, fails) in sqs_queues().items():
        task_id = fails.enqueue().id
        with acting_as(as_role(f"worker-{name}")):
            outcome = deliver_all(roles.queues[name].url)
        assert outcome == (1, []), name
        assert default_task_backend.get_result(task_id).status == TaskResultStatus.FAILED
        assert messages_in(session, roles.queues[name].dead_letter_url) == 1, name


def test_large_arguments_and_results_go_through_s3_as_each_role(stack, as_role):
    """Claim checks: the web writes a large argument to S3, the worker reads it and writes a
    large return value, the web reads that back."""
    session, outputs, roles = stack
    big = "x" * 20_000  # over the claim-check threshold and the inline result limit
    for name, (adds, _) in sqs_queues().items():
        echo = sample_tasks.heavy_echo.using(queue_name=adds.queue_name, priority=adds.priority)
        with acting_as(as_role("web")):
            task_id = echo.enqueue(big).id
        with acting_as(as_role(f"worker-{name}")):
            assert deliver_all(roles.queues[name].url) == (1, []), name
        with acting_as(as_role("web")):
            result = default_task_backend.get_result(task_id)
            assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, big)
    s3 = session.client("s3")
    for prefix in ("payloads/", "results/"):
        listed = s3.list_objects_v2(Bucket=outputs["TasksBucketName"], Prefix=prefix)
        assert listed["KeyCount"], f"nothing went through {prefix}"


def test_workers_keep_tasks_under_their_limits(stack, as_role, monkeypatch):
    """A concurrency limit's places and a rate's token bucket, in the limits table."""
    from sqs_tasks.limits import gate
    from tests import limit_tasks

    _, _, roles = stack
    limited = [limit_tasks.one_per_account, limit_tasks.five_a_second]
    # A second apart on the gate's clock: each queue's rated task finds a start free (this
    # proves the permissions; tests/core/test_limits.py proves the waiting).
    clock = iter(range(2_000_000, 3_000_000))
    monkeypatch.setattr(gate, "time", SimpleNamespace(time=lambda: float(next(clock))))
    for name, (adds, _) in sqs_queues().items():
        queue, priority = adds.queue_name, adds.priority
        ids = [
            limited[0].using(queue_name=queue, priority=priority).enqueue("acme", name).id,
            limited[1].using(queue_name=queue, priority=priority).enqueue(name).id,
        ]
        with acting_as(as_role(f"worker-{name}")):
            deliver_all(roles.queues[name].url)
        results = [default_task_backend.get_result(task_id) for task_id in ids]
        assert [r.status for r in results] == [TaskResultStatus.SUCCESSFUL] * 2, [
            r.errors for r in results
        ]


def test_the_web_reads_uploads_and_the_report_worker_writes_reports(stack, as_role):
    """The report path's S3 calls (django_app/reports/storage.py), each as its role: the web
    checks and peeks at an upload and serves the report; the worker that runs the report
    tasks reads the upload and writes the report."""
    from django_app.reports import storage, tasks

    session, outputs, _ = stack
    upload = f"uploads/7/{uuid.uuid4().hex}/{storage.UPLOAD_NAME}"
    session.client("s3").put_object(Bucket=outputs["TasksBucketName"], Key=upload, Body=CSV)
    report = storage.report_key(7, uuid.uuid4(), "report.csv")
    with acting_as(as_role("web")):
        assert storage.stored_upload(upload).size == len(CSV)
        assert storage.stored_upload(upload.replace("data", "gone")) is None
        assert storage.read_start(upload) == CSV
    with acting_as(as_role(f"worker-{tasks.build_report.queue_name}")):
        body, size = storage.open_upload(upload)
        assert (body.read(), size) == (CSV, len(CSV))
        storage.save_report_file(report, b"total,3\n", "text/csv")
    with acting_as(as_role("web")):
        assert storage.read_report_file(report) == b"total,3\n"


def test_a_workflow_runs_across_the_roles(stack, as_role):
    """Enqueued by the web, run and joined by the workers (transactions, batch reads),
    followed by the web (get_workflow reads its steps in batches)."""
    from sqs_tasks.workflows import get_workflow, group
    from tests import workflow_tasks

    _, _, roles = stack
    with acting_as(as_role("web")):
        steps = [workflow_tasks.add.step(n, n) for n in range(3)]
        workflow = group(steps).then(workflow_tasks.total.step(plus=1)).enqueue()
    for _ in range(5):  # the group, then the join's step
        for name in roles.queues:
            with acting_as(as_role(f"worker-{name}")):
                deliver_all(roles.queues[name].url)
    with acting_as(as_role("web")):
        done = get_workflow(workflow.id)
    assert (done.status, done.return_value) == (TaskResultStatus.SUCCESSFUL, 7)


def fire(as_role, roles: StackRoles, names, tick: datetime) -> dict[str, TaskResult]:
    """Each schedule fired as the scheduler, then the queues of their tasks drained, each by
    its own worker."""
    with acting_as(as_role("scheduler")):
        answers = {name: handler(delivered_event(name, tick), LambdaContext()) for name in names}
    assert {name: a["status"] for name, a in answers.items()} == dict.fromkeys(names, "enqueued")
    assert not OutboxEntry.objects.exists(), "the scheduler's relay failed"
    for queue in sorted({periodic_tasks.get(name).task.queue_name for name in names}):
        with acting_as(as_role(f"worker-{queue}")):
            deliver_all(roles.queues[queue].url)
    return {name: default_task_backend.get_result(a["task_id"]) for name, a in answers.items()}


def test_the_scheduler_enqueues_every_schedule_and_the_workers_run_them(stack, as_role):
    _, _, roles = stack
    # A dead letter in every DLQ, for the jobs that look at them (reconcile, queue health).
    for name, (_, fails) in sqs_queues().items():
        fails.enqueue()
        with acting_as(as_role(f"worker-{name}")):
            deliver_all(roles.queues[name].url)
    tick = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    outcomes = fire(as_role, roles, scheduler_inputs(), tick)
    failed = {
        name: result.errors[-1].exception_class_path
        for name, result in outcomes.items()
        if result.status != TaskResultStatus.SUCCESSFUL
    }
    assert failed == {}


def test_the_digest_mails_the_operators_through_ses(stack, as_role, settings):
    session, _, roles = stack
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    settings.DEFAULT_FROM_EMAIL = SENDER
    settings.MAILERS = {"default": {"BACKEND": "django_ses.SESBackend"}}
    session.client("ses").verify_email_identity(EmailAddress=SENDER)
    (queue, fails) = next((name, fails) for name, (_, fails) in sqs_queues().items())
    fails.enqueue()
    with acting_as(as_role(f"worker-{queue}")):
        deliver_all(roles.queues[queue].url)
    # Tomorrow morning's digest reports today's failures.
    tick = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=1)
    (digest,) = fire(as_role, roles, ["failed-tasks-digest"], tick).values()
    assert digest.status == TaskResultStatus.SUCCESSFUL, digest.errors
    assert digest.return_value["sent"] is True
    assert [m.source for m in ses_backends[ACCOUNT][REGION].sent_messages] == [SENDER]


def test_an_operator_lists_and_redrives_failed_tasks(stack, as_role):
    session, _, roles = stack
    (queue, fails) = next((name, fails) for name, (_, fails) in sqs_queues().items())
    task_id = fails.enqueue().id
    deliver_all(roles.queues[queue].url)
    operator = operator_credentials(session, name=f"operator-{task_id[:8]}")
    with acting_as(operator):
        listed = json.loads(run("tasks_failed", "--json"))
        run("tasks_redrive", "--task-id", task_id)
    assert task_id in {row["id"] for row in listed}
    assert messages_in(session, roles.queues[queue].dead_letter_url) == 0
    assert messages_in(session, roles.queues[queue].url) == 1


def operator_credentials(session, name: str):
    """The stack's operator role if it makes one, else an administrator (the template on
    main has no operator role: the commands then prove only that they work as documented)."""
    roles = session.client("iam").list_roles()["Roles"]
    operators = [role["Arn"] for role in roles if "operator" in role["RoleName"]]
    if operators:
        return assume(session, operators[0], name)
    return admin(session, name=name)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# ---------------------------------------------------------------- what each role is refused


def test_the_web_role_cannot_receive_dead_letters(stack, as_role):
    session, _, roles = stack
    web = as_role("web").client(session, "sqs")
    with enforced():
        for queue in roles.queues.values():
            assert refused(web.receive_message, QueueUrl=queue.dead_letter_url), queue
            # Counting them (the staff overview) is all it may do.
            web.get_queue_attributes(
                QueueUrl=queue.dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
            )


def test_a_worker_cannot_send_to_another_queues_dlq(stack, as_role):
    session, _, roles = stack
    for sender in roles.queues:
        worker = as_role(f"worker-{sender}").client(session, "sqs")
        with enforced():
            for other in roles.queues.values():
                if other.name != sender:
                    send = {"QueueUrl": other.dead_letter_url, "MessageBody": "{}"}
                    assert refused(worker.send_message, **send), (sender, other.name)


def test_the_web_role_can_neither_read_nor_plant_a_backup(stack, as_role):
    session, outputs, roles = stack
    tick = datetime.now(UTC).replace(second=0, microsecond=0)
    (backup,) = fire(as_role, roles, ["backup-database"], tick).values()
    assert backup.status == TaskResultStatus.SUCCESSFUL, backup.errors
    key = backup.return_value["key"]
    s3 = session.client("s3")
    (bucket,) = [
        found["Name"]
        for found in s3.list_buckets()["Buckets"]
        if s3.list_objects_v2(Bucket=found["Name"], Prefix=key).get("KeyCount")
    ]
    assert bucket != outputs["TasksBucketName"]  # a bucket of their own
    web = as_role("web").client(session, "s3")
    with enforced():
        assert refused(web.get_object, Bucket=bucket, Key=key)
        assert refused(web.put_object, Bucket=bucket, Key=key, Body=b"planted")


@pytest.mark.parametrize("part", ["web", "scheduler", *(f"worker-{q}" for q in TEMPLATE_QUEUES)])
def test_no_role_writes_the_web_packages(stack, as_role, part):
    """Zappa's deployment bucket holds the code the web function is updated from."""
    session, outputs, _ = stack
    s3 = as_role(part).client(session, "s3")
    with enforced():
        key = "app-dev-1700000000.zip"
        assert refused(s3.put_object, Bucket=outputs["DeploymentBucketName"], Key=key, Body=b"x")


@pytest.mark.parametrize("part", ["web", "scheduler", *(f"worker-{q}" for q in TEMPLATE_QUEUES)])
def test_no_role_writes_outside_its_prefixes(stack, as_role, part):
    session, outputs, _ = stack
    s3 = as_role(part).client(session, "s3")
    bucket = outputs["TasksBucketName"]
    with enforced():
        assert refused(s3.put_object, Bucket=bucket, Key=NOWHERE, Body=b"x")
