"""One task attempt's call to the rates API, under the limit every worker shares.

The limit is the task's own option (`limits=["exchange-api"]`, sqs_tasks.limits): an
attempt starts only when the API's rate allows it, and a task over it waits without
spending an attempt. One call per attempt: a busy answer (429, 5xx, a timeout) raises a
TransientError and the backend retries the task with its backoff, and a 429's
Retry-After also pauses the shared limit, so every worker holds off, not only this one.
"""

from django.conf import settings

from django_app.rates.client import Rates, RatesClient
from django_app.rates.errors import RateLimited
from sqs_tasks import api

LIMIT = "exchange-api"  # OPTIONS["LIMITS"] in settings.py


def fetch_latest(base: str, *, client: RatesClient) -> Rates:
    try:
        return client.latest(base)
    except RateLimited as error:
        if error.retry_after:
            api.pause_limit(LIMIT, error.retry_after)
        raise


def configured() -> RatesClient:
    """The client settings describe."""
    return RatesClient(settings.RATES_API_URL, settings.RATES_API_TIMEOUT)
