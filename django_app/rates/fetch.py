"""One task attempt's worth of calls to the rates API: rate-limited, retried when busy.

Where a wait is short, it is cheaper to wait inside the attempt than to give the
message back to SQS: so a 429's Retry-After pauses the shared bucket (every worker
holds off, not only this one) and the next token is awaited, and a 5xx or timeout
without Retry-After is retried after a short backoff, up to `tries` calls, as long as
each wait fits in `max_wait`. A longer wait raises the TransientError instead, and the
task backend retries the task later with its own backoff (the message's visibility).
"""

from dataclasses import dataclass

from django.conf import settings

from django_app.jobs.errors import TransientError
from django_app.rates.client import Rates, RatesClient
from django_app.rates.token_bucket import Clock, SystemClock, TokenBucket

BUCKET_NAME = "rates-api"
FIRST_BACKOFF = 0.5


@dataclass(frozen=True, slots=True)
class Patience:
    tries: int  # calls per attempt, the first included
    max_wait: float  # seconds one wait may take inside the attempt


def fetch_latest(
    base: str,
    *,
    client: RatesClient,
    bucket: TokenBucket,
    patience: Patience,
    clock: Clock | None = None,
) -> Rates:
    clock = clock or SystemClock()
    for number in range(1, patience.tries + 1):
        bucket.acquire(max_wait=patience.max_wait)
        try:
            return client.latest(base)
        except TransientError as error:
            if number == patience.tries:
                raise
            if error.retry_after is not None:
                if error.retry_after > patience.max_wait:
                    raise
                bucket.pause(error.retry_after)  # the next acquire waits it out
                continue
            clock.sleep(min(FIRST_BACKOFF * 2 ** (number - 1), patience.max_wait))
    raise AssertionError("unreachable: the last try returns or raises")


def configured() -> tuple[RatesClient, TokenBucket, Patience]:
    """The client, shared bucket and patience that settings describe."""
    client = RatesClient(settings.RATES_API_URL, settings.RATES_API_TIMEOUT)
    bucket = TokenBucket(
        settings.RATE_LIMIT_TABLE,
        BUCKET_NAME,
        capacity=settings.RATES_API_BURST,
        per_second=settings.RATES_API_CALLS_PER_MINUTE / 60,
    )
    return client, bucket, Patience(settings.RATES_API_TRIES, settings.RATES_API_MAX_WAIT)
