"""Refreshing exchange rates: a slow, rate-limited external call, made from a task so
no web request ever waits on it."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.tasks import TaskContext, task
from django.utils import timezone

from django_app.jobs import in_flight
from django_app.jobs.errors import TransientError
from django_app.rates import fetch
from django_app.rates.client import Rates
from django_app.rates.models import ExchangeRate


@task(
    takes_context=True,
    max_attempts=5,
    retry_on=(TransientError,),
    timeout=120,
    limits=[fetch.LIMIT],  # the API's rate, shared by every worker: waiting is not failing
)
def refresh_rates(context: TaskContext, base: str) -> dict[str, Any]:
    context.report_progress(0, 2, "Asking the exchange-rate service")
    rates = fetch.fetch_latest(base, client=fetch.configured())
    context.report_progress(1, 2, f"Saving {len(rates.rates)} rates")
    save(rates)
    context.report_progress(2, 2, "Done")
    return {"base": rates.base, "date": rates.date, "count": len(rates.rates)}


# Every refresh spends tokens of the bucket all users share: one user may not queue
# refreshes of every base. The horizon outlasts five attempts of two minutes.
in_flight.limit(
    refresh_rates, "RATES_MAX_IN_FLIGHT", timedelta(minutes=30), "exchange-rate refreshes under way"
)


def save(rates: Rates) -> None:
    now = timezone.now()
    with transaction.atomic():
        for currency, rate in rates.rates.items():
            ExchangeRate.objects.update_or_create(
                base=rates.base,
                currency=currency,
                defaults={"rate": rate, "as_of": rates.date, "fetched_at": now},
            )
