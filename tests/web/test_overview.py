"""The staff overview of all tasks: computed ahead by a periodic task into the shared cache,
read from it by the task list, and computed on the spot on a miss."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone

from django_app.jobs import overview
from sqs_tasks.testing import drain_queue
from tests import sample_tasks
from tests.maintenance.scheduling import run_schedule

EMPTY = dict.fromkeys(overview.STATUSES, 0)


@pytest.fixture(autouse=True)
def empty_cache(transactional_db):
    """The cache table is not a model's: test databases are not flushed of it."""
    cache.clear()
    yield
    cache.clear()


def some_tasks():
    """On default: one success, one failure, one waiting; on heavy: one success."""
    sample_tasks.add.enqueue(1, 2)
    sample_tasks.fails_with_value_error.enqueue()
    sample_tasks.heavy_echo.enqueue("x")
    drain_queue("default")
    drain_queue("heavy")
    sample_tasks.add.enqueue(3, 4)


def test_counts_per_queue_and_status_over_the_last_day(aws):
    some_tasks()
    found = overview.compute(timezone.now())
    assert found.counts == {
        "default": {**EMPTY, "READY": 1, "SUCCESSFUL": 1, "FAILED": 1},
        "heavy": {**EMPTY, "SUCCESSFUL": 1},
    }
    assert overview.compute(timezone.now() + timedelta(days=2)).counts == {
        "default": EMPTY,
        "heavy": EMPTY,
    }


def test_runs_from_its_schedule_into_the_cache(aws):
    some_tasks()
    result = run_schedule("refresh-task-overview", timezone.now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert cache.get(overview.CACHE_KEY) == result.return_value
    assert result.return_value["counts"]["default"]["FAILED"] == 1


def test_the_page_reads_the_cache_not_the_store(aws, staff_client):
    some_tasks()
    overview.refresh(timezone.now())
    sample_tasks.fails_with_value_error.enqueue()  # not in the cached overview
    drain_queue("default")
    page = staff_client.get(reverse("jobs:list")).content.decode()
    assert 'id="task-overview"' in page
    default_row = page.split('data-queue="default"')[1].split("</tr>")[0]
    failed_column = overview.STATUSES.index("FAILED")
    cells = default_row.split('class="number">')[1:]
    assert cells[failed_column].startswith("1<"), default_row
    # The columns are headed in the words the task pages use, not the backend's.
    headings = page.split('id="task-overview"')[1].split("</thead>")[0]
    assert '<th class="number">queued or will retry</th>' in headings and "READY" not in headings


def test_on_a_miss_the_page_computes_and_caches_it(aws, staff_client):
    some_tasks()
    assert cache.get(overview.CACHE_KEY) is None
    page = staff_client.get(reverse("jobs:list")).content.decode()
    assert 'data-queue="heavy"' in page
    stored = cache.get(overview.CACHE_KEY)
    assert stored["counts"]["default"]["SUCCESSFUL"] == 1


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
