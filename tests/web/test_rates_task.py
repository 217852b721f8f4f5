"""Refreshing exchange rates: one call per attempt under the limit every worker shares,
and the whole task from the page's button through the worker, against the fake API on
loopback."""

import time

import boto3
import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.urls import reverse

from django_app.jobs.models import Job
from django_app.rates.client import RatesClient
from django_app.rates.errors import RateLimited, UpstreamTimeout, UpstreamUnavailable
from django_app.rates.fetch import fetch_latest
from django_app.rates.models import ExchangeRate
from sqs_tasks.testing import drain_queue
from tests.web.conftest import RATE_LIMIT_TABLE

pytestmark = pytest.mark.usefixtures("web_aws")


def fetch(api):
    return fetch_latest("EUR", client=RatesClient(api.url, 0.2))


def test_a_429_pauses_the_shared_limit_for_every_worker_and_is_left_to_the_backend(fake_api):
    fake_api.then(429, body="{}", headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as raised:
        fetch(fake_api)
    assert raised.value.retry_after == 120
    counter = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=RATE_LIMIT_TABLE, Key={"id": {"S": "rate:exchange-api"}}
    )["Item"]
    assert float(counter["tat"]["N"]) >= time.time() + 115  # no worker starts before then


@pytest.mark.parametrize(
    ("answer", "error"),
    [({"status": 503, "body": ""}, UpstreamUnavailable), ({"delay": 0.5}, UpstreamTimeout)],
)
def test_busy_answers_are_left_to_the_backends_retries(fake_api, answer, error):
    fake_api.then(answer.pop("status", 200), **answer)
    with pytest.raises(error):
        fetch(fake_api)
    assert len(fake_api.paths) == 1  # one call an attempt


def test_the_button_refreshes_rates_in_the_background(alice_client, alice, fake_api):
    page = alice_client.get(reverse("rates:index"))
    assert b'id="no-rates"' in page.content

    response = alice_client.post(reverse("rates:index"), {"base": "eur"})
    assert response["Location"] == reverse("rates:index") + "?base=EUR"
    job = Job.objects.get(owner=alice)
    assert job.args == ["EUR"] and job.label == "Refresh EUR exchange rates"
    assert fake_api.paths == []  # nothing called during the request

    fake_api.then(429, body="{}", headers={"Retry-After": "0"})
    drain_queue("default")
    assert fake_api.paths == ["/latest?base=EUR", "/latest?base=EUR"]
    assert {r.currency: str(r.rate) for r in ExchangeRate.objects.all()} == {
        "GBP": "0.8571000000",
        "USD": "1.0825000000",
    }
    result = default_task_backend.get_result(job.task_id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"base": "EUR", "date": "2026-01-02", "count": 2}

    page = alice_client.get(reverse("rates:index") + "?base=EUR").content.decode()
    assert '<tr data-currency="USD">' in page and "1.0825" in page
    assert 'data-state="SUCCESSFUL"' in page


def test_a_double_click_starts_one_refresh(alice_client, alice, fake_api, monkeypatch):
    # Both clicks in one dedup window: a real clock could straddle a window's edge.
    monkeypatch.setattr("django_app.rates.views.dedup_window", lambda: 180_000_000)
    alice_client.post(reverse("rates:index"), {"base": "EUR"})
    alice_client.post(reverse("rates:index"), {"base": "EUR"})
    assert Job.objects.filter(owner=alice).count() == 1


def test_a_bad_currency_code_is_refused_on_the_page(alice_client, alice):
    response = alice_client.post(reverse("rates:index"), {"base": "E1"})
    assert response.status_code == 200
    assert b"Use a three-letter code such as EUR." in response.content
    assert not Job.objects.exists()


def test_an_api_down_for_good_fails_after_the_backends_retries(
    alice_client, alice, fake_api, settings
):
    for _ in range(5):
        fake_api.then(503, body="")
    alice_client.post(reverse("rates:index"), {"base": "EUR"})
    drain_queue("default")

    job = Job.objects.get(owner=alice)
    status = alice_client.get(reverse("jobs:status", args=[job.task_id])).json()
    assert status["status"] == "FAILED"
    assert (status["attempts"], status["max_attempts"]) == (5, 5)
    assert status["error"] == "The exchange-rate service had a problem (HTTP 503)."
    assert len(fake_api.paths) == 5
    assert not ExchangeRate.objects.exists()
