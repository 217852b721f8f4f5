"""Issue 16, the web part: one report over several files, built by a workflow (each file
summarised in parallel, the summaries merged, the report rendered, the email sent), with
one progress bar for the whole workflow on the report's page."""

import re
from html import unescape

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.urls import reverse

from django_app.jobs.errors import GENERIC_FAILURE
from django_app.jobs.models import Job
from django_app.reports import storage, tasks
from django_app.reports.models import Report, Upload
from django_app.reports.workflows import build_combined_report
from sqs_tasks.workflows import get_workflow
from tests.web.helpers import (
    BUCKET,
    SALES,
    build,
    put_csv,
    run_tasks,
    s3,
    s3_text,
    start_combined,
    upload_several,
)

pytestmark = pytest.mark.usefixtures("web_aws")

HEADER, *LINES = SALES.splitlines(keepends=True)
# SALES, three ways: what the one report over these files must say is what SALES says.
MONTHS = [
    ("jan.csv", HEADER + "".join(LINES[0:2])),
    ("feb.csv", HEADER + "".join(LINES[2:4])),
    ("mar.csv", HEADER + LINES[4]),
]
BY_REGION = "region,rows,sum of units,sum of amount\neast,1,0,2.25\nnorth,3,10,15\nsouth,1,1,1.5\n"
STEPS = len(MONTHS) + 3  # a summary per file, the merge, the rendering, the email


def job_of(report):
    return Job.objects.get(subject_id=report.pk, task_path=build_combined_report.module_path)


def status_json(client, job):
    return client.get(reverse("jobs:status", args=[job.task_id])).json()


def page_of(client, report):
    return unescape(client.get(report.get_absolute_url()).content.decode())


def test_several_files_make_one_report_with_the_numbers_of_all_their_rows(
    alice_client, alice, mailoutbox
):
    report = start_combined(alice_client, alice, MONTHS, group_by=["region"])
    job = job_of(report)
    assert (job.kind, job.label) == (Job.WORKFLOW, "Report on jan.csv, feb.csv and mar.csv")
    assert report.workflow_id == job.task_id  # the row keeps its workflow's id
    assert [upload.filename for upload in report.sources] == ["jan.csv", "feb.csv", "mar.csv"]
    assert get_workflow(job.task_id).steps_known == STEPS  # every step known from the start

    run_tasks()

    report.refresh_from_db()
    workflow = get_workflow(job.task_id)
    assert workflow.status == TaskResultStatus.SUCCESSFUL
    assert workflow.progress == (STEPS, STEPS) and workflow.return_value is True  # emailed
    single = build(alice_client, alice, group_by=["region"])  # the same rows, in one file
    assert (
        report.summary
        == single.summary
        == {
            "rows": 5,
            "columns": 4,
            "groups": 3,
            "group_by": ["region"],
            "totals": {"units": "11", "amount": "18.75"},
        }
    )
    assert s3_text(report.csv_key) == s3_text(single.csv_key) == BY_REGION
    html = s3_text(report.html_key)
    assert "<h1>Report on jan.csv, feb.csv and mar.csv</h1>" in html
    assert '<dd data-total="amount">18.75</dd>' in html and "north (3)" in html
    (email,) = mailoutbox
    assert "Your report on jan.csv, feb.csv and mar.csv (5 rows" in email.body


