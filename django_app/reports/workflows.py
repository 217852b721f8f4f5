"""A report over several files, as a workflow (sqs_tasks.workflows, contract 8):

    chain(
        group([summarise_file.step(report, file) for file in files]),  # in parallel
        merge_summaries.step(report),   # receives the list of the files' summary keys
        render_report.step(report),     # receives the merged summary's key
        send_report_email.step(),       # receives the report's id
    )

A group rather than a map: the files are known when the report is made, so every step is
known (and the first ones sent in one batch) from the start, and the page's one progress
bar, steps finished over steps known, never moves back. Steps pass ids and S3 keys only.

Each step's id is fixed by the workflow's id and its place in it, and each step's writes
by the report and the file (reports/tasks.py), so a step delivered twice, or run again
after a crash, writes nothing twice. The heavy steps are the owner's message group on the
heavy queue (a fair queue), as a single file's report is.
"""

from datetime import timedelta
from typing import TYPE_CHECKING

from django_app.jobs import in_flight, services
from django_app.reports.models import Report
from django_app.reports.tasks import (
    merge_summaries,
    render_report,
    send_report_email,
    summarise_file,
)
from sqs_tasks.workflows import chain, group

if TYPE_CHECKING:
    from sqs_tasks.workflows import WorkflowResult


@services.workflow
def build_combined_report(report_id: int) -> "WorkflowResult":
    """Enqueue the workflow that builds the report over its files, and record its id on
    the report. Call it in the transaction that writes the report (jobs.services.start
    does): the workflow then rides the outbox, and is sent only if that commits."""
    report = Report.objects.get(pk=report_id)
    fair = {"message_group": f"user-{report.owner_id}"}
    workflow = chain(
        group(
            [summarise_file.using(**fair).step(report.pk, upload.pk) for upload in report.sources]
        ),
        merge_summaries.using(**fair).step(report.pk),
        render_report.using(**fair).step(report.pk),
        send_report_email.step(),
    ).enqueue()
    Report.objects.filter(pk=report.pk).update(workflow_id=workflow.id)
    return workflow


# A combined report is a report being built, under the same limit as one over one file.
# Its steps run one after another, each with the retries a single build has.
in_flight.limit(
    build_combined_report, "REPORTS_MAX_IN_FLIGHT", timedelta(hours=2), "reports being built"
)
