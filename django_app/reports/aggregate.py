"""Summaries of a CSV's rows: per column, in total, and per group of chosen columns.

One pass, constant memory per column and per group: a column counts as numeric while
every filled value in it is a number, so types are known only at the end, and each group
keeps a running sum for every column until then. Sums are Decimals, so amounts add up
exactly as a spreadsheet shows them.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django_app.reports.parsing import CsvError

MAX_GROUP_COLUMNS = 3
MAX_GROUPS = 10_000
MAX_DISTINCT = 1_000  # distinct values counted per text column; beyond it "1000+"
TOP_VALUES = 5
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
ZERO = Decimal(0)


def parse_number(text: str) -> Decimal | None:
    """A plain decimal number, or None (no NaN, infinities, or thousands separators)."""
    text = text.strip()
    return Decimal(text) if _NUMBER.fullmatch(text) else None


@dataclass(slots=True)
class ColumnStats:
    name: str
    filled: int = 0
    missing: int = 0
    all_numbers: bool = True
    total: Decimal = ZERO
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    counts: Counter[str] = field(default_factory=Counter)
    more_distinct: bool = False

    def add(self, text: str) -> Decimal | None:
        """Count one value; return it as a number when it is one."""
        value = text.strip()
        if not value:
            self.missing += 1
            return None
        self.filled += 1
        if value in self.counts or len(self.counts) < MAX_DISTINCT:
            self.counts[value] += 1
        else:
            self.more_distinct = True
        number = parse_number(value) if self.all_numbers else None
        if number is None:
            self.all_numbers = False
            return None
        self.total += number
        self.minimum = number if self.minimum is None else min(self.minimum, number)
        self.maximum = number if self.maximum is None else max(self.maximum, number)
        return number

    @property
    def numeric(self) -> bool:
        return self.all_numbers and self.filled > 0

    @property
    def mean(self) -> Decimal | None:
        return self.total / self.filled if self.numeric else None

    @property
    def distinct(self) -> str:
        return f"{MAX_DISTINCT}+" if self.more_distinct else str(len(self.counts))

    def top(self) -> list[tuple[str, int]]:
        return self.counts.most_common(TOP_VALUES)


@dataclass(slots=True)
class Group:
    key: tuple[str, ...]
    rows: int
    sums: dict[str, Decimal]


@dataclass(slots=True)
class Summary:
    rows: int
    columns: list[ColumnStats]
    group_by: list[str]
    groups: list[Group]

    @property
    def numeric_columns(self) -> list[str]:
        return [column.name for column in self.columns if column.numeric]

    @property
    def totals(self) -> dict[str, Decimal]:
        return {column.name: column.total for column in self.columns if column.numeric}

    def headline(self) -> dict[str, Any]:
        """The few numbers the report's page shows, small enough for a database row."""
        return {
            "rows": self.rows,
            "columns": len(self.columns),
            "groups": len(self.groups),
            "group_by": self.group_by,
            "totals": {name: plain(total) for name, total in self.totals.items()},
        }


class Aggregator:
    def __init__(self, columns: list[str], group_by: list[str]) -> None:
        missing = [name for name in group_by if name not in columns]
        if missing:
            raise CsvError(f"The file has no column \u201c{missing[0]}\u201d to group by.")
        self.stats = [ColumnStats(name) for name in columns]
        self.group_by = list(group_by)
        self._key_at = [columns.index(name) for name in group_by]
        self._groups: dict[tuple[str, ...], tuple[list[int], list[Decimal]]] = {}
        self.rows = 0

    def add(self, row: list[str]) -> None:
        self.rows += 1
        numbers = [stats.add(value) for stats, value in zip(self.stats, row, strict=True)]
        key = tuple(row[index].strip() for index in self._key_at)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= MAX_GROUPS:
                raise CsvError(
                    f"Grouping by {', '.join(self.group_by)} makes more than {MAX_GROUPS:,} "
                    "groups. Pick fewer columns, or columns with fewer distinct values."
                )
            group = self._groups[key] = ([0], [ZERO] * len(self.stats))
        group[0][0] += 1
        sums = group[1]
        for index, number in enumerate(numbers):
            if number is not None:
                sums[index] += number

    def summary(self) -> Summary:
        numeric = [(i, stats.name) for i, stats in enumerate(self.stats) if stats.numeric]
        groups = [
            Group(key, count[0], {name: sums[i] for i, name in numeric})
            for key, (count, sums) in sorted(self._groups.items())
        ]
        return Summary(self.rows, self.stats, self.group_by, groups)


def plain(number: Decimal | None, places: int | None = None) -> str:
    """A number as people write it: no exponent, no trailing zeros."""
    if number is None:
        return ""
    if places is not None:
        number = round(number, places)
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