def test_the_page_shows_one_progress_bar_for_the_whole_workflow(alice_client, alice):
    report = start_combined(alice_client, alice, MONTHS)
    job = job_of(report)
    page = page_of(alice_client, report)
    assert page.count("data-job") == 1 and f'id="job-{job.task_id}"' in page
    assert 'data-state="READY"' in page and "data-reload-on-finish" in page
    data = status_json(alice_client, job)
    assert (data["status"], data["status_label"], data["percent"]) == ("READY", "queued", 0)

    run_tasks(queues=("heavy",))  # the files, the merge and the rendering; not the email
    data = status_json(alice_client, job)
    assert (data["status"], data["status_label"]) == ("RUNNING", "running")
    assert (data["current"], data["total"]) == (STEPS - 1, STEPS)
    assert (data["message"], data["percent"]) == (f"{STEPS - 1} of {STEPS} steps done", 83)
    assert data["finished"] is False and data["attempts"] == 0  # a workflow: steps attempt

    run_tasks()
    data = status_json(alice_client, job)
    assert (data["status"], data["status_label"], data["percent"]) == ("SUCCESSFUL", "done", 100)
    page = page_of(alice_client, report)
    assert 'data-state="SUCCESSFUL"' in page and 'aria-valuenow="100"' in page
    assert '<dd id="summary-rows">5</dd>' in page and 'id="open-report"' in page
    listed = alice_client.get(reverse("jobs:list")).content.decode()
    assert "Report on jan.csv, feb.csv and mar.csv" in listed
    assert f'data-attempts-for="{job.task_id}"' not in listed  # steps have attempts, not it
    home = alice_client.get(reverse("reports:index")).content.decode()
    row = home.split(f'data-report-id="{report.pk}"')[1].split("</tr>")[0]
    assert "jan.csv, feb.csv and mar.csv" in row and 'data-state="SUCCESSFUL"' in row


def test_a_malformed_file_fails_the_workflow_at_its_own_step_and_the_page_says_which(
    alice_client, alice
):
    # Its first rows preview well (the upload is accepted); line 9 fails the build.
    broken = HEADER + "north,apples,3,4.50\n" * 7 + "south,pears\n"
    report = start_combined(
        alice_client, alice, [MONTHS[0], ("broken.csv", broken), MONTHS[2]], ["region"]
    )
    job = job_of(report)
    run_tasks()

    workflow = get_workflow(job.task_id)
    assert workflow.status == TaskResultStatus.FAILED
    failed = tasks.summarise_file.get_result(workflow.failed_step_id)
    bad = Upload.objects.get(owner=alice, filename="broken.csv")
    assert list(failed.args) == [report.pk, bad.pk]  # that file's step, named
    assert failed.status == TaskResultStatus.FAILED and len(failed.worker_ids) == 1
    message = "broken.csv: Line 9 has 2 values, but the header has 4 columns."
    data = status_json(alice_client, job)
    assert (data["status_label"], data["error"]) == ("failed", message)
    assert (data["expected_failure"], data["can_retry"]) == (True, False)
    page = page_of(alice_client, report)
    (shown,) = re.findall(r'<p class="error" data-field="error">(.*?)</p>', page)
    assert shown == message
    assert 'id="retry-report"' not in page and 'id="upload-corrected"' in page
    # Nothing after the failed step ran: no merge, no report, no email.
    report.refresh_from_db()
    assert not report.is_ready and report.finished_at is None
    assert storage.missing([storage.report_key(alice.pk, report.token, "parts/all.json")])


class Progress:
    """Where a step run by hand reports its progress: nowhere."""

    def report_progress(self, current, total=None, message=""):
        pass


def test_duplicate_deliveries_write_nothing_twice(alice_client, alice, mailoutbox, monkeypatch):
    written = []
    save = storage.save_report_file
    monkeypatch.setattr(
        storage, "save_report_file", lambda key, *rest: (written.append(key), save(key, *rest))
    )
    report = start_combined(alice_client, alice, MONTHS, group_by=["region"])
    run_tasks(twice=True)  # every message of every step delivered twice

    report.refresh_from_db()
    assert report.is_ready and s3_text(report.csv_key) == BY_REGION
    assert len(written) == len(set(written)) == len(MONTHS) + 3  # parts, the merge, 2 files
    assert len(mailoutbox) == 1 and report.emailed_at is not None

    # A step that ran to its end and died before its outcome was recorded runs again:
    # it writes the same keys, and a report already built is not written again.
    finished_at, head = report.finished_at, s3().head_object(Bucket=BUCKET, Key=report.html_key)
    first = report.sources[0]
    part_key = storage.report_key(alice.pk, report.token, f"parts/{first.pk}.json")
    part = s3_text(part_key)
    assert tasks.summarise_file.func(Progress(), report.pk, first.pk) == part_key
    assert s3_text(part_key) == part
    summary_key = storage.report_key(alice.pk, report.token, "parts/all.json")
    assert tasks.render_report.call(summary_key, report.pk) == report.pk
    assert tasks.send_report_email.call(report.pk) is False
    report.refresh_from_db()
    assert report.finished_at == finished_at and len(mailoutbox) == 1
    again = s3().head_object(Bucket=BUCKET, Key=report.html_key)
    assert again["ETag"] == head["ETag"]


