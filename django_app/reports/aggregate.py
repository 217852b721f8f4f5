"""Summaries of a CSV's rows: per column, in total, and per group of chosen columns.

One pass, constant memory per column and per group: a column counts as numeric while
every filled value in it is a number, so types are known only at the end, and each group
keeps a running sum for every column until then. Sums are Decimals, so amounts add up
exactly as a spreadsheet shows them.

Everything here is bounded, because the file is anyone's: a number is one this module can
add and print in a few dozen characters (at most MAX_INTEGER_DIGITS before the point,
rounded to MAX_PLACES after it; `9e999999` is text, not a number with a million digits),
and all arithmetic runs in one local decimal context, whatever the thread's context says.
The grouped table is capped in groups and in cells, so the report written from it is too.

Summaries of several files merge (`merge`) into the summary of all their rows, with the
same caps: what a workflow does when each file is read by a step of its own. Sums, counts,
extremes and groups merge exactly; a column is numeric only if it is in every file; the
distinct values counted stay capped at MAX_DISTINCT, the first file's first.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

from django_app.reports.parsing import CsvError

MAX_GROUP_COLUMNS = 3
MAX_GROUPS = 10_000
# Sums kept for the grouped table: groups x numeric columns (each cell a few dozen bytes
# in the report files, whatever the upload).
MAX_GROUP_CELLS = 200_000
MAX_KEY_CHARS = 200  # a value grouped by: a label, not a document
MAX_DISTINCT = 1_000  # distinct values counted per text column; beyond it "1000+"
TOP_VALUES = 5
# A number, as a spreadsheet keeps one: up to 999 trillion, and a dozen decimal places.
MAX_INTEGER_DIGITS = 15
MAX_PLACES = 12
# Exact for any sum of such numbers below 10^22; beyond, rounded to 34 digits. Emax bounds
# what a sum can reach long after any upload's row count would.
NUMBERS = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emax=40,
    Emin=-40,
    traps=[InvalidOperation, Overflow, DivisionByZero],
)
_PLACES = Decimal(1).scaleb(-MAX_PLACES)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
ZERO = Decimal(0)


def parse_number(text: str) -> Decimal | None:
    """A plain decimal number within bounds, or None (no NaN, infinities, thousands
    separators, or magnitudes past MAX_INTEGER_DIGITS: those are text). Digits past
    MAX_PLACES are rounded off."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        number = NUMBERS.create_decimal(text)
    except Overflow:
        return None
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        return None
    if number.as_tuple().exponent < -MAX_PLACES:  # type: ignore[operator]
        number = number.quantize(_PLACES, context=NUMBERS)
    return number


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
            if self.all_numbers:  # a text column has no numeric stats
                self.all_numbers, self.total, self.minimum, self.maximum = False, ZERO, None, None
            return None
        self.total = NUMBERS.add(self.total, number)
        self.minimum = number if self.minimum is None else min(self.minimum, number)
        self.maximum = number if self.maximum is None else max(self.maximum, number)
        return number

    @property
    def numeric(self) -> bool:
        return self.all_numbers and self.filled > 0

    @property
    def mean(self) -> Decimal | None:
        return NUMBERS.divide(self.total, self.filled) if self.numeric else None

    @property
    def distinct(self) -> str:
        return f"{MAX_DISTINCT}+" if self.more_distinct else str(len(self.counts))

    def top(self) -> list[tuple[str, int]]:
        return self.counts.most_common(TOP_VALUES)

    def merged(self, other: "ColumnStats") -> "ColumnStats":
        """This column's stats over its rows and `other`'s (the same column elsewhere)."""
        counts = Counter(self.counts)
        more_distinct = self.more_distinct or other.more_distinct
        for value, count in other.counts.items():
            if value in counts or len(counts) < MAX_DISTINCT:
                counts[value] += count
            else:
                more_distinct = True
        merged = ColumnStats(
            self.name,
            filled=self.filled + other.filled,
            missing=self.missing + other.missing,
            counts=counts,
            more_distinct=more_distinct,
        )
        if self.all_numbers and other.all_numbers:
            merged.total = NUMBERS.add(self.total, other.total)
            merged.minimum = _extreme(min, self.minimum, other.minimum)
            merged.maximum = _extreme(max, self.maximum, other.maximum)
        else:
            merged.all_numbers = False
        return merged


