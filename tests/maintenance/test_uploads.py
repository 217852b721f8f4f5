"""Removing stale uploads: by prefix and age, whatever app wrote them."""

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus

from django_app.maintenance import uploads
from sqs_tasks import aws
from tests.maintenance.conftest import BUCKET, backdate, now
from tests.maintenance.scheduling import run_schedule

DAY = timedelta(days=1)


def put(key):
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"a,b\n1,2\n")


def keys():
    listing = aws.client("s3").list_objects_v2(Bucket=BUCKET)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


@pytest.fixture
def stored(aws):
    for key in ("uploads/7/old/data.csv", "uploads/8/new/data.csv", "reports/7/old.html"):
        put(key)
    backdate("uploads/7/old/data.csv", now() - 40 * DAY)
    backdate("reports/7/old.html", now() - 40 * DAY)  # not an upload: never touched


def test_removes_only_old_objects_under_uploads(stored):
    removed = []
    uploads.uploads_removed.connect(lambda **kwargs: removed.append(kwargs), weak=False)
    try:
        report = uploads.remove_stale(BUCKET, now() - 30 * DAY)
    finally:
        uploads.uploads_removed.receivers.clear()
    assert report.as_dict() == {"removed": 1, "kept": 1}
    assert keys() == ["reports/7/old.html", "uploads/8/new/data.csv"]
    assert removed == [
        {"signal": uploads.uploads_removed, "sender": None, "bucket": BUCKET,
         "keys": ["uploads/7/old/data.csv"]}
    ]  # fmt: skip


def test_many_pages(aws):
    for index in range(1005):  # more than one listing page, and one DeleteObjects call
        put(f"uploads/1/{index:04}/data.csv")
    report = uploads.remove_stale(BUCKET, now() + DAY)
    assert report.removed == 1005 and keys() == []


def test_s3_refusing_a_delete_fails_the_job(stored, monkeypatch):
    s3 = aws.client("s3")
    monkeypatch.setattr(
        s3,
        "delete_objects",
        lambda **kwargs: {"Errors": [{"Key": "uploads/7/old/data.csv", "Code": "AccessDenied"}]},
    )
    with pytest.raises(uploads.UploadsNotRemoved, match="refused to delete 1 stale upload"):
        uploads.remove_stale(BUCKET, now() - 30 * DAY)


def test_runs_from_its_schedule(stored, settings):
    settings.UPLOADS_RETENTION_DAYS = 30
    result = run_schedule("remove-stale-uploads", now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == {"removed": 1, "kept": 1}
    assert "uploads/7/old/data.csv" not in keys()
