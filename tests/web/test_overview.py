"""The staff overview of all tasks: computed ahead by a periodic task into the shared cache,
read from it by the task list, and computed on the spot on a miss."""

from io import StringIO

import boto3
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone

from django_app.jobs import overview
from sqs_tasks import aws as aws_clients
from sqs_tasks.testing import drain_queue
from stack.local import metrics
from tests import sample_tasks
from tests.maintenance.scheduling import run_schedule


@pytest.fixture(autouse=True)
def empty_cache(transactional_db):
    """The cache table is not a model's: test databases are not flushed of it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def emitted(monkeypatch, capsys):
    """The workers' EMF lines, turned into CloudWatch metrics (in moto) as CloudWatch does
    on AWS: call the fixture's value after the tasks ran."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "app-test-worker")

    def publish() -> None:
        lines = capsys.readouterr().out.splitlines()
        metrics.publish(lines, boto3.client("cloudwatch", region_name="us-east-1"))

    return publish


def some_tasks():
    """On default: one success, one failure, one waiting; on heavy: one success."""
    sample_tasks.add.enqueue(1, 2)
    sample_tasks.fails_with_value_error.enqueue()
    sample_tasks.heavy_echo.enqueue("x")
    drain_queue("default")
    drain_queue("heavy")
    sample_tasks.add.enqueue(3, 4)


def test_counts_per_queue_from_the_metrics_and_the_queues(aws, emitted):
    some_tasks()
    emitted()
    found = overview.compute(timezone.now())
    assert found.queues["default"] == {
        "waiting": 1,
        "in_flight": 0,
        "delayed": 0,
        "dead_letters": 1,
        "enqueued": 3,
        "succeeded": 1,
        "retried": 0,
        "failed": 1,
    }
    assert found.queues["heavy"]["enqueued"] == 1 and found.queues["heavy"]["succeeded"] == 1
    assert found.oldest_waiting == {"default": None, "heavy": None}  # no AWS/SQS metrics in moto


def test_counting_reads_no_task(aws, emitted):
    """The overview's cost does not grow with the tasks: no DynamoDB request at all."""
    some_tasks()
    emitted()
    calls: list[str] = []
    aws_clients.events("dynamodb").register(
        "before-call.*.*", lambda model, **kw: calls.append(model.name)
    )
    overview.compute(timezone.now())
    assert calls == []


def test_runs_from_its_schedule_into_the_cache(aws, emitted):
    some_tasks()
    emitted()
    result = run_schedule("refresh-task-overview", timezone.now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert cache.get(overview.CACHE_KEY) == result.return_value
    assert result.return_value["queues"]["default"]["failed"] == 1


def test_the_page_reads_the_cache_not_the_store(aws, staff_client, emitted):
    some_tasks()
    emitted()
    overview.refresh(timezone.now())
    sample_tasks.fails_with_value_error.enqueue()  # not in the cached overview
    drain_queue("default")
    emitted()
    page = staff_client.get(reverse("jobs:list")).content.decode()
    assert 'id="task-overview"' in page
    default_row = page.split('data-queue="default"')[1].split("</tr>")[0]
    failed_column = list(overview.COLUMNS).index("failed")
    cells = default_row.split('class="number">')[1:]
    assert cells[failed_column].startswith("1<"), default_row


def test_on_a_miss_the_page_computes_and_caches_it(aws, staff_client, emitted):
    some_tasks()
    emitted()
    assert cache.get(overview.CACHE_KEY) is None
    page = staff_client.get(reverse("jobs:list")).content.decode()
    assert 'data-queue="heavy"' in page
    stored = cache.get(overview.CACHE_KEY)
    assert stored["queues"]["default"]["succeeded"] == 1


def test_users_other_than_staff_see_no_overview_and_cost_no_count(aws, alice_client, monkeypatch):
    monkeypatch.setattr(overview, "compute", lambda now: pytest.fail("computed for a user"))
    page = alice_client.get(reverse("jobs:list")).content.decode()
    assert 'id="task-overview"' not in page


def test_the_cache_is_the_database_shared_by_all_instances_and_migrate_makes_its_table():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    table = settings.CACHES["default"]["LOCATION"]

    def tables():
        with connection.cursor() as cursor:
            return connection.introspection.table_names(cursor)

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
    call_command("migrate", "django_app", "zero", verbosity=0)
    assert table not in tables()
    call_command("migrate", "django_app", verbosity=0)  # as every deploy's migrate does
    assert table in tables()


def previous_runs_overview() -> dict:
    """What a previous `make run` left in the (kept) database cache: counts its emulator
    had, which a fresh emulator no longer has."""
    queues = {name: dict.fromkeys(overview.COLUMNS, 7) for name in ("default", "heavy")}
    stale = overview.Overview(
        computed_at="2026-01-01T00:00:00+00:00",
        queues=queues,
        oldest_waiting=dict.fromkeys(queues, 60.0),
    )
    cache.set(overview.CACHE_KEY, stale.as_dict(), overview.CACHE_SECONDS)
    return stale.as_dict()


def test_the_command_replaces_a_previous_runs_counts_with_this_ones(aws, emitted):
    """The local system runs it at each start (stack/local/system.py): its emulator starts
    empty, its cache does not."""
    previous_runs_overview()
    out = StringIO()
    call_command("refresh_task_overview", stdout=out)
    stored = cache.get(overview.CACHE_KEY)
    assert stored["computed_at"] > "2026-01-02"
    assert stored["queues"]["default"] == dict.fromkeys(overview.COLUMNS, 0)
    assert stored["queues"]["heavy"] == dict.fromkeys(overview.COLUMNS, 0)
    assert "task overview: 2 queue(s), as of " in out.getvalue()


def test_the_command_forgets_a_previous_runs_counts_even_when_counting_fails(aws, monkeypatch):
    """AWS refusing the count: the page then counts on its own, never shows the old."""
    previous_runs_overview()

    def refused(now):
        raise ConnectionError("CloudWatch is unreachable")

    monkeypatch.setattr(overview, "compute", refused)
    with pytest.raises(ConnectionError):
        call_command("refresh_task_overview", stdout=StringIO())
    assert cache.get(overview.CACHE_KEY) is None
