"""Upload a CSV, pick groupings, follow the report as it is built, open it.

The file never passes through the app: the upload form posts to S3 (presigned), and S3
sends the browser back to `uploaded`, which checks what S3 stored before recording it.
Every lookup goes through `visible_to` (read) or `owned_by` (act), so another user's
ids are a 404.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from django_app.accounts import verification
from django_app.csp import allow_form_action
from django_app.jobs import in_flight, services
from django_app.jobs.status import status_of
from django_app.reports import storage
from django_app.reports.forms import GroupingForm
from django_app.reports.models import Report, Upload
from django_app.reports.parsing import CsvError, preview
from django_app.reports.tasks import build_report

REPORT_LINK_SECONDS = 300  # links minted for a click, not for keeping
FILES_GONE = "This report's files are no longer stored: see below how to get them back."


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The home page: what the app is, for visitors; the upload form and the user's
    reports (each with its build's state, in the words the task pages use) once logged in."""
    if not request.user.is_authenticated:
        return render(request, "reports/landing.html")
    back = request.build_absolute_uri(reverse("reports:uploaded"))
    form = storage.upload_form(request.user.pk, back)
    reports = list(Report.objects.visible_to(request.user).select_related("upload", "owner")[:50])
    builds = services.latest_for_each(reports, build_report)
    rows = [
        (report, status_of(builds[report.pk]) if report.pk in builds else None)
        for report in reports
    ]
    page = render(request, "reports/index.html", {"upload_form": form, "rows": rows})
    return allow_form_action(page, form.url)  # the upload form posts straight to S3


@login_required
@require_GET
def uploaded(request: HttpRequest) -> HttpResponse:
    """Where S3 sends the browser after storing a file: check it, then record it."""
    key = request.GET.get("key", "")
    if not storage.is_upload_key_of(request.user.pk, key):
        raise Http404("No such upload.")
    existing = Upload.objects.filter(key=key, owner=request.user).first()
    if existing:
        return redirect(existing)
    stored = storage.stored_upload(key)
    if stored is None:
        raise Http404("No such upload.")
    try:
        if (
            stored.content_type != storage.CSV_TYPE
            or stored.size > settings.REPORTS_MAX_UPLOAD_BYTES
        ):
            raise CsvError("That upload is not a CSV file within the size limit.")
        sample = preview(storage.read_start(key), complete=stored.size <= storage.HEAD_BYTES)
    except CsvError as error:
        return _upload_problem(request, stored.filename, str(error))
    upload = Upload.objects.create(
        owner=request.user,
        key=key,
        filename=stored.filename,
        size=stored.size,
        columns=sample.columns,
        preview=sample.rows,
    )
    return redirect(upload)


@login_required
@require_http_methods(["GET", "POST"])
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The file's columns and first rows, and the form that starts a report on it."""
    upload = get_object_or_404(Upload.objects.visible_to(request.user), pk=pk)
    form = GroupingForm(request.POST if request.method == "POST" else None, columns=upload.columns)
    if request.method == "POST":
        upload = get_object_or_404(Upload.objects.owned_by(request.user), pk=pk)
        if form.is_valid():
            try:
                with transaction.atomic():  # no report row for a start that is refused
                    report = Report.objects.create(
                        owner=request.user, upload=upload, group_by=form.cleaned_data["group_by"]
                    )
                    services.start(
                        request.user,
                        # Each user's reports are their own group on the heavy queue, a
                        # fair queue: one user's burst cannot starve the others.
                        build_report.using(message_group=f"user-{request.user.pk}"),
                        report.pk,
                        label=f"Report on {upload.filename}",
                        subject=report,
                    )
            except in_flight.TooManyInFlight as refused:
                form.add_error(None, str(refused))
            else:
                return redirect(report)
    return render(
        request,
        "reports/upload.html",
        {"upload": upload, "form": form, "can_build": upload.owner_id == request.user.pk},
    )


@login_required
@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(
        Report.objects.visible_to(request.user).select_related("upload", "owner"), pk=pk
    )
    job = services.latest_for(report, build_report)
    files_gone = report.is_ready and bool(storage.missing(report.keys))
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "job": job,
            "status": status_of(job) if job else None,
            "email_confirmed": verification.is_verified(report.owner),
            # Reload when the task finishes, to show the report or the retry button.
            "waiting": not report.is_ready,
            "files_gone": files_gone,
            # Then it can be built again from its upload, unless that is gone too.
            "upload_gone": files_gone and bool(storage.missing([report.upload.key])),
        },
    )


@login_required
@require_GET
def report_file(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Open the HTML report or download the CSV: a redirect to a short-lived presigned
    URL, so the file is served by S3 and the link checks ownership each time. The email
    links here too, so its link never expires and says so when the file is gone."""
    report = get_object_or_404(
        Report.objects.visible_to(request.user).select_related("upload"), pk=pk
    )
    if not report.is_ready:
        raise Http404("The report is not ready yet.")
    key, attachment = (report.html_key, False) if kind == "html" else (report.csv_key, True)
    if storage.missing([key]):  # else S3 would answer the browser with raw XML
        messages.error(request, FILES_GONE)
        return redirect(report)
    return redirect(
        storage.download_url(
            key,
            filename=f"{report.download_name}.{kind}",
            attachment=attachment,
            expires=REPORT_LINK_SECONDS,
        )
    )


def _upload_problem(request: HttpRequest, filename: str, problem: str) -> HttpResponse:
    messages.error(request, f"{filename}: {problem}")
    return redirect("reports:index")
