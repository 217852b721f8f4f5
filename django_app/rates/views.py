"""The rates page: the rates as last fetched, and a button that refreshes them in the
background (the external API is slow and rate-limited; no request waits on it)."""

import time

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from django_app.jobs import in_flight, services
from django_app.jobs.models import Job
from django_app.jobs.status import status_of
from django_app.rates.forms import RefreshForm
from django_app.rates.models import ExchangeRate
from django_app.rates.tasks import refresh_rates

# Clicks on the same base within this many seconds start one refresh, not several.
DEDUP_WINDOW = 10


def dedup_window() -> int:
    """The current DEDUP_WINDOW-second slot: clicks in one slot share a dedup key."""
    return int(time.time()) // DEDUP_WINDOW


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    form = RefreshForm(
        request.POST if request.method == "POST" else None,
        initial={"base": request.GET.get("base", "EUR")},
    )
    if request.method == "POST" and form.is_valid():
        base = form.cleaned_data["base"]
        window = dedup_window()
        try:
            services.start(
                request.user,
                refresh_rates.using(dedup_key=f"{request.user.pk}:{base}:{window}"),
                base,
                label=f"Refresh {base} exchange rates",
            )
        except in_flight.TooManyInFlight as refused:
            form.add_error(None, str(refused))
        else:
            return redirect(f"{reverse('rates:index')}?base={base}")
    base = (form.data.get("base") if form.is_bound else form.initial["base"]).upper()[:3]
    job = Job.objects.owned_by(request.user).filter(task_path=refresh_rates.module_path).first()
    return render(
        request,
        "rates/index.html",
        {
            "form": form,
            "base": base,
            "rates": ExchangeRate.objects.filter(base=base),
            "job": job,
            "status": status_of(job) if job else None,
        },
    )
