"""A summary as the two files a user gets: an HTML report to read and a CSV to reuse.

The HTML is a standalone page (its styles inline) because it is served from S3, not
from the app. The CSV is the grouped table (one row per group, or one row for all rows
when nothing was grouped), so it opens in a spreadsheet as it is.
"""

import csv
import io
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from django_app.reports.aggregate import Summary, plain
from django_app.reports.models import Report

MEAN_PLACES = 4


def render_csv(summary: Summary) -> str:
    numeric = summary.numeric_columns
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*summary.group_by, "rows", *(f"sum of {name}" for name in numeric)])
    for group in summary.groups:
        writer.writerow([*group.key, group.rows, *(plain(group.sums[name]) for name in numeric)])
    return out.getvalue()


def render_html(report: Report, summary: Summary) -> str:
    return render_to_string("reports/document.html", document_context(report, summary))


def document_context(report: Report, summary: Summary) -> dict[str, Any]:
    numeric = summary.numeric_columns
    return {
        "title": f"Report on {report.upload.filename}",
        "generated_at": timezone.now(),
        "rows": summary.rows,
        "group_by": summary.group_by,
        "numeric": numeric,
        "totals": [(name, plain(total)) for name, total in summary.totals.items()],
        "columns": [
            {
                "name": column.name,
                "kind": "number" if column.numeric else "text",
                "filled": column.filled,
                "missing": column.missing,
                "sum": plain(column.total) if column.numeric else "",
                "minimum": plain(column.minimum),
                "maximum": plain(column.maximum),
                "mean": plain(column.mean, MEAN_PLACES),
                "distinct": column.distinct,
                "top": [] if column.numeric else column.top(),
            }
            for column in summary.columns
        ],
        "groups": [
            {
                "key": group.key,
                "rows": group.rows,
                "sums": [plain(group.sums[name]) for name in numeric],
            }
            for group in summary.groups
        ],
    }
