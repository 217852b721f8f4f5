"""The task pages: the list, the JSON status the progress bar polls, and retry."""

from datetime import timedelta
from html import unescape

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_app.jobs import services
from django_app.jobs.errors import EXPECTED_FAILURE, GENERIC_FAILURE, user_message
from django_app.jobs.models import Job
from django_app.jobs.status import JobStatus, status_of
from django_app.rates import fetch
from django_app.reports.aggregate import Aggregator
from django_app.reports.tasks import build_report
from sqs_tasks import api
from sqs_tasks.testing import drain_queue
from tests import sample_tasks
from tests.helpers import count
from tests.web.helpers import build

pytestmark = pytest.mark.usefixtures("web_aws")


def status_json(client, job):
    return client.get(reverse("jobs:status", args=[job.task_id]))


def failing_report(client, user, monkeypatch):
    """A report whose build fails with a bug; the job of that build."""

    def explode(self, row):
        raise KeyError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(Aggregator, "add", explode)
        report = build(client, user)
    return report, Job.objects.get(subject_id=report.pk, task_path__endswith="build_report")


def test_status_endpoint_while_ready_running_and_done(alice_client, alice):
    job = services.start(alice, sample_tasks.counts_up, 4, label="Count to four")
    data = status_json(alice_client, job).json()
    assert data == {
        "id": job.task_id,
        "label": "Count to four",
        "status": "READY",
        "status_label": "queued",
        "note": "",
        "will_retry": False,
        "attempts": 0,
        "max_attempts": 3,
        "current": None,
        "total": None,
        "message": "",
        "error": "",
        "error_class": "",
        "next_attempt_at": None,
        "expected_failure": False,
        "can_retry": False,
        "waiting_reason": "",
        "waiting_until": None,
        "finished": False,
        "percent": 0,
        "subject_url": "",
        "retry_url": reverse("jobs:retry", args=[job.task_id]),
    }
    response = status_json(alice_client, job)
    assert response["Cache-Control"].startswith("max-age=0")  # polled: never cached

    store = default_task_backend.results
    store._db.update_item(  # what a running task's report_progress leaves
        TableName=store.table_name,
        Key={"id": {"S": job.task_id}},
        UpdateExpression="SET #s = :running, progress = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":running": {"S": "RUNNING"},
            ":p": {"M": {"current": {"N": "1"}, "total": {"N": "4"}, "message": {"S": "step 1"}}},
        },
    )
    data = status_json(alice_client, job).json()
    assert (data["status"], data["status_label"]) == ("RUNNING", "running")
    assert (data["percent"], data["message"]) == (25, "step 1")

    store._db.update_item(
        TableName=store.table_name,
        Key={"id": {"S": job.task_id}},
        UpdateExpression="SET #s = :ready",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":ready": {"S": "READY"}},
    )
    drain_queue("default")
    data = status_json(alice_client, job).json()
    assert (data["status"], data["status_label"], data["finished"]) == ("SUCCESSFUL", "done", True)
    assert (data["percent"], data["attempts"]) == (100, 1)
    # The last progress report ("step 4") is history once the task is done.
    assert (data["message"], data["current"], data["total"]) == ("", None, None)


def test_a_final_status_is_kept_and_outlives_the_result_store(alice_client, alice):
    job = services.start(alice, sample_tasks.add, 1, 2, label="Add")
    drain_queue("default")
    assert status_json(alice_client, job).json()["status"] == "SUCCESSFUL"
    job.refresh_from_db()
    assert job.final_status["status"] == "SUCCESSFUL"
    store = default_task_backend.results
    store._db.delete_item(TableName=store.table_name, Key={"id": {"S": job.task_id}})
    assert status_json(alice_client, job).json()["status"] == "SUCCESSFUL"


def test_a_job_whose_record_is_gone(alice):
    job = services.start(alice, sample_tasks.add, 1, 2, label="Add")
    store = default_task_backend.results
    store._db.delete_item(TableName=store.table_name, Key={"id": {"S": job.task_id}})
    assert status_of(job).status == "READY"  # just started: the record is on its way
    Job.objects.filter(pk=job.pk).update(created_at=job.created_at.replace(year=2000))
    job.refresh_from_db()
    gone = status_of(job)
    assert gone.status == "UNKNOWN" and gone.finished  # the page stops polling
    job.refresh_from_db()
    assert job.final_status is None


def test_the_task_list_shows_status_attempts_progress_and_errors(alice_client, alice, monkeypatch):
    report, failed = failing_report(alice_client, alice, monkeypatch)
    ok = services.start(alice, sample_tasks.add, 2, 2, label="Add two and two")
    drain_queue("default")

    page = alice_client.get(reverse("jobs:list")).content.decode()
    assert page.index("Add two and two") < page.index("Report on sales.csv")  # newest first
    assert f'<tr data-task-id="{failed.task_id}">' in page
    assert f'<a href="{report.get_absolute_url()}">Report on sales.csv</a>' in page
    assert f'data-attempts-for="{failed.task_id}">1 / 3<' in page
    assert GENERIC_FAILURE.replace("'", "&#x27;") in page
    assert f'data-retry="{failed.task_id}"' in page
    assert f'data-retry="{ok.task_id}"' not in page
    assert "KeyError" not in page  # the class is for staff only
    assert "<th>Owner</th>" not in page


