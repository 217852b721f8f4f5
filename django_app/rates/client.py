"""The exchange-rates API over HTTP, with the standard library only (urllib).

One call, one answer: either rates, or an exception that says whether trying again
could help and how long the API asked us to wait (Retry-After). Retrying is decided by
the caller (rates.fetch), not here.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from django_app.rates.errors import (
    RateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

MAX_BODY = 1024 * 1024
MAX_RETRY_AFTER = 24 * 3600.0
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class Rates:
    base: str
    date: str
    rates: dict[str, Decimal]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent
    or unreadable. Never negative, and capped: a server cannot park us for a week."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class RatesClient:
    def __init__(self, url: str, timeout: float) -> None:
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ValueError(f"RATES_API_URL must be http(s), not {url!r}")
        self.url = url
        self.timeout = timeout

    def latest(self, base: str) -> Rates:
        request = Request(
            f"{self.url}?{urlencode({'base': base})}",
            headers={"Accept": "application/json", "User-Agent": "csv-reports/1.0"},
        )
        try:
            with urlopen(request, timeout=self.timeout) as response:  # scheme checked in __init__
                body = response.read(MAX_BODY)
        except HTTPError as error:
            raise _http_error(error) from None
        except TimeoutError:
            raise UpstreamTimeout("The exchange-rate service did not answer in time.") from None
        except URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise UpstreamTimeout("The exchange-rate service did not answer in time.") from None
            raise UpstreamUnavailable("Could not reach the exchange-rate service.") from None
        except (HTTPException, ConnectionError):
            raise UpstreamUnavailable("The exchange-rate service broke off the answer.") from None
        return parse_rates(body, base)


def _http_error(error: HTTPError) -> Exception:
    retry_after = parse_retry_after(error.headers.get("Retry-After") if error.headers else None)
    error.close()
    if error.code == 429:
        return RateLimited(
            "The exchange-rate service asked us to slow down.", retry_after=retry_after
        )
    if error.code >= 500:
        return UpstreamUnavailable(
            f"The exchange-rate service had a problem (HTTP {error.code}).",
            retry_after=retry_after,
        )
    return UpstreamRejected(f"The exchange-rate service refused the request (HTTP {error.code}).")


def parse_rates(body: bytes, base: str) -> Rates:
    """The API's JSON: {"base": "EUR", "date": "2024-05-01", "rates": {"USD": 1.07, ...}}."""
    unreadable = UpstreamRejected("The exchange-rate service sent an answer we cannot read.")
    try:
        data: Any = json.loads(body)
        rates = {
            str(code): Decimal(str(value))
            for code, value in data["rates"].items()
            if _CURRENCY.fullmatch(str(code))
        }
    except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation):
        raise unreadable from None
    if not rates or any(not value.is_finite() or value <= 0 for value in rates.values()):
        raise unreadable
    return Rates(base=str(data.get("base") or base), date=str(data.get("date", "")), rates=rates)
