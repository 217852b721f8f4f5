"""Shared steps of the web tests: put a CSV where the browser would, go through the
app's pages, run what was enqueued."""

import uuid
from urllib.parse import quote

import boto3
from django.tasks import default_task_backend
from django.urls import reverse

from django_app.reports.models import Report, Upload
from sqs_tasks.testing import deliver, drain_queue, receive_batch

BUCKET = "app-test-payloads"

SALES = (
    "region,product,units,amount\n"
    "north,apples,3,4.50\n"
    "south,apples,1,1.50\n"
    "north,pears,2,3.00\n"
    "east,pears,,2.25\n"
    "north,apples,5,7.50\n"
)


def s3():
    return boto3.client("s3", region_name="us-east-1")


def put_csv(user, text, filename="sales.csv", key_id="0" * 32):
    """Store a file the way the presigned form does (same key shape, type, metadata)."""
    key = f"uploads/{user.pk}/{key_id}/data.csv"
    s3().put_object(
        Bucket=BUCKET,
        Key=key,
        Body=text.encode() if isinstance(text, str) else text,
        ContentType="text/csv",
        Metadata={"filename": quote(filename)},
    )
    return key


def upload(client, user, text=SALES, filename="sales.csv"):
    """Upload a CSV and come back from S3 as the browser would; the Upload it made."""
    key = put_csv(user, text, filename)
    response = client.get(reverse("reports:uploaded"), {"bucket": BUCKET, "key": key})
    assert response.status_code == 302, response.content
    return Upload.objects.get(key=key)


def start_report(client, upload_row, group_by=()):
    response = client.post(
        reverse("reports:upload", args=[upload_row.pk]), {"group_by": list(group_by)}
    )
    assert response.status_code == 302, response.content
    return Report.objects.filter(upload=upload_row).latest("id")


def build(client, user, text=SALES, group_by=(), filename="sales.csv"):
    """Upload, start a report, and run the heavy queue: the report as it ends up."""
    report = start_report(client, upload(client, user, text, filename), group_by)
    drain_queue("heavy")
    report.refresh_from_db()
    return report


def s3_text(key):
    return s3().get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def upload_several(client, user, files):
    """Store several files as the page's script does (each with a form of its own), then
    post their keys to the app; its response. `files`: [(filename, text), ...]."""
    keys = [put_csv(user, text, filename, key_id=uuid.uuid4().hex) for filename, text in files]
    return client.post(reverse("reports:uploaded-several"), {"key": keys})


def start_combined(client, user, files, group_by=()):
    """Upload several files, then start one report over them: the Report."""
    response = upload_several(client, user, files)
    assert response.status_code == 302, response.content
    response = client.post(response["Location"], {"group_by": list(group_by)})
    assert response.status_code == 302, response.content
    return Report.objects.filter(owner=user).latest("id")


def run_tasks(*, twice=False, queues=("heavy", "default")):
    """Run what was enqueued on the report's queues, and what that enqueues, until they
    are empty. `twice`: every batch is delivered twice, as SQS may (at least once)."""
    for _ in range(50):
        ran = 0
        for name in queues:
            url = default_task_backend.queue_url(name)
            while messages := receive_batch(url):
                copies = [dict(m, Attributes=dict(m["Attributes"])) for m in messages]
                for batch in (messages, copies) if twice else (messages,):
                    deliver(url, batch)
                ran += len(messages)
        if not ran:
            return
    raise AssertionError("the queues never emptied")