def _extreme(pick: Any, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return a if b is None else b if a is None else pick(a, b)


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
            self._check_new_group(key)
            group = self._groups[key] = ([0], [ZERO] * len(self.stats))
        group[0][0] += 1
        sums = group[1]
        for index, number in enumerate(numbers):
            if number is not None:
                sums[index] = NUMBERS.add(sums[index], number)

    def _check_new_group(self, key: tuple[str, ...]) -> None:
        """Refuse the group that would make the table too large to report."""
        for name, value in zip(self.group_by, key, strict=True):
            if len(value) > MAX_KEY_CHARS:
                raise CsvError(
                    f"A value in \u201c{name}\u201d is {len(value):,} characters long; values "
                    f"grouped by may have at most {MAX_KEY_CHARS}."
                )
        # Columns still numeric now are at least those that will be at the end.
        numeric = sum(1 for stats in self.stats if stats.all_numbers)
        check_table(self.group_by, len(self._groups) + 1, numeric)

    def summary(self) -> Summary:
        numeric = [(i, stats.name) for i, stats in enumerate(self.stats) if stats.numeric]
        groups = [
            Group(key, count[0], {name: sums[i] for i, name in numeric})
            for key, (count, sums) in sorted(self._groups.items())
        ]
        return Summary(self.rows, self.stats, self.group_by, groups)


def check_table(group_by: list[str], groups: int, numeric: int) -> None:
    """Refuse a grouped table of `groups` groups by `numeric` numeric columns that would be
    too large to report."""
    grouping = ", ".join(group_by)
    if groups > MAX_GROUPS:
        raise CsvError(
            f"Grouping by {grouping} makes more than {MAX_GROUPS:,} "
            "groups. Pick fewer columns, or columns with fewer distinct values."
        )
    if groups * numeric > MAX_GROUP_CELLS:
        raise CsvError(
            f"Grouping by {grouping} makes a table of more than {MAX_GROUP_CELLS:,} sums "
            f"({groups:,} groups of {numeric} numeric columns). Pick fewer "
            "grouping columns, or a file with fewer numeric columns."
        )


def merge(summaries: list[Summary]) -> Summary:
    """One summary of all the rows `summaries` summarise, as if they were one file: the
    columns in the first's order (each summary must have the same columns and grouping),
    the groups in key order, within the same caps as a single file."""
    first, *others = summaries
    names = [column.name for column in first.columns]
    for other in others:
        if sorted(column.name for column in other.columns) != sorted(names):
            raise CsvError("The files do not all have the same columns.")
        if other.group_by != first.group_by:
            raise ValueError("summaries grouped differently cannot be merged")
    columns = {column.name: column for column in first.columns}
    groups = {group.key: group for group in first.groups}
    for other in others:
        for column in other.columns:
            columns[column.name] = columns[column.name].merged(column)
        for group in other.groups:
            mine = groups.get(group.key)
            groups[group.key] = group if mine is None else _merged_group(mine, group)
    merged_columns = [columns[name] for name in names]
    numeric = [column.name for column in merged_columns if column.numeric]
    check_table(first.group_by, len(groups), len(numeric))
    return Summary(
        rows=sum(summary.rows for summary in summaries),
        columns=merged_columns,
        group_by=list(first.group_by),
        groups=[
            Group(key, group.rows, {name: group.sums.get(name, ZERO) for name in numeric})
            for key, group in sorted(groups.items())
        ],
    )


def _merged_group(a: Group, b: Group) -> Group:
    """A group's rows and sums over two files. A sum one file lacks is zero: that file's
    column was empty (a column with any text is not numeric, and is dropped)."""
    names = a.sums.keys() | b.sums.keys()
    return Group(
        a.key,
        a.rows + b.rows,
        {name: NUMBERS.add(a.sums.get(name, ZERO), b.sums.get(name, ZERO)) for name in names},
    )


def plain(number: Decimal | None, places: int | None = None) -> str:
    """A number as people write it: no exponent, no trailing zeros."""
    if number is None:
        return ""
    if places is not None:
        number = round(number, places)
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
