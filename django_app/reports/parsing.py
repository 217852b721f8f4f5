"""Reading an uploaded CSV: decoding, the header, and rows that fit it.

Whatever is wrong with a file becomes a CsvError that says what and where (line
numbers as a text editor counts them): the user can fix the file, and a traceback would
tell them nothing. Rows are streamed, so a file larger than memory can still be read.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import BinaryIO, TextIO

from django_app.jobs.errors import UserFacingError
from sqs_tasks.exceptions import ExpectedFailure

MAX_COLUMNS = 200
MAX_NAME_CHARS = 200  # a column's name: reports repeat it in headings and the CSV header
PREVIEW_ROWS = 5
NOT_UTF8 = "The file is not UTF-8 text. Save it as \u201cCSV UTF-8\u201d and upload it again."


class CsvError(UserFacingError, ExpectedFailure):
    """The file cannot be read as the CSV a report needs. Expected: the user's file will
    fail the same way every time, so the task fails at once, with no dead letter."""


@dataclass(frozen=True, slots=True)
class Preview:
    columns: list[str]
    rows: list[list[str]]


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read through it: progress for a file whose
    size is known but whose row count is not."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def decode(stream: BinaryIO) -> TextIO:
    """UTF-8 text (a spreadsheet's byte-order mark dropped), newlines left to csv."""
    return io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8-sig", newline="")


def check_header(names: list[str]) -> list[str]:
    columns = [name.strip() for name in names]
    if not any(columns):
        raise CsvError("The first line of the file should name the columns, but it is empty.")
    if len(columns) > MAX_COLUMNS:
        raise CsvError(f"The file has {len(columns)} columns; at most {MAX_COLUMNS} are allowed.")
    for number, name in enumerate(columns, start=1):
        if not name:
            raise CsvError(f"Column {number} has no name in the header line.")
        if len(name) > MAX_NAME_CHARS:
            raise CsvError(
                f"Column {number}'s name is {len(name):,} characters long; "
                f"at most {MAX_NAME_CHARS} are allowed."
            )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise CsvError(f"The header names the column \u201c{name}\u201d twice.")
        seen.add(name)
    return columns


def read_rows(text: Iterable[str]) -> tuple[list[str], Iterator[list[str]]]:
    """The header's column names, and the data rows, each checked against the header.
    The rows iterator raises CsvError at the first bad line, or if there are no rows."""
    reader = csv.reader(text)
    header = _next_row(reader)
    if header is None:
        raise CsvError("The file is empty.")
    columns = check_header(header)
    return columns, _checked_rows(reader, len(columns))


def preview(head: bytes, *, complete: bool) -> Preview:
    """The header and first rows from the start of a file. Unless `complete` (the bytes
    are the whole file), the last line may be cut short, so it is left out."""
    if not complete:
        end = head.rfind(b"\n")
        if end < 0:
            raise CsvError("The first line is too long for a header. Is this a CSV file?")
        head = head[: end + 1]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvError(NOT_UTF8) from None
    columns, rows = read_rows(io.StringIO(text, newline=""))
    sample: list[list[str]] = []
    try:
        sample.extend(islice(rows, PREVIEW_ROWS))
    except CsvError:
        if complete or not sample:
            raise
    return Preview(columns, sample)


def _next_row(reader: "csv._reader") -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        raise CsvError(f"Line {reader.line_num}: {error}.") from None
    except UnicodeDecodeError:
        raise CsvError(NOT_UTF8) from None


def _checked_rows(reader: "csv._reader", width: int) -> Iterator[list[str]]:
    count = 0
    while (row := _next_row(reader)) is not None:
        if not row:
            continue  # a blank line
        if len(row) != width:
            raise CsvError(
                f"Line {reader.line_num} has {len(row)} values, but the header has {width} columns."
            )
        count += 1
        yield row
    if count == 0:
        raise CsvError("The file has a header line but no rows of data.")
