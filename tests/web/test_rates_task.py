"""Refreshing exchange rates: the retry policy inside an attempt, and the whole task
from the page's button through the worker, against the fake API on loopback."""

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.urls import reverse

from django_app.jobs.models import Job
from django_app.rates.client import RatesClient
from django_app.rates.errors import RateLimited, UpstreamTimeout, UpstreamUnavailable
from django_app.rates.fetch import Patience, fetch_latest
from django_app.rates.models import ExchangeRate
from django_app.rates.token_bucket import TokenBucket
from sqs_tasks.testing import drain_queue
from tests.web.conftest import RATE_LIMIT_TABLE
from tests.web.test_token_bucket import FakeClock

pytestmark = pytest.mark.usefixtures("web_aws")


def fetch(api, clock, tries=3, max_wait=10.0, capacity=10):
    limiter = TokenBucket(RATE_LIMIT_TABLE, "rates", capacity=capacity, per_second=1, clock=clock)
    return fetch_latest(
        "EUR",
        client=RatesClient(api.url, 0.2),
        bucket=limiter,
        patience=Patience(tries=tries, max_wait=max_wait),
        clock=clock,
    )


def test_a_429_pauses_every_worker_for_its_retry_after_then_succeeds(fake_api):
    clock = FakeClock()
    fake_api.then(429, body="{}", headers={"Retry-After": "3"})
    assert fetch(fake_api, clock).rates
    assert clock.slept == [pytest.approx(3)]  # waited for the bucket's pause
    assert len(fake_api.paths) == 2


def test_5xx_and_timeouts_back_off_briefly_then_succeed(fake_api):
    clock = FakeClock()
    fake_api.then(503, body="").then(200, delay=0.5)  # then a timeout, then success
    assert fetch(fake_api, clock).rates
    assert clock.slept == [0.5, 1.0]
    assert len(fake_api.paths) == 3


def test_still_busy_after_all_tries_raises_for_the_backend_to_retry(fake_api):
    for _ in range(3):
        fake_api.then(502, body="")
    with pytest.raises(UpstreamUnavailable):
        fetch(fake_api, FakeClock())
    assert len(fake_api.paths) == 3


def test_a_retry_after_longer_than_we_wait_in_an_attempt_is_left_to_the_backend(fake_api):
    fake_api.then(429, body="{}", headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as raised:
        fetch(fake_api, FakeClock(), max_wait=10)
    assert raised.value.retry_after == 120
    assert len(fake_api.paths) == 1


def test_the_shared_limit_refuses_rather_than_waiting_too_long(fake_api):
    clock = FakeClock()
    fetch(fake_api, clock, capacity=1)
    with pytest.raises(RateLimited, match="waiting for our turn"):
        fetch(fake_api, clock, capacity=1, max_wait=0.5)
    assert len(fake_api.paths) == 1  # the API was not called


def test_a_timeout_on_the_last_try_is_raised(fake_api):
    fake_api.then(200, delay=0.5)
    with pytest.raises(UpstreamTimeout):
        fetch(fake_api, FakeClock(), tries=1)


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
    settings.RATES_API_TRIES = 1  # one call per attempt: the backend does the retrying
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
