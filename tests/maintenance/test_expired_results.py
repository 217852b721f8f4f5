"""Purging expired results: the item and every S3 object it points to, nothing else."""

from datetime import timedelta

from django.tasks import TaskResultStatus, default_task_backend

from django_app.maintenance import expired_results
from sqs_tasks import aws
from sqs_tasks.testing import drain_queue
from tests import sample_tasks
from tests.maintenance.conftest import BUCKET, now, set_result_attribute
from tests.maintenance.scheduling import run_schedule

DAY = timedelta(days=1)


def keys():
    return sorted(
        o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
    )


def age(task_id, days):
    """Move a result's expiry into the past, as if `days` had gone by."""
    item = default_task_backend.results.get(task_id)
    set_result_attribute(task_id, "expires_at", item["expires_at"] - days * 86400)


def finished_results():
    """A plain result, one with its return value in S3, and one with both its arguments
    and its return value in S3."""
    small = sample_tasks.add.enqueue(1, 2)
    big_return = sample_tasks.returns_big.enqueue(100 * 1024)
    big_arguments = sample_tasks.heavy_echo.enqueue("y" * (300 * 1024))
    drain_queue("default")
    drain_queue("heavy")
    for result in (small, big_return, big_arguments):
        assert default_task_backend.get_result(result.id).status == TaskResultStatus.SUCCESSFUL
    return small, big_return, big_arguments


def test_purges_expired_results_and_their_objects(aws):
    small, big_return, big_arguments = finished_results()
    assert keys() == sorted(
        [
            f"payloads/{big_arguments.id}.json",
            f"results/{big_arguments.id}.json",
            f"results/{big_return.id}.json",
        ]
    )
    fresh = sample_tasks.add.enqueue(3, 4)
    waiting = sample_tasks.add.enqueue(5, 6)  # not run yet (e.g. a far run_after)
    for result in (small, big_return, big_arguments, waiting):
        age(result.id, 31)

    report = expired_results.purge(default_task_backend, now(), budget_seconds=60)

    assert report.as_dict() == {"results": 3, "objects": 3, "complete": True}
    for result in (small, big_return, big_arguments):
        assert default_task_backend.results.get(result.id) is None
    assert keys() == []
    assert default_task_backend.results.get(fresh.id) is not None
    assert default_task_backend.results.get(waiting.id) is not None  # unfinished: kept


def test_nothing_expired_nothing_deleted(aws):
    finished_results()
    report = expired_results.purge(default_task_backend, now(), budget_seconds=60)
    assert report.as_dict() == {"results": 0, "objects": 0, "complete": True}
    assert len(keys()) == 3


def test_stops_when_the_budget_is_spent(aws):
    results = [sample_tasks.add.enqueue(i, i) for i in range(3)]
    drain_queue("default")
    for result in results:
        age(result.id, 31)
    report = expired_results.purge(default_task_backend, now(), budget_seconds=-1)
    assert not report.complete and report.results >= 1
    assert expired_results.purge(default_task_backend, now(), budget_seconds=60).complete
    assert all(default_task_backend.results.get(r.id) is None for r in results)


def test_runs_from_its_schedule(aws):
    small, *_ = finished_results()
    # The run a month from now finds today's results past their 30-day expiry.
    result = run_schedule("purge-expired-results", now() + 31 * DAY)
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == {"results": 3, "objects": 3, "complete": True}
    assert default_task_backend.results.get(small.id) is None and keys() == []
