"""Backups: written compressed and streamed to S3 from one snapshot, named by date,
pruned by age, and restored into a fresh database with the same rows, on either engine."""

import gzip
import io
import json
import os
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.tasks import TaskResultStatus

from django_app.jobs.models import Job
from django_app.maintenance.backups import dump, restore, s3_stream, store
from django_app.maintenance.backups.snapshot import backed_up_models, consistent_reads
from django_app.reports.models import Report, Upload
from sqs_tasks import aws as clients
from tests.maintenance.conftest import BACKUP_BUCKET, now
from tests.maintenance.scheduling import run_schedule

DAY = timedelta(days=1)
BOTH = ["default", "restore"]


def make_data():
    """Users (one staff, in a group with a permission), an upload, a report on it, a job
    about the report (a generic relation, by content type) and its retry (self-reference)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    users = get_user_model()
    alice = users.objects.create_user("alice", "alice@example.com", "correct horse battery")
    users.objects.create_user("bob", "bob@example.com", "pw", is_staff=True)
    group = Group.objects.create(name="analysts")
    group.permissions.add(Permission.objects.get(codename="view_report"))
    alice.groups.add(group)
    upload = Upload.objects.create(
        owner=alice, key="uploads/1/x/data.csv", filename="données.csv", size=12,
        columns=["a", "b"], preview=[["1", "2"]],
    )  # fmt: skip
    report = Report.objects.create(owner=alice, upload=upload, group_by=["a"], summary={"rows": 1})
    first = Job.objects.create(
        owner=alice, task_id="t1", task_path="x.y", label="Report",
        subject_type=ContentType.objects.get_for_model(report), subject_id=report.pk,
    )  # fmt: skip
    Job.objects.create(owner=alice, task_id="t2", task_path="x.y", label="Report", retry_of=first)


def contents(using):
    """Every backed-up row, as the serializer sees it, foreign keys by natural key."""
    return {
        model._meta.label_lower: serializers.serialize(
            "python",
            model._base_manager.using(using).order_by("pk"),
            use_natural_foreign_keys=True,
        )
        for model in backed_up_models()
    }


def s3():
    return clients.client("s3")


def put(key):
    s3().put_object(Bucket=BACKUP_BUCKET, Key=key, Body=b"")
    return key


def read_lines(key):
    with store.opened(BACKUP_BUCKET, key) as text:
        return [json.loads(line) for line in text]


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_round_trip_from_the_schedule_through_the_worker_into_a_fresh_database(aws):
    make_data()
    result = run_schedule("backup-database", now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    report = result.return_value
    assert store.taken_at(report["key"]) is not None  # backups/<date>T<time>Z.jsonl.gz
    assert report["rows"]["auth.user"] == 2 and report["rows"]["jobs.job"] == 2
    assert report["total_rows"] == sum(report["rows"].values())
    head = s3().head_object(Bucket=BACKUP_BUCKET, Key=report["key"])
    assert report["bytes"] == head["ContentLength"] > 0

    call_command("restore_backup", report["key"], database="restore", stdout=io.StringIO())

    restored, original = contents("restore"), contents("default")
    for label, rows in original.items():
        assert restored[label] == rows, label
    # The sequences moved past the restored keys: new rows insert without a clash.
    get_user_model().objects.db_manager("restore").create_user("carol", "c@example.com", "pw")


@pytest.mark.django_db(transaction=True, databases=["default", "sqlite"])
def test_restores_into_sqlite_whatever_the_engine_it_came_from(aws):
    make_data()
    text = io.StringIO()
    dump.dump(text)
    restore.restore(text.getvalue().splitlines(), using="sqlite")
    restored, original = contents("sqlite"), contents("default")
    for label, rows in original.items():
        assert restored[label] == rows, label


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_database_with_rows_is_refused(aws):
    make_data()
    key = store.back_up(BACKUP_BUCKET, now()).key
    get_user_model().objects.db_manager("restore").create_user("someone", "s@example.com", "pw")
    with pytest.raises(CommandError, match=r"not empty: auth\.user have rows"):
        call_command("restore_backup", key, database="restore")


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_truncated_backup_is_refused_and_nothing_is_kept(aws):
    make_data()
    key = store.back_up(BACKUP_BUCKET, now()).key
    lines = [json.dumps(value) for value in read_lines(key)][:-1]  # no trailer
    with pytest.raises(restore.RestoreRefused, match="ends early"):
        restore.restore(lines, using="restore")
    assert restore.populated_models("restore") == []


def test_the_file_is_gzip_json_lines_with_header_rows_and_trailer(aws, monkeypatch):
    monkeypatch.setattr(dump, "CHUNK", 1)  # every row its own page
    make_data()
    report = store.back_up(BACKUP_BUCKET, now())
    raw = s3().get_object(Bucket=BACKUP_BUCKET, Key=report.key)["Body"].read()
    header, *rows, trailer = [json.loads(line) for line in gzip.decompress(raw).splitlines()]
    assert (header["backup"], header["version"], header["engine"]) == (
        "django-app", 1, connection.vendor,
    )  # fmt: skip
    assert "contenttypes.contenttype" not in header["models"]
    assert "sessions.session" not in header["models"]
    assert "sqs_tasks.outboxentry" not in header["models"]  # restored, it would send again
    assert header["models"].index("auth.user") < header["models"].index("jobs.job")
    assert trailer == {"backup_complete": True, "rows": report.rows}
    assert len(rows) == report.total_rows
    (job,) = [row for row in rows if row["model"] == "jobs.job" and row["fields"]["subject_id"]]
    assert job["fields"]["subject_type"] == ["reports", "report"]  # a natural key, not an id


def test_named_by_date_and_old_ones_pruned(aws):
    moment = now()
    for days_ago in (40, 36, 34, 1):
        put(store.key_for(moment - days_ago * DAY))
    put("backups/notes.txt")  # not a backup: never touched
    written = store.back_up(BACKUP_BUCKET, moment).key
    pruned = store.prune(BACKUP_BUCKET, moment, retention_days=35, keep=written)
    assert pruned == [store.key_for(moment - 40 * DAY), store.key_for(moment - 36 * DAY)]
    left = [key for _, key, _ in store.backups(BACKUP_BUCKET)]
    assert left == [store.key_for(moment - 34 * DAY), store.key_for(moment - DAY), written]


def test_keys_name_the_time_in_utc():
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 23, 3, 45, 0, tzinfo=UTC)
    assert store.key_for(moment) == "backups/2026-11-23T034500Z.jsonl.gz"
    assert store.taken_at(store.key_for(moment)) == moment
    assert store.taken_at("backups/notes.txt") is None


def test_streams_in_parts_holding_one_part_in_memory(aws):
    part = 5 * 1024 * 1024  # S3's smallest part
    data = os.urandom(2 * part + 123)
    with s3_stream.upload(BACKUP_BUCKET, "backups/big.bin", part_size=part) as writer:
        for start in range(0, len(data), 64 * 1024):
            writer.write(data[start : start + 64 * 1024])
            assert len(writer._buffer) < part
    assert writer.parts == 3 and writer.size == len(data)
    assert s3().get_object(Bucket=BACKUP_BUCKET, Key="backups/big.bin")["Body"].read() == data


def test_a_failed_backup_leaves_no_object_and_no_upload(aws):
    part = 5 * 1024 * 1024
    upload = s3_stream.upload(BACKUP_BUCKET, "backups/x", part_size=part)
    with pytest.raises(RuntimeError), upload as w:
        w.write(os.urandom(part + 1))
        raise RuntimeError("the database went away")
    assert "Contents" not in s3().list_objects_v2(Bucket=BACKUP_BUCKET, Prefix="backups/")
    assert "Uploads" not in s3().list_multipart_uploads(Bucket=BACKUP_BUCKET)


def test_reads_see_one_snapshot(postgres_only_db):
    """On PostgreSQL: rows committed by another connection during the backup are not in it."""
    users = get_user_model()
    users.objects.create_user("before", "b@example.com", "pw")
    with consistent_reads():
        assert users.objects.count() == 1
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO auth_user (password, is_superuser, username, first_name,"
                    " last_name, email, is_staff, is_active, date_joined)"
                    " VALUES ('', false, 'during', '', '', '', false, true, now())"
                )
        finally:
            other.close()
        assert users.objects.count() == 1
    assert users.objects.count() == 2


@pytest.fixture
def postgres_only_db(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("a second connection to SQLite's in-memory test database is another database")


def test_the_command_lists_and_chooses(aws):
    first = put(store.key_for(now() - DAY))
    second = put(store.key_for(now()))
    out = io.StringIO()
    call_command("restore_backup", list=True, stdout=out)
    assert [line.split()[-1] for line in out.getvalue().splitlines()] == [first, second]
    from django_app.maintenance.management.commands.restore_backup import choose

    keys = [first, second]
    assert choose("latest", keys) == second
    assert choose(str((now() - DAY).date()), keys) == first
    with pytest.raises(CommandError, match="No backup"):
        choose("1999-01-01", keys)