def test_a_workflow_that_failed_for_a_fixable_reason_can_be_tried_again(
    alice_client, alice, monkeypatch
):
    with monkeypatch.context() as patch:  # a bug in the merge: worth another try
        patch.setattr(tasks, "merge", lambda summaries: {}["bug"])
        report = start_combined(alice_client, alice, MONTHS)
        run_tasks()
    failed = job_of(report)
    data = status_json(alice_client, failed)
    assert (data["status"], data["error"], data["can_retry"]) == ("FAILED", GENERIC_FAILURE, True)
    assert 'id="retry-report"' in page_of(alice_client, report)

    back = report.get_absolute_url()
    response = alice_client.post(reverse("jobs:retry", args=[failed.task_id]), {"next": back})
    assert response["Location"] == back
    again = Job.objects.get(retry_of=failed)
    assert again.is_workflow and again.task_id != failed.task_id
    report.refresh_from_db()
    assert report.workflow_id == again.task_id
    run_tasks()
    report.refresh_from_db()
    assert (
        report.is_ready
        and s3_text(report.csv_key) == "rows,sum of units,sum of amount\n5,11,18.75\n"
    )
    assert status_json(alice_client, again)["status"] == "SUCCESSFUL"


def test_combined_reports_count_against_the_reports_in_flight(alice_client, alice, settings):
    settings.REPORTS_MAX_IN_FLIGHT = 1
    start_combined(alice_client, alice, MONTHS)
    response = upload_several(alice_client, alice, MONTHS[:2])
    refused = alice_client.post(response["Location"], {"group_by": []})
    assert refused.status_code == 200
    assert "You have 1 reports being built already." in unescape(refused.content.decode())
    assert Report.objects.filter(owner=alice).count() == 1

    run_tasks()  # done: the workflow sends no task_finished signal, and need not
    assert alice_client.post(response["Location"], {"group_by": []}).status_code == 302


# -- the upload form and the page that starts a combined report --------------------------


def upload_error(response):
    (shown,) = re.findall(
        r'<p class="error" id="upload-error">(.*?)</p>', response.content.decode()
    )
    return unescape(shown)


def test_an_empty_selection_is_refused_on_the_form(alice_client, alice):
    response = alice_client.post(reverse("reports:uploaded-several"), {})
    assert response.status_code == 400
    assert upload_error(response) == "Choose one or more CSV files to upload."


def test_too_many_files_are_refused_on_the_form(alice_client, alice, settings):
    settings.REPORTS_MAX_FILES = 2
    response = upload_several(alice_client, alice, MONTHS)
    assert response.status_code == 400
    assert upload_error(response) == "Choose at most 2 files at once; you chose 3."
    assert not Upload.objects.exists()
    page = alice_client.get(reverse("reports:index")).content.decode()
    assert 'data-max-files="2"' in page and "multiple required" in page


def test_a_file_too_large_or_missing_is_refused_naming_it_and_nothing_is_recorded(
    alice_client, alice, settings
):
    settings.REPORTS_MAX_UPLOAD_BYTES = len(MONTHS[0][1].encode())  # mar.csv fits, jan.csv fits
    big = ("big.csv", SALES)
    response = upload_several(alice_client, alice, [MONTHS[0], big])
    assert response.status_code == 400
    assert upload_error(response) == (
        "big.csv: That upload is not a CSV file within the size limit."
    )
    assert not Upload.objects.exists()

    # A file S3 refused (over the form's size range) never arrives: it has no name then.
    stored = put_csv(alice, MONTHS[2][1], "mar.csv", key_id="a" * 32)
    never = f"uploads/{alice.pk}/{'b' * 32}/data.csv"
    response = alice_client.post(reverse("reports:uploaded-several"), {"key": [stored, never]})
    assert upload_error(response) == (
        "File 2 did not arrive in storage (too large, or its upload was interrupted): "
        "upload it again."
    )


