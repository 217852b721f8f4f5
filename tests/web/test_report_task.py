"""The report task on the heavy queue, run through the real worker handler."""

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.test import Client
from django.urls import reverse

from django_app.jobs.errors import GENERIC_FAILURE
from django_app.reports import storage, tasks
from django_app.reports.aggregate import Aggregator
from django_app.reports.models import Report
from sqs_tasks.testing import drain_queue
from tests.web.helpers import BUCKET, build, s3_text, start_report, upload

pytestmark = pytest.mark.usefixtures("web_aws")


def build_job(report):
    return report.owner.jobs.get(
        task_path="django_app.reports.tasks.build_report", subject_id=report.pk
    )


def test_good_csv_gives_summaries_totals_groups_html_and_csv(alice_client, alice):
    report = build(alice_client, alice, group_by=["region"])

    assert report.is_ready and report.finished_at
    assert report.summary == {
        "rows": 5,
        "columns": 4,
        "groups": 3,
        "group_by": ["region"],
        "totals": {"units": "11", "amount": "18.75"},
    }
    prefix = f"reports/{alice.pk}/{report.token.hex}/"
    assert report.html_key == prefix + "report.html" and report.csv_key == prefix + "report.csv"
    assert s3_text(report.csv_key) == (
        "region,rows,sum of units,sum of amount\neast,1,0,2.25\nnorth,3,10,15\nsouth,1,1,1.5\n"
    )
    html = s3_text(report.html_key)
    assert '<main id="report-document">' in html
    assert '<dd data-total="amount">18.75</dd>' in html
    assert '<tr data-column="units">' in html and "north (3)" in html
    head = storage.aws.client("s3").head_object(Bucket=BUCKET, Key=report.html_key)
    assert head["ContentType"] == "text/html; charset=utf-8"

    result = default_task_backend.get_result(build_job(report).task_id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == report.summary


def test_chosen_groupings_and_none(alice_client, alice):
    by_two = build(alice_client, alice, group_by=["region", "product"])
    assert s3_text(by_two.csv_key).splitlines()[:3] == [
        "region,product,rows,sum of units,sum of amount",
        "east,pears,1,0,2.25",
        "north,apples,2,8,12",
    ]
    upload_row = by_two.upload
    none = start_report(alice_client, upload_row, [])
    drain_queue("heavy")
    none.refresh_from_db()
    assert s3_text(none.csv_key) == "rows,sum of units,sum of amount\n5,11,18.75\n"


def test_progress_is_reported_as_the_file_is_read(alice_client, alice, monkeypatch):
    seen = []
    store = default_task_backend.results
    original = store.report_progress
    monkeypatch.setattr(
        store,
        "report_progress",
        lambda task_id, owner, progress: (
            seen.append(progress.as_dict()),
            original(task_id, owner, progress),
        ),
    )
    big = "id,amount\n" + "".join(f"{i},{i % 7}\n" for i in range(1, 1201))
    report = build(alice_client, alice, text=big)

    size = len(big.encode())
    assert seen[0] == {"current": 0, "total": size, "message": "Reading the file"}
    assert seen[-1] == {
        "current": size,
        "total": size,
        "message": "Read 1,200 rows; writing the report",
    }
    item = store.get(build_job(report).task_id)
    assert item.progress.as_dict() == seen[-1]  # what the status endpoint reads
    assert report.summary["rows"] == 1200


def test_the_owner_gets_one_email_with_links_that_do_not_expire(alice_client, alice, mailoutbox):
    report = build(alice_client, alice)
    assert mailoutbox == []  # the email is its own task, on the default queue
    drain_queue("default")

    (email,) = mailoutbox
    assert email.to == ["alice@example.com"]
    assert email.subject == "Your report is ready"  # no words from the upload
    # The download goes through the app, which mints a presigned link when it is clicked.
    link = f"http://127.0.0.1:8000/reports/{report.pk}/report.csv"
    assert link in email.body and "X-Amz" not in email.body
    assert f"http://127.0.0.1:8000/reports/{report.pk}/\n" in email.body
    html, kind = email.alternatives[0]
    assert kind == "text/html" and f'<a href="{link}" id="email-download-link">' in html
    clicked = alice_client.get(urlsplit(link).path)
    assert clicked["Location"].startswith(f"https://{BUCKET}.s3.amazonaws.com/{report.csv_key}?")
    assert "response-content-disposition=attachment" in clicked["Location"]
    assert Client().get(urlsplit(link).path)["Location"].startswith("/accounts/login/?next=")
    report.refresh_from_db()
    assert report.emailed_at is not None

    # A second delivery of the email task (SQS is at-least-once) sends nothing more.
    assert tasks.send_report_email.call(report.pk) is False
    assert len(mailoutbox) == 1
    email_job = alice.jobs.get(task_path="django_app.reports.tasks.send_report_email")
    assert email_job.label == "Email: report on sales.csv"


def test_an_email_that_fails_to_send_is_released_for_the_retry(alice_client, alice, monkeypatch):
    report = build(alice_client, alice)

    def refuse(report):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(tasks, "send_report_ready", refuse)
    with pytest.raises(tasks.TransientError, match="Could not send the email"):
        tasks.send_report_email.call(report.pk)
    report.refresh_from_db()
    assert report.emailed_at is None


def test_the_report_page_shows_the_result_and_links_to_the_files(alice_client, alice):
    report = build(alice_client, alice)
    page = alice_client.get(report.get_absolute_url()).content.decode()
    assert 'data-report-ready="true"' in page
    assert '<dd id="summary-rows">5</dd>' in page
    assert 'data-state="SUCCESSFUL"' in page and 'aria-valuenow="100"' in page
    assert "data-reload-on-finish" not in page

    opened = alice_client.get(reverse("reports:html", args=[report.pk]))
    assert opened.status_code == 302
    assert opened["Location"].startswith(f"https://{BUCKET}.s3.amazonaws.com/{report.html_key}?")
    assert "response-content-disposition=inline" in opened["Location"]
    download = alice_client.get(reverse("reports:csv", args=[report.pk]))
    assert "sales-report.csv" in download["Location"]


def test_the_report_page_while_waiting(alice_client, alice):
    report = start_report(alice_client, upload(alice_client, alice))
    page = alice_client.get(report.get_absolute_url()).content.decode()
    assert 'data-report-ready="false"' in page
    assert 'data-state="READY"' in page and "data-reload-on-finish" in page
    assert alice_client.get(reverse("reports:html", args=[report.pk])).status_code == 404


def test_a_malformed_file_fails_once_with_a_clear_error_on_the_page(alice_client, alice):
    rows = "".join(f"north,apples,{i},1.00\n" for i in range(7))
    broken = "region,product,units,amount\n" + rows + "south,pears\n"  # line 9
    report = build(alice_client, alice, text=broken)

    job = build_job(report)
    result = default_task_backend.get_result(job.task_id)
    assert result.status == TaskResultStatus.FAILED and len(result.worker_ids) == 1
    message = "Line 9 has 2 values, but the header has 4 columns."
    page = alice_client.get(report.get_absolute_url()).content.decode()
    (shown,) = re.findall(r'<p class="error" data-field="error">(.*?)</p>', page)
    assert unescape(shown) == message
    assert "Traceback" not in page and "CsvError" not in page
    # The same file would fail the same way: no retry is offered, a corrected file is.
    assert 'id="retry-report"' not in page and 'id="upload-corrected"' in page
    status = alice_client.get(reverse("jobs:status", args=[job.task_id])).json()
    assert status["status"] == "FAILED" and status["error"] == message
    assert (status["expected_failure"], status["can_retry"]) == (True, False)
    assert not report.is_ready


def test_an_unexpected_bug_shows_a_plain_sentence_not_internals(alice_client, alice, monkeypatch):
    def explode(self, row):
        raise KeyError("internal detail")

    monkeypatch.setattr(Aggregator, "add", explode)
    report = build(alice_client, alice)
    page = alice_client.get(report.get_absolute_url()).content.decode()
    assert unescape(GENERIC_FAILURE) in unescape(page)
    assert "internal detail" not in page and "KeyError" not in page
    status_url = reverse("jobs:status", args=[build_job(report).task_id])
    assert alice_client.get(status_url).json()["error_class"] == ""


def test_staff_see_which_exception_failed_a_task(alice_client, alice, staff_client, monkeypatch):
    monkeypatch.setattr(Aggregator, "add", lambda self, row: {}[row[0]])
    report = build(alice_client, alice)
    status_url = reverse("jobs:status", args=[build_job(report).task_id])
    assert staff_client.get(status_url).json()["error_class"] == "builtins.KeyError"
    assert b"builtins.KeyError" in staff_client.get(reverse("jobs:list")).content


def test_a_storage_hiccup_is_retried_and_the_report_still_gets_built(
    alice_client, alice, monkeypatch
):
    from botocore.exceptions import EndpointConnectionError

    calls = []
    real = storage.open_upload

    def flaky(key):
        calls.append(key)
        if len(calls) == 1:
            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
        return real(key)

    monkeypatch.setattr(storage, "open_upload", flaky)
    report = build(alice_client, alice)
    assert report.is_ready and len(calls) == 2
    result = default_task_backend.get_result(build_job(report).task_id)
    assert [e.exception_class_path for e in result.errors] == [
        "django_app.jobs.errors.TransientError"
    ]


def test_an_upload_gone_from_s3_is_a_clear_failure(alice_client, alice):
    report = start_report(alice_client, upload(alice_client, alice))
    storage.aws.client("s3").delete_object(Bucket=BUCKET, Key=report.upload.key)
    drain_queue("heavy")
    status = alice_client.get(reverse("jobs:status", args=[build_job(report).task_id])).json()
    assert status["error"] == "The uploaded file is gone. Please upload it again."
    assert status["attempts"] == 1
    assert Report.objects.get(pk=report.pk).is_ready is False


def test_a_report_whose_files_are_gone_says_so_instead_of_offering_them(alice_client, alice):
    """After the local system restarts (its S3 starts empty), or a lifecycle rule: the
    page offers to build it again, and the links (the email's too) say it is gone
    rather than sending the browser to S3's XML error."""
    report = build(alice_client, alice)
    assert 'id="report-gone"' not in alice_client.get(report.get_absolute_url()).content.decode()
    for key in report.keys:
        storage.aws.client("s3").delete_object(Bucket=BUCKET, Key=key)

    page = unescape(alice_client.get(report.get_absolute_url()).content.decode())
    assert "This report's files are no longer stored." in page
    assert 'id="open-report"' not in page and 'id="download-csv"' not in page
    assert f'href="{report.upload.get_absolute_url()}" id="rebuild-report"' in page
    for kind in ("html", "csv"):
        response = alice_client.get(reverse(f"reports:{kind}", args=[report.pk]), follow=True)
        assert response.redirect_chain == [(report.get_absolute_url(), 302)]
        assert "files are no longer stored: see below" in unescape(response.content.decode())

    # Built again from its upload, it is whole again.
    rebuilt = start_report(alice_client, report.upload)
    drain_queue("heavy")
    rebuilt.refresh_from_db()
    assert rebuilt.is_ready and not storage.missing(rebuilt.keys)

    # With the upload gone too (the local system's S3 after a restart), the way back is
    # to upload the file again.
    storage.aws.client("s3").delete_object(Bucket=BUCKET, Key=report.upload.key)
    page = unescape(alice_client.get(report.get_absolute_url()).content.decode())
    assert f'href="{reverse("reports:index")}" id="reupload-report"' in page
    assert "sales.csv is no longer stored either." in page and "rebuild-report" not in page


def test_the_home_page_names_each_reports_state_as_the_task_pages_do(alice_client, alice):
    """READY is Django's "not started yet": the list never says "ready" for "built"."""
    built = build(alice_client, alice)
    waiting = start_report(alice_client, upload(alice_client, alice))
    page = alice_client.get(reverse("reports:index")).content.decode()
    row = {
        report.pk: page.split(f'data-report-id="{report.pk}"')[1].split("</tr>")[0]
        for report in (built, waiting)
    }
    assert '<span class="badge" data-state="SUCCESSFUL">done</span>' in row[built.pk]
    assert '<span class="badge" data-state="READY">queued</span>' in row[waiting.pk]
    assert ">ready<" not in page
