"""A summary as JSON: how one step of a report's workflow hands its summary to the next.

A report over several files is built by a workflow (reports/workflows.py): one step per
file summarises it, a step merges the summaries, a step renders the report. A summary can
be megabytes (thousands of groups, a thousand distinct values per column), so the steps
pass S3 keys, never summaries; the summaries themselves travel in S3 as this JSON.
Numbers are Decimal strings, so they come back exactly as they went.
"""

import json
from collections import Counter
from decimal import Decimal
from typing import Any

from django_app.reports.aggregate import ColumnStats, Group, Summary

VERSION = 1
CONTENT_TYPE = "application/json"


def dumps(summary: Summary) -> bytes:
    return json.dumps(
        {
            "version": VERSION,
            "rows": summary.rows,
            "group_by": summary.group_by,
            "columns": [_column(column) for column in summary.columns],
            "groups": [
                [list(group.key), group.rows, {n: str(s) for n, s in group.sums.items()}]
                for group in summary.groups
            ],
        },
        separators=(",", ":"),
    ).encode()


def loads(body: bytes) -> Summary:
    data = json.loads(body)
    if data.get("version") != VERSION:
        raise ValueError(f"a summary of version {data.get('version')!r}; this code reads {VERSION}")
    return Summary(
        rows=data["rows"],
        columns=[
            ColumnStats(
                name=column["name"],
                filled=column["filled"],
                missing=column["missing"],
                all_numbers=column["all_numbers"],
                total=Decimal(column["total"]),
                minimum=_decimal(column["minimum"]),
                maximum=_decimal(column["maximum"]),
                counts=Counter(dict(column["counts"])),
                more_distinct=column["more_distinct"],
            )
            for column in data["columns"]
        ],
        group_by=data["group_by"],
        groups=[
            Group(tuple(key), rows, {name: Decimal(total) for name, total in sums.items()})
            for key, rows, sums in data["groups"]
        ],
    )


def _column(column: ColumnStats) -> dict[str, Any]:
    return {
        "name": column.name,
        "filled": column.filled,
        "missing": column.missing,
        "all_numbers": column.all_numbers,
        "total": str(column.total),
        "minimum": None if column.minimum is None else str(column.minimum),
        "maximum": None if column.maximum is None else str(column.maximum),
        "counts": list(column.counts.items()),  # in first-seen order, which ties keep
        "more_distinct": column.more_distinct,
    }


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