def test_files_whose_columns_differ_cannot_make_one_report(alice_client, alice):
    other = ("other.csv", "region,amount\nnorth,1\n")
    response = upload_several(alice_client, alice, [MONTHS[0], other])
    assert response.status_code == 400
    assert upload_error(response) == (
        "other.csv has the columns region, amount, but jan.csv has region, product, units, "
        "amount: a report over several files needs the same columns in each."
    )


def test_columns_in_another_order_are_the_same_columns(alice_client, alice):
    reordered = ("apr.csv", "amount,units,product,region\n1.25,4,kiwis,west\n")
    report = start_combined(alice_client, alice, [MONTHS[0], reordered], ["region"])
    run_tasks()
    report.refresh_from_db()
    assert s3_text(report.csv_key) == (
        "region,rows,sum of units,sum of amount\nnorth,1,3,4.5\nsouth,1,1,1.5\nwest,1,4,1.25\n"
    )


def test_one_file_through_the_script_is_an_ordinary_upload(alice_client, alice):
    response = upload_several(alice_client, alice, MONTHS[:1])
    (upload,) = Upload.objects.filter(owner=alice)
    assert response["Location"] == upload.get_absolute_url()


def test_another_users_files_are_not_found(alice_client, alice, bob_client, bob):
    key = put_csv(bob, SALES, key_id="c" * 32)
    response = alice_client.post(reverse("reports:uploaded-several"), {"key": [key]})
    assert response.status_code == 404

    response = upload_several(bob_client, bob, MONTHS[:2])
    combine_url = response["Location"]
    assert bob_client.get(combine_url).status_code == 200
    assert alice_client.get(combine_url).status_code == 404
    assert alice_client.post(combine_url, {"group_by": []}).status_code == 404
    assert alice_client.get(reverse("reports:combine") + "?upload=x").status_code == 404
    assert not Report.objects.exists()


def test_the_combine_page_lists_the_files_and_offers_their_columns(alice_client, alice):
    response = upload_several(alice_client, alice, MONTHS)
    page = unescape(alice_client.get(response["Location"]).content.decode())
    assert "A report over 3 files" in page
    assert [name for name, _ in MONTHS] == re.findall(r'">(\w+\.csv)</a></td>', page)
    assert re.findall(r'name="group_by" value="(\w+)"', page) == [
        "region",
        "product",
        "units",
        "amount",
    ]
    too_many = alice_client.post(
        response["Location"], {"group_by": ["region", "product", "units", "amount"]}
    )
    assert "Pick at most 3 columns." in unescape(too_many.content.decode())
    assert not Report.objects.exists()


def test_long_file_names_make_a_label_that_fits(alice_client, alice):
    names = [f"{letter * 190}.csv" for letter in "abc"]  # the longest names kept are 200
    report = start_combined(alice_client, alice, [(n, SALES) for n in names])
    label = job_of(report).label
    assert len(str(report)) > 200 and label == str(report)[:199] + "…"


def test_a_workflow_started_in_a_transaction_that_rolls_back_sends_nothing(alice_client, alice):
    response = upload_several(alice_client, alice, MONTHS)
    uploads = list(Upload.objects.filter(owner=alice).order_by("pk"))
    with pytest.raises(RuntimeError), transaction.atomic():
        report = Report.objects.create(owner=alice, upload=uploads[0])
        report.files.set(uploads)
        workflow = build_combined_report.start(report.pk)
        raise RuntimeError("the request failed after the enqueue")
    run_tasks()
    with pytest.raises(TaskResultDoesNotExist):
        get_workflow(workflow.id)
    assert not Report.objects.exists() and response.status_code == 302
