"""Upload CSVs, pick groupings, follow the report as it is built, open it.

Files never pass through the app: the upload form posts to S3 (presigned), and S3 sends
the browser back to `uploaded`, which checks what S3 stored before recording it. Several
files at once: the page's script posts each to S3 with a form of its own, then posts
their keys to `uploaded_several`, which checks them all the same way and leads to
`combine`, where a report over all of them is started (a workflow: reports/workflows.py).
Every lookup goes through `visible_to` (read) or `owned_by` (act), so another user's
ids are a 404.
"""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from django_app.accounts import verification
from django_app.csp import allow_uploads_to
from django_app.jobs import in_flight, services
from django_app.jobs.status import status_of
from django_app.reports import storage
from django_app.reports.forms import GroupingForm
from django_app.reports.models import Report, Upload
from django_app.reports.parsing import CsvError, preview
from django_app.reports.tasks import build_report
from django_app.reports.workflows import build_combined_report

REPORT_LINK_SECONDS = 300  # links minted for a click, not for keeping
FILES_GONE = "This report's files are no longer stored: see below how to get them back."


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The home page: what the app is, for visitors; the upload form and the user's
    reports (each with its build's state, in the words the task pages use) once logged in."""
    if not request.user.is_authenticated:
        return render(request, "reports/landing.html")
    return _index_page(request)


def _index_page(request: HttpRequest, upload_error: str = "", status: int = 200) -> HttpResponse:
    back = request.build_absolute_uri(reverse("reports:uploaded"))
    form = storage.upload_form(request.user.pk, back)
    # One form per file the script may send at once; unused ones cost nothing but a signature.
    several = [
        {"key": f.key, "fields": f.fields}
        for f in (storage.upload_form(request.user.pk, None) for _ in range(_max_files()))
    ]
    reports = list(
        Report.objects.visible_to(request.user)
        .select_related("upload", "owner")
        .prefetch_related("files")[:50]
    )
    builds = services.latest_for_each(reports, build_report, build_combined_report)
    rows = [
        (report, status_of(builds[report.pk]) if report.pk in builds else None)
        for report in reports
    ]
    page = render(
        request,
        "reports/index.html",
        {
            "upload_form": form,
            "several_forms_json": json.dumps(several),
            "max_files": _max_files(),
            "upload_error": upload_error,
            "rows": rows,
        },
        status=status,
    )
    return allow_uploads_to(page, form.url)  # the upload forms post straight to S3


@login_required
@require_GET
def uploaded(request: HttpRequest) -> HttpResponse:
    """Where S3 sends the browser after storing a file: check it, then record it."""
    key = request.GET.get("key", "")
    existing = Upload.objects.filter(key=key, owner=request.user).first()
    if existing:
        return redirect(existing)
    try:
        upload = _checked_upload(request, key)
    except CsvError as problem:
        messages.error(request, str(problem))
        return redirect("reports:index")
    return redirect(_recorded(upload))


@login_required
@require_POST
def uploaded_several(request: HttpRequest) -> HttpResponse:
    """Where the page's script sends the keys of several files it stored in S3: check
    each as `uploaded` does, and that they can make one report, then record them and go
    on to pick the grouping. Refused with the reason on the upload form, recording none."""
    keys = list(dict.fromkeys(request.POST.getlist("key")))  # in order, each once
    if not keys:
        return _index_page(request, "Choose one or more CSV files to upload.", status=400)
    if len(keys) > _max_files():
        return _index_page(
            request,
            f"Choose at most {_max_files()} files at once; you chose {len(keys)}.",
            status=400,
        )
    uploads, problems = [], []
    for number, key in enumerate(keys, start=1):
        existing = Upload.objects.filter(key=key, owner=request.user).first()
        try:
            uploads.append(existing or _checked_upload(request, key, number=number))
        except CsvError as problem:
            problems.append(str(problem))
    problems += [] if problems else _mismatched_columns(uploads)
    if problems:
        return _index_page(request, " ".join(problems), status=400)
    return redirect(_build_url([_recorded(upload) for upload in uploads]))


def _checked_upload(request: HttpRequest, key: str, number: int | None = None) -> Upload:
    """The Upload to record for what S3 holds at `key` (not saved yet): 404 for a key
    that is not the user's; CsvError, naming the file, for one no report can read.
    `number` names a file of several that never arrived (it has no name without it)."""
    if not storage.is_upload_key_of(request.user.pk, key):
        raise Http404("No such upload.")
    stored = storage.stored_upload(key)
    if stored is None:
        if number is None:
            raise Http404("No such upload.")
        raise CsvError(
            f"File {number} did not arrive in storage (too large, or its upload was "
            "interrupted): upload it again."
        )
    try:
        if (
            stored.content_type != storage.CSV_TYPE
            or stored.size > settings.REPORTS_MAX_UPLOAD_BYTES
        ):
            raise CsvError("That upload is not a CSV file within the size limit.")
        sample = preview(storage.read_start(key), complete=stored.size <= storage.HEAD_BYTES)
    except CsvError as error:
        raise CsvError(f"{stored.filename}: {error}") from None
    return Upload(
        owner=request.user,
        key=key,
        filename=stored.filename,
        size=stored.size,
        columns=sample.columns,
        preview=sample.rows,
    )


def _recorded(upload: Upload) -> Upload:
    """The upload, saved once: another request that recorded its key first wins."""
    if upload.pk is not None:
        return upload
    try:
        with transaction.atomic():
            upload.save()
    except IntegrityError:  # its key is unique
        return Upload.objects.get(key=upload.key, owner=upload.owner)
    return upload


def _mismatched_columns(uploads: list[Upload]) -> list[str]:
    """Why these files cannot make one report: each whose columns differ from the first's."""
    first = uploads[0]
    return [
        f"{upload.filename} has the columns {', '.join(upload.columns)}, but "
        f"{first.filename} has {', '.join(first.columns)}: a report over several files "
        "needs the same columns in each."
        for upload in uploads[1:]
        if sorted(upload.columns) != sorted(first.columns)
    ]


def _max_files() -> int:
    return settings.REPORTS_MAX_FILES


@login_required
@require_http_methods(["GET", "POST"])
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The file's columns and first rows, and the form that starts a report on it."""
    upload = get_object_or_404(Upload.objects.visible_to(request.user), pk=pk)
    form = GroupingForm(request.POST if request.method == "POST" else None, columns=upload.columns)
    if request.method == "POST":
        upload = get_object_or_404(Upload.objects.owned_by(request.user), pk=pk)
        report = _start_report(request, form, [upload])
        if report:
            return redirect(report)
    return render(
        request,
        "reports/upload.html",
        {"upload": upload, "form": form, "can_build": upload.owner_id == request.user.pk},
    )


@login_required
@require_http_methods(["GET", "POST"])
def combine(request: HttpRequest) -> HttpResponse:
    """Several of the user's files (?upload=<id>&upload=<id>...), and the form that
    starts one report over all of them."""
    ids = list(dict.fromkeys(request.GET.getlist("upload")))
    if not ids or not all(i.isdigit() for i in ids) or len(ids) > _max_files():
        raise Http404("No such files.")
    uploads = list(Upload.objects.owned_by(request.user).filter(pk__in=ids).order_by("pk"))
    if len(uploads) != len(ids):
        raise Http404("No such files.")
    if len(uploads) == 1:
        return redirect(uploads[0])
    problems = _mismatched_columns(uploads)
    form = GroupingForm(
        request.POST if request.method == "POST" else None, columns=uploads[0].columns
    )
    if request.method == "POST" and not problems:
        report = _start_report(request, form, uploads)
        if report:
            return redirect(report)
    return render(
        request, "reports/combine.html", {"uploads": uploads, "form": form, "problems": problems}
    )


def _start_report(request: HttpRequest, form: GroupingForm, uploads: list[Upload]) -> Report | None:
    """Create the report and start its build (a task for one file, a workflow for
    several) in one transaction; None, with the reason on the form, if it cannot start."""
    if not form.is_valid():
        return None
    try:
        with transaction.atomic():  # no report row for a start that is refused
            report = Report.objects.create(
                owner=request.user, upload=uploads[0], group_by=form.cleaned_data["group_by"]
            )
            if len(uploads) > 1:
                report.files.set(uploads)
                services.start(
                    request.user,
                    build_combined_report,
                    report.pk,
                    label=str(report),
                    subject=report,
                )
            else:
                services.start(
                    request.user,
                    # Each user's reports are their own group on the heavy queue, a
                    # fair queue: one user's burst cannot starve the others.
                    build_report.using(message_group=f"user-{request.user.pk}"),
                    report.pk,
                    label=str(report),
                    subject=report,
                )
    except in_flight.TooManyInFlight as refused:
        form.add_error(None, str(refused))
        return None
    return report


@login_required
@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(
        Report.objects.visible_to(request.user).select_related("upload", "owner"), pk=pk
    )
    job = services.latest_for(report, build_report, build_combined_report)
    files_gone = report.is_ready and bool(storage.missing(report.keys))
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "job": job,
            "status": status_of(job) if job else None,
            "email_confirmed": verification.is_verified(report.owner),
            # Reload when the build finishes, to show the report or the retry button.
            "waiting": not report.is_ready,
            "files_gone": files_gone,
            # Then it can be built again from its uploads, unless they are gone too.
            "upload_gone": files_gone and bool(storage.missing(report.source_keys)),
            "build_again_url": _build_url(report.sources),
        },
    )


def _build_url(uploads: list[Upload]) -> str:
    """Where a report on these files is started: one file's page, or `combine`."""
    if len(uploads) == 1:
        return uploads[0].get_absolute_url()
    query = QueryDict(mutable=True)
    query.setlist("upload", [str(upload.pk) for upload in uploads])
    return f"{reverse('reports:combine')}?{query.urlencode()}"


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
