"""The report's background work: build it on the heavy queue, then email the owner.

A report over one file is one task, `build_report`, which enqueues the email. A report
over several files is a workflow of steps (reports/workflows.py): `summarise_file` once
per file, in parallel, then `merge_summaries`, `render_report` and `send_report_email`.
Steps hand each other S3 keys, never data: each writes what it made under the report's
token, at a key fixed by the report and the file.

Every task may run more than once (SQS delivers at least once, failures retry, a worker
may die after its writes and before its outcome is recorded), so each is idempotent: a
summary is written again to the same key, a report already built is not written again,
the email task is enqueued under a dedup key, and the email itself is claimed before it
is sent.
"""

from datetime import timedelta
from typing import Any

from django.tasks import TaskContext, task
from django.utils import timezone

from django_app.accounts import verification
from django_app.jobs import in_flight, services
from django_app.jobs.errors import TransientError, aws_errors_are_transient
from django_app.reports import partials, storage
from django_app.reports.aggregate import Aggregator, Summary, merge
from django_app.reports.models import Report
from django_app.reports.notify import send_report_ready
from django_app.reports.parsing import CountingReader, CsvError, decode, read_rows
from django_app.reports.render import render_csv, render_html

PROGRESS_EVERY = 500  # rows between progress reports (the context throttles them too)
# Reading files holds a worker for minutes: the heavy queue, a storage hiccup retried.
HEAVY: dict[str, Any] = {
    "queue_name": "heavy",
    "max_attempts": 3,
    "retry_on": (TransientError,),
    "timeout": 600,
}


@task(takes_context=True, **HEAVY)
def build_report(context: TaskContext, report_id: int) -> dict[str, Any]:
    """Read the upload, summarise it, write the HTML and CSV to S3, enqueue the email.

    A malformed file raises CsvError: not retried, and its message is what the user
    reads on the report's page."""
    report = Report.objects.select_related("upload", "owner").get(pk=report_id)
    summary = _summarise(context, report.upload.key, report.group_by)
    _save(report, summary)
    services.start(
        report.owner,
        send_report_email.using(dedup_key=f"report-ready:{report.pk}"),
        report.pk,
        label=f"Email: report on {report.title}",
        subject=report,
    )
    return summary.headline()


@task(takes_context=True, **HEAVY)
def summarise_file(context: TaskContext, report_id: int, upload_id: int) -> str:
    """A workflow's step: summarise one of a report's files, store the summary, and
    return its S3 key. A malformed file fails the step (and so the workflow) at once,
    with the file's name in front of what is wrong with it."""
    report = Report.objects.get(pk=report_id)
    upload = report.files.get(pk=upload_id)
    try:
        summary = _summarise(context, upload.key, report.group_by)
    except (CsvError, storage.UploadMissing) as error:
        raise type(error)(f"{upload.filename}: {error}") from None
    return _store_summary(report, f"parts/{upload.pk}.json", summary)


@task(**HEAVY)
def merge_summaries(summary_keys: list[str], report_id: int) -> str:
    """A workflow's step: merge the files' summaries (in the files' order) into one,
    store it, and return its S3 key."""
    report = Report.objects.get(pk=report_id)
    with aws_errors_are_transient("read the files' summaries"):
        summaries = [partials.loads(storage.read_report_file(key)) for key in summary_keys]
    return _store_summary(report, "parts/all.json", merge(summaries))


@task(**HEAVY)
def render_report(summary_key: str, report_id: int) -> int:
    """A workflow's step: write the report's HTML and CSV from the merged summary, and
    return the report's id, which the email step takes."""
    report = Report.objects.select_related("upload", "owner").get(pk=report_id)
    if report.finished_at is None:  # else this step ran before, up to its outcome
        with aws_errors_are_transient("read the summary"):
            summary = partials.loads(storage.read_report_file(summary_key))
        _save(report, summary)
    return report.pk


# A report holds a heavy worker for minutes, and the heavy queue carries the nightly
# backup too: no user may fill it. The horizon outlasts three attempts of ten minutes
# with their backoff; a report older than that lost its worker.
in_flight.limit(build_report, "REPORTS_MAX_IN_FLIGHT", timedelta(hours=1), "reports being built")


@task(max_attempts=5, retry_on=(TransientError,), timeout=60)
def send_report_email(report_id: int) -> bool:
    """Email the owner a download link, at most once: the send is claimed first, so a
    duplicate delivery sends nothing. A send that fails releases the claim and retries.
    Nothing goes to an address its owner has not confirmed."""
    report = Report.objects.select_related("upload", "owner").get(pk=report_id)
    if not report.is_ready or not verification.is_verified(report.owner):
        return False  # the report page says why no email came
    claimed = Report.objects.filter(pk=report.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    try:
        send_report_ready(report)
    except Exception as error:  # any mail backend's failure (SMTP, SES): try again later
        Report.objects.filter(pk=report.pk).update(emailed_at=None)
        raise TransientError("Could not send the email just now; trying again.") from error
    return True


def _summarise(context: TaskContext, key: str, group_by: list[str]) -> Summary:
    """The summary of the upload at `key`, reporting progress as it is read."""
    with aws_errors_are_transient("read the uploaded file"):
        body, size = storage.open_upload(key)
        counter = CountingReader(body)
        columns, rows = read_rows(decode(counter))
        aggregator = Aggregator(columns, group_by)
        context.report_progress(0, size, "Reading the file")
        for number, row in enumerate(rows, start=1):
            aggregator.add(row)
            if number % PROGRESS_EVERY == 0:
                context.report_progress(counter.bytes_read, size, f"Read {number:,} rows")
    context.report_progress(size, size, f"Read {aggregator.rows:,} rows; writing the report")
    return aggregator.summary()


def _store_summary(report: Report, name: str, summary: Summary) -> str:
    """Store a summary under the report's token; the same key each time, so a step
    that runs again overwrites what it wrote."""
    key = storage.report_key(report.owner_id, report.token, name)
    with aws_errors_are_transient("save a summary"):
        storage.save_report_file(key, partials.dumps(summary), partials.CONTENT_TYPE)
    return key


def _save(report: Report, summary: Summary) -> None:
    html_key = storage.report_key(report.owner_id, report.token, "report.html")
    csv_key = storage.report_key(report.owner_id, report.token, "report.csv")
    html, csv = render_html(report, summary), render_csv(summary)  # both within limits
    with aws_errors_are_transient("save the report"):
        storage.save_report_file(html_key, html, "text/html; charset=utf-8")
        storage.save_report_file(csv_key, csv, "text/csv; charset=utf-8")
    # Recorded once: a run that follows one which got this far changes nothing.
    Report.objects.filter(pk=report.pk, finished_at__isnull=True).update(
        html_key=html_key,
        csv_key=csv_key,
        summary=summary.headline(),
        finished_at=timezone.now(),
    )
