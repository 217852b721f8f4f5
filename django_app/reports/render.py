"""A summary as the two files a user gets: an HTML report to read and a CSV to reuse.

The HTML is a standalone page (its styles inline) because it is served from S3, not
from the app. The CSV is the grouped table (one row per group, or one row for all rows
when nothing was grouped), so it opens in a spreadsheet as it is.

The CSV's text comes from the upload, so a cell that a spreadsheet would run as a formula
(`=HYPERLINK(...)`, `@SUM(...)`, `+cmd|...`) is written with a leading apostrophe, as
OWASP advises against CSV injection; the numbers this module writes are left as they are.
Both files are bounded by the summary's own limits, and refused past MAX_REPORT_BYTES.
"""

import csv
import io
import re
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import Truncator

from django_app.reports.aggregate import Summary, plain
from django_app.reports.models import Report
from django_app.reports.parsing import CsvError

MEAN_PLACES = 4
MAX_REPORT_BYTES = 20 * 1024 * 1024  # each of the two files
TOP_VALUE_CHARS = 100  # a most-common value, as the HTML shows it
# What spreadsheets start a formula with (OWASP, CSV injection), and a number, which is
# safe to leave as it is: "-5" is minus five, never a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class ReportTooLarge(CsvError):
    """The report would be too large to store and open."""


def spreadsheet_safe(cell: str) -> str:
    """A text cell that no spreadsheet will evaluate."""
    if cell.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def render_csv(summary: Summary) -> bytes:
    numeric = summary.numeric_columns
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            *map(spreadsheet_safe, summary.group_by),
            "rows",
            *(f"sum of {name}" for name in numeric),
        ]
    )
    for group in summary.groups:
        writer.writerow(
            [
                *map(spreadsheet_safe, group.key),
                group.rows,
                *(plain(group.sums[name]) for name in numeric),
            ]
        )
    return _bounded(out.getvalue(), "CSV")


def render_html(report: Report, summary: Summary) -> bytes:
    html = render_to_string("reports/document.html", document_context(report, summary))
    return _bounded(html, "HTML")


def _bounded(text: str, kind: str) -> bytes:
    body = text.encode()
    if len(body) > MAX_REPORT_BYTES:
        raise ReportTooLarge(
            f"The {kind} report would be {len(body) / 2**20:.0f} MB, over the limit of "
            f"{MAX_REPORT_BYTES / 2**20:.0f} MB. Group by fewer columns."
        )
    return body


def document_context(report: Report, summary: Summary) -> dict[str, Any]:
    numeric = summary.numeric_columns
    return {
        "title": str(report),
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
                "top": []
                if column.numeric
                else [
                    (Truncator(value).chars(TOP_VALUE_CHARS), count)
                    for value, count in column.top()
                ],
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