def test_retry_enqueues_the_same_call_again_as_a_new_task(alice_client, alice, monkeypatch):
    report, failed = failing_report(alice_client, alice, monkeypatch)
    back = report.get_absolute_url()
    response = alice_client.post(reverse("jobs:retry", args=[failed.task_id]), {"next": back})
    assert response["Location"] == back

    again = Job.objects.get(retry_of=failed)
    assert again.task_id != failed.task_id and again.args == failed.args
    assert again.owner == alice and again.subject == report

    # A double click: no second task.
    alice_client.post(reverse("jobs:retry", args=[failed.task_id]))
    assert Job.objects.filter(retry_of=failed).count() == 1

    drain_queue("heavy")  # the bug is gone now
    report.refresh_from_db()
    assert report.is_ready
    assert status_of(again).status == TaskResultStatus.SUCCESSFUL
    page = alice_client.get(back).content.decode()
    assert 'data-report-ready="true"' in page


def test_only_failed_tasks_can_be_retried(alice_client, alice, web_aws):
    job = services.start(alice, sample_tasks.add, 1, 1, label="Add")
    response = alice_client.post(reverse("jobs:retry", args=[job.task_id]), follow=True)
    assert b"Only a task that failed can be retried." in response.content
    assert not Job.objects.filter(retry_of=job).exists()
    assert count(web_aws["default"]) == 1


def test_retry_is_a_post_with_a_csrf_token(alice, alice_client, monkeypatch):
    _, failed = failing_report(alice_client, alice, monkeypatch)
    url = reverse("jobs:retry", args=[failed.task_id])
    assert alice_client.get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url).status_code == 403
    assert not Job.objects.filter(retry_of=failed).exists()


