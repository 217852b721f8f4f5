"""The rates API client against a real HTTP server on loopback."""

import json
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from django_app.rates.client import RatesClient, parse_rates, parse_retry_after
from django_app.rates.errors import (
    RateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from stack.local.rates_api import RatesApiStandIn


@pytest.fixture
def api():
    with RatesApiStandIn() as server:
        yield server


def client_for(api, timeout=0.3):
    return RatesClient(api.url, timeout)


def test_success(api):
    rates = client_for(api).latest("EUR")
    assert rates.base == "EUR" and rates.date == "2026-01-02"
    assert rates.rates == {"USD": Decimal("1.0825"), "GBP": Decimal("0.8571")}
    assert api.paths == ["/latest?base=EUR"]


def test_429_says_how_long_to_wait(api):
    api.then(429, body="{}", headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as raised:
        client_for(api).latest("EUR")
    assert raised.value.retry_after == 7.0


def test_503_is_unavailable_with_or_without_retry_after(api):
    api.then(503, body="down").then(502, body="bad gateway", headers={"Retry-After": "2"})
    with pytest.raises(UpstreamUnavailable, match=r"HTTP 503") as first:
        client_for(api).latest("EUR")
    assert first.value.retry_after is None
    with pytest.raises(UpstreamUnavailable) as second:
        client_for(api).latest("EUR")
    assert second.value.retry_after == 2.0


def test_a_slow_answer_times_out(api):
    api.then(200, delay=1.0)
    with pytest.raises(UpstreamTimeout, match="did not answer in time"):
        client_for(api, timeout=0.2).latest("EUR")


def test_no_server_at_all():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    with pytest.raises(UpstreamUnavailable, match="Could not reach"):
        RatesClient(f"http://127.0.0.1:{port}/latest", 0.5).latest("EUR")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, '{"message": "bad base"}'),
        (404, "{}"),
        (200, "not json"),
        (200, '{"rates": []}'),
        (200, '{"rates": {"USD": "abc"}}'),
        (200, '{"rates": {"USD": -1}}'),
        (200, '{"rates": {}}'),
    ],
)
def test_answers_that_retrying_cannot_fix(api, status, body):
    api.then(status, body=body)
    with pytest.raises(UpstreamRejected):
        client_for(api).latest("EUR")


def test_odd_currency_codes_are_skipped():
    body = json.dumps({"base": "EUR", "rates": {"USD": 1.1, "<script>": 2, "gbp": 3}})
    assert parse_rates(body.encode(), "EUR").rates == {"USD": Decimal("1.1")}


def test_only_http_urls():
    with pytest.raises(ValueError, match="must be http"):
        RatesClient("file:///etc/passwd", 1)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("Fri, 02 Jan 2026 12:00:30 GMT", 30.0),
        ("Fri, 02 Jan 2026 11:00:00 GMT", 0.0),  # in the past
        ("99999999", 86400.0),  # capped at a day
    ],
)
def test_retry_after_values(value, seconds):
    now = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds
