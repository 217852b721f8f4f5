"""The report's background work: build it on the heavy queue, then email the owner.

Both tasks may run more than once (SQS delivers at least once, and failures retry), so
both are idempotent: a rebuilt report overwrites the same S3 keys, the email task is
enqueued under a dedup key, and the email itself is claimed before it is sent.
"""

from datetime import timedelta
from typing import Any

from django.tasks import TaskContext, task
from django.utils import timezone

from django_app.accounts import verification
from django_app.jobs import in_flight, services
from django_app.jobs.errors import TransientError, aws_errors_are_transient
from django_app.reports import storage
from django_app.reports.aggregate import Aggregator, Summary
from django_app.reports.models import Report
from django_app.reports.notify import send_report_ready
from django_app.reports.parsing import CountingReader, decode, read_rows
from django_app.reports.render import render_csv, render_html

PROGRESS_EVERY = 500  # rows between progress reports (the context throttles them too)


@task(
    queue_name="heavy",
    takes_context=True,
    max_attempts=3,
    retry_on=(TransientError,),
    timeout=600,
)
def build_report(context: TaskContext, report_id: int) -> dict[str, Any]:
    """Read the upload, summarise it, write the HTML and CSV to S3, enqueue the email.

    A malformed file raises CsvError: not retried, and its message is what the user
    reads on the report's page."""
    report = Report.objects.select_related("upload", "owner").get(pk=report_id)
    summary = _summarise(context, report)
    _save(report, summary)
    services.start(
        report.owner,
        send_report_email.using(dedup_key=f"report-ready:{report.pk}"),
        report.pk,
        label=f"Email: report on {report.upload.filename}",
        subject=report,
    )
    return report.summary or {}


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


def _summarise(context: TaskContext, report: Report) -> Summary:
    with aws_errors_are_transient("read the uploaded file"):
        body, size = storage.open_upload(report.upload.key)
        counter = CountingReader(body)
        columns, rows = read_rows(decode(counter))
        aggregator = Aggregator(columns, report.group_by)
        context.report_progress(0, size, "Reading the file")
        for number, row in enumerate(rows, start=1):
            aggregator.add(row)
            if number % PROGRESS_EVERY == 0:
                context.report_progress(counter.bytes_read, size, f"Read {number:,} rows")
    context.report_progress(size, size, f"Read {aggregator.rows:,} rows; writing the report")
    return aggregator.summary()


def _save(report: Report, summary: Summary) -> None:
    html_key = storage.report_key(report.owner_id, report.token, "report.html")
    csv_key = storage.report_key(report.owner_id, report.token, "report.csv")
    html, csv = render_html(report, summary), render_csv(summary)  # both within limits
    with aws_errors_are_transient("save the report"):
        storage.save_report_file(html_key, html, "text/html; charset=utf-8")
        storage.save_report_file(csv_key, csv, "text/csv; charset=utf-8")
    report.html_key, report.csv_key = html_key, csv_key
    report.summary, report.finished_at = summary.headline(), timezone.now()
    report.save(update_fields=["html_key", "csv_key", "summary", "finished_at"])