def test_retry_refuses_an_unsafe_next(alice_client, alice, monkeypatch):
    _, failed = failing_report(alice_client, alice, monkeypatch)
    response = alice_client.post(
        reverse("jobs:retry", args=[failed.task_id]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("jobs:list")


def test_a_reports_page_follows_its_build_not_its_email(alice_client, alice):
    report = build(alice_client, alice)
    drain_queue("default")  # the email job is the newest job about the report
    latest = services.latest_for(report, build_report)
    assert latest.task_path == "django_app.reports.tasks.build_report"


@pytest.mark.parametrize(
    ("path", "message", "shown"),
    [
        ("django_app.reports.parsing.CsvError", "Line 3 is bad.", "Line 3 is bad."),
        ("django_app.jobs.errors.TransientError", "Try later.", "Try later."),
        (
            "sqs_tasks.exceptions.TaskTimeout",
            "attempt exceeded 600s",
            "The task took too long and was stopped.",
        ),
        ("builtins.KeyError", "'secret'", GENERIC_FAILURE),
        ("django_app.reports.models.Report", "not an exception", GENERIC_FAILURE),
        ("django_app.nowhere.Missing", "x", GENERIC_FAILURE),
        ("os.system", "x", GENERIC_FAILURE),
    ],
)
def test_what_a_user_reads_for_a_failure(path, message, shown):
    assert user_message(path, message) == shown


def test_the_status_endpoint_answers_scripts_in_json(client, alice_client, bob, bob_client):
    """progress.js polls it: a logged-out poll is a JSON 401 (not the login page's HTML,
    which a script cannot read), another user's task a JSON 404, as an unknown one is."""
    job = services.start(bob, sample_tasks.add, 1, 2, label="Add")
    response = status_json(client, job)
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Log in to see this task."}
    assert response["WWW-Authenticate"]

    for other in (job.task_id, "no-such-task"):
        response = alice_client.get(reverse("jobs:status", args=[other]))
        assert response.status_code == 404 and response.json() == {"error": "No such task."}
    assert status_json(bob_client, job).json()["status_label"] == "queued"


@pytest.mark.parametrize(
    ("values", "label", "note"),
    [
        ({"status": "READY"}, "queued", ""),
        ({"status": "RUNNING", "attempts": 1, "max_attempts": 3}, "running", ""),
        ({"status": "RUNNING", "attempts": 2, "max_attempts": 3}, "running", "Attempt 2 of 3."),
        (
            {"status": "READY", "attempts": 1, "max_attempts": 5, "error": "HTTP 503."},
            "will retry",
            "Attempt 1 of 5 failed; it will be tried again.",
        ),
        ({"status": "SUCCESSFUL", "attempts": 1}, "done", ""),
        ({"status": "FAILED", "attempts": 3, "error": "No."}, "failed", "Failed after 3 attempts."),
        ({"status": "UNKNOWN"}, "unknown", ""),
    ],
)
def test_each_state_has_one_word_a_user_reads_one_way(values, label, note):
    status = JobStatus(**values, current=1, total=2, message="Read 50,000 rows")
    assert (status.status_label, status.note) == (label, note)
    # Progress shows only while an attempt runs: never a finished or failed one's.
    shown = (status.current, status.total, status.message)
    assert shown == ((1, 2, "Read 50,000 rows") if label == "running" else (None, None, ""))


def test_a_retry_waiting_out_its_backoff_says_when_it_starts():
    soon = (timezone.now() + timedelta(seconds=41)).isoformat()
    later = (timezone.now() + timedelta(minutes=20, seconds=5)).isoformat()
    waiting = {"status": "READY", "attempts": 2, "max_attempts": 5, "error": "No."}
    assert JobStatus(**waiting, next_attempt_at=soon).note == (
        "Attempt 2 of 5 failed; it will be tried again in about 40 seconds."
    )
    assert JobStatus(**waiting, next_attempt_at=later).note.endswith("in about 20 minutes.")
    assert (
        JobStatus(**{**waiting, "status": "RUNNING"}, next_attempt_at=soon).to_dict()[
            "next_attempt_at"
        ]
        is None
    )  # it has started


def test_a_failed_attempt_that_will_be_retried_says_so(alice_client, alice, fake_api, settings):
    settings.RATES_API_TRIES = 1  # one call per attempt: the backend does the retrying
    fake_api.then(503, body="")
    alice_client.post(reverse("rates:index"), {"base": "EUR"})
    job = Job.objects.get(owner=alice)
    drain_queue("default", max_batches=1)  # the first attempt only

    data = status_json(alice_client, job).json()
    assert (data["status"], data["status_label"], data["will_retry"]) == (
        "READY",
        "will retry",
        True,
    )
    assert data["note"] == "Attempt 1 of 5 failed; it will be tried again."
    assert data["error"] == "The exchange-rate service had a problem (HTTP 503)."
    assert (data["message"], data["percent"], data["finished"]) == ("", 0, False)
    page = alice_client.get(reverse("rates:index")).content.decode()
    assert ">will retry</span>" in page and "data-will-retry" in page
    assert "Attempt 1 of 5 failed; it will be tried again." in page

    drain_queue("default")  # the API answers now
    data = status_json(alice_client, job).json()
    assert (data["status_label"], data["note"], data["error"], data["attempts"]) == (
        "done",
        "",
        "",
        2,
    )


def test_a_failure_the_task_declared_expected_offers_no_retry(alice_client, alice):
    """A malformed file fails the same way every time: no page offers to try again, and
    a retry posted anyway is refused with the reason."""
    report = build(alice_client, alice, text="a,b\n" + "1,2\n" * 7 + "3\n")
    job = Job.objects.get(subject_id=report.pk, task_path=build_report.module_path)
    data = status_json(alice_client, job).json()
    assert (data["status"], data["expected_failure"], data["can_retry"]) == ("FAILED", True, False)
    listed = alice_client.get(reverse("jobs:list")).content.decode()
    assert f'data-task-id="{job.task_id}"' in listed and f'data-retry="{job.task_id}"' not in listed
    assert "will retry" not in listed and "You can retry" not in listed

    response = alice_client.post(reverse("jobs:retry", args=[job.task_id]), follow=True)
    assert (
        "Trying again would fail the same way: Line 9 has 1 values, but the header has 2 columns."
        in unescape(response.content.decode())
    )
    assert not Job.objects.filter(retry_of=job).exists()


def test_an_expected_failure_whose_message_is_not_for_users_still_says_no_retry():
    assert user_message("sqs_tasks.exceptions.ExpectedFailure", "x", expected=True) == (
        EXPECTED_FAILURE
    )
    assert "retry" in GENERIC_FAILURE and "again would not help" in EXPECTED_FAILURE
    failed = JobStatus(status="FAILED", error="No.", expected_failure=True)
    assert (failed.status_label, failed.can_retry) == ("failed", False)
    assert JobStatus(status="FAILED", error="No.").can_retry  # not expected: worth a retry
    assert not JobStatus(status="READY", expected_failure=True).expected_failure  # stale


def test_a_refresh_held_back_by_its_limit_waits_for_its_turn(alice_client, alice, fake_api):
    api.pause_limit(fetch.LIMIT, 60)  # as a 429's Retry-After does, for every worker
    alice_client.post(reverse("rates:index"), {"base": "EUR"})
    job = Job.objects.get(owner=alice)
    drain_queue("default", max_batches=1)

    data = status_json(alice_client, job).json()
    assert (data["status"], data["status_label"], data["attempts"]) == (
        "READY",
        "waiting for its turn",
        0,  # waiting spends no attempt
    )
    assert data["note"].startswith("Held back by its rate limit")
    assert "(exchange-api); it starts in about" in data["note"]
    assert data["error"] == "" and data["finished"] is False
    page = unescape(alice_client.get(reverse("rates:index")).content.decode())
    assert ">waiting for its turn</span>" in page and "Held back by its rate limit" in page
    assert fake_api.paths == []  # the API was not called
