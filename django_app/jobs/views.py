"""The task pages: a user's tasks, one task's status as JSON (polled by the progress
bar), and retry of a failed task. Lookups go through `visible_to`/`owned_by`, so
another user's task id is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from django_app.jobs import in_flight, overview, services
from django_app.jobs.models import Job
from django_app.jobs.status import status_of
from django_app.redirects import safe_next

PAGE_SIZE = 25


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = Job.objects.visible_to(request.user).select_related("owner", "retried_by")
    page = Paginator(jobs.prefetch_related("subject"), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(job, status_of(job)) for job in page]
    context = {"page": page, "rows": rows}
    if request.user.is_staff:  # computed ahead, read from the cache: no AWS call per view
        context |= {
            "overview": overview.current(timezone.now()),
            "columns": list(overview.COLUMNS.values()),
        }
    return render(request, "jobs/list.html", context)


@require_GET
@never_cache
def job_status(request: HttpRequest, task_id: str) -> JsonResponse:
    """JSON for a script (progress.js): errors too are JSON, never a login page's HTML.
    401 when logged out; 404 for a task that is not the user's, as for one that does
    not exist."""
    if not request.user.is_authenticated:
        response = JsonResponse({"error": "Log in to see this task."}, status=401)
        response["WWW-Authenticate"] = 'Session realm="tasks"'  # 401 must name a scheme
        return response
    job = Job.objects.visible_to(request.user).filter(task_id=task_id).first()
    if job is None:
        return JsonResponse({"error": "No such task."}, status=404)
    status = status_of(job).to_dict()
    if not request.user.is_staff:
        status["error_class"] = ""  # internals are for staff; users get `error`
    return JsonResponse(
        {
            "id": job.task_id,
            "label": job.label,
            **status,
            "subject_url": job.subject_url,
            "retry_url": reverse("jobs:retry", args=[job.task_id]),
        }
    )


@login_required
@require_POST
def job_retry(request: HttpRequest, task_id: str) -> HttpResponse:
    job = get_object_or_404(Job.objects.owned_by(request.user), task_id=task_id)
    back = safe_next(request, "jobs:list")
    status = status_of(job)
    if status.status != TaskResultStatus.FAILED:
        messages.error(request, "Only a task that failed can be retried.")
        return redirect(back)
    if not status.can_retry:
        messages.error(request, f"Trying again would fail the same way: {status.error}")
        return redirect(back)
    try:
        again = services.retry(job)
    except in_flight.TooManyInFlight as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{again.label}: started again.")
    return redirect(back)
