"""Issue 15: each user's reports and rate refreshes in flight are limited, counted in the
app's own database (the Job rows), and a place frees when the task ends for good."""

from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from django_app.jobs import in_flight
from django_app.jobs.models import Job
from django_app.rates.tasks import refresh_rates
from django_app.reports.aggregate import Aggregator
from django_app.reports.models import Report
from django_app.reports.tasks import build_report
from sqs_tasks.testing import drain_queue
from tests.web.helpers import start_report, upload

pytestmark = pytest.mark.usefixtures("web_aws")

REPORTS_REFUSED = "You have 2 reports being built already."
RATES_REFUSED = "You have 2 exchange-rate refreshes under way already."
# Its first rows preview well; line 9 fails the build.
BROKEN = "a,b\n" + "1,2\n" * 7 + "3\n"


def post_report(client, upload_row):
    return client.post(reverse("reports:upload", args=[upload_row.pk]), {"group_by": []})


def reports_in_flight(user):
    return in_flight.count(user, build_report.module_path)


def test_a_third_report_in_flight_is_refused_with_a_clear_message(alice_client, alice):
    data = upload(alice_client, alice)
    start_report(alice_client, data)
    start_report(alice_client, data)

    response = post_report(alice_client, data)
    assert response.status_code == 200
    assert REPORTS_REFUSED in unescape(response.content.decode())
    assert Report.objects.filter(owner=alice).count() == 2  # no row for the refused one
    assert Job.objects.filter(owner=alice).count() == 2
    assert reports_in_flight(alice) == 2


def test_each_user_has_their_own_places(alice_client, alice, bob_client, bob):
    data = upload(alice_client, alice)
    start_report(alice_client, data)
    start_report(alice_client, data)
    start_report(bob_client, upload(bob_client, bob))
    assert reports_in_flight(bob) == 1


def test_finished_reports_free_their_places(alice_client, alice, mailoutbox):
    data = upload(alice_client, alice)
    start_report(alice_client, data)
    start_report(alice_client, data)
    drain_queue("heavy")  # the worker's task_finished marks both jobs finished
    assert reports_in_flight(alice) == 0
    assert Job.objects.filter(owner=alice, finished_at__isnull=False).count() == 2
    start_report(alice_client, data)


def test_a_report_that_failed_frees_its_place(alice_client, alice):
    broken = upload(alice_client, alice, text=BROKEN)
    start_report(alice_client, broken)
    start_report(alice_client, broken)
    drain_queue("heavy")
    assert reports_in_flight(alice) == 0


def test_a_job_whose_worker_was_lost_stops_counting_after_the_horizon(alice_client, alice):
    data = upload(alice_client, alice)
    start_report(alice_client, data)
    start_report(alice_client, data)
    long_ago = timezone.now() - timedelta(hours=1, minutes=1)
    Job.objects.filter(owner=alice).update(created_at=long_ago)  # no signal ever came
    start_report(alice_client, data)


def test_a_retry_counts_against_the_limit(alice_client, alice, settings, monkeypatch):
    data = upload(alice_client, alice)
    with monkeypatch.context() as patch:  # a bug, not the file: worth another try
        patch.setattr(Aggregator, "add", lambda self, row: {}[row[0]])
        failed = start_report(alice_client, data)
        drain_queue("heavy")
    settings.REPORTS_MAX_IN_FLIGHT = 1
    start_report(alice_client, data)  # in flight: not run yet

    job = Job.objects.get(subject_id=failed.pk, task_path=build_report.module_path)
    response = alice_client.post(reverse("jobs:retry", args=[job.task_id]), follow=True)
    assert "You have 1 reports being built already." in unescape(response.content.decode())
    assert not Job.objects.filter(retry_of=job).exists()


def test_rate_refreshes_in_flight_are_limited(alice_client, alice):
    for base in ("EUR", "USD"):
        assert alice_client.post(reverse("rates:index"), {"base": base}).status_code == 302
    response = alice_client.post(reverse("rates:index"), {"base": "GBP"})
    assert response.status_code == 200
    assert RATES_REFUSED in unescape(response.content.decode())
    assert Job.objects.filter(task_path=refresh_rates.module_path).count() == 2


@pytest.mark.parametrize("base", ["ZZZ", "XXX", "ABC", "XTS"])
def test_only_real_currency_codes_are_refreshed(alice_client, alice, base):
    response = alice_client.post(reverse("rates:index"), {"base": base})
    assert response.status_code == 200
    assert f"{base} is not a currency code (ISO 4217)" in unescape(response.content.decode())
    assert not Job.objects.exists()


@pytest.mark.parametrize("base", ["eur", "JPY", "chf", "XAU"])
def test_currency_codes_are_accepted_in_any_case(alice_client, alice, base):
    assert alice_client.post(reverse("rates:index"), {"base": base}).status_code == 302
