"""Reading CSVs: what passes, and the words a user reads when a file does not."""

import io
from decimal import Decimal

import pytest

from django_app.reports.aggregate import parse_number
from django_app.reports.parsing import CountingReader, CsvError, decode, preview, read_rows


def rows_of(text):
    columns, rows = read_rows(io.StringIO(text, newline=""))
    return columns, list(rows)


def error_of(text):
    with pytest.raises(CsvError) as raised:
        rows_of(text)
    return str(raised.value)


def test_header_and_rows_with_quotes_blank_lines_and_crlf():
    columns, rows = rows_of('name, note \r\n"Smith, J","said ""hi"""\r\n\r\nLee,\r\n')
    assert columns == ["name", "note"]
    assert rows == [["Smith, J", 'said "hi"'], ["Lee", ""]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("\n", "The first line of the file should name the columns, but it is empty."),
        ("a,b\n", "The file has a header line but no rows of data."),
        ("a,,c\n1,2,3\n", "Column 2 has no name in the header line."),
        ("a,b,a\n1,2,3\n", "The header names the column \u201ca\u201d twice."),
        ("a,b\n1,2\n3\n", "Line 3 has 1 values, but the header has 2 columns."),
        ("a,b\n1,2\n1,2,3\n", "Line 3 has 3 values, but the header has 2 columns."),
    ],
)
def test_malformed_files_say_what_and_where(text, message):
    assert error_of(text) == message


def test_too_many_columns():
    assert "at most 200" in error_of(",".join(f"c{i}" for i in range(201)) + "\n")


def test_bytes_that_are_not_utf8_are_named_as_such():
    stream = decode(io.BytesIO("a,b\n1,caf\u00e9\n".encode("latin-1")))
    with pytest.raises(CsvError, match="not UTF-8"):
        _columns, rows = read_rows(stream)
        list(rows)


def test_decode_drops_a_byte_order_mark_and_counts_bytes():
    data = "\ufeffa,b\n1,2\n".encode()
    counter = CountingReader(io.BytesIO(data))
    columns, rows = read_rows(decode(counter))
    assert columns == ["a", "b"] and list(rows) == [["1", "2"]]
    assert counter.bytes_read == len(data)


def test_preview_of_a_whole_file_and_of_a_cut_one():
    whole = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(10))
    assert preview(whole, complete=True).rows == [[str(i), "x"] for i in range(5)]
    cut = whole[:-3]  # the last line is cut short
    assert preview(cut, complete=False).columns == ["a", "b"]
    with pytest.raises(CsvError, match="too long for a header"):
        preview(b"a" * 100, complete=False)
    with pytest.raises(CsvError, match="not UTF-8"):
        preview(b"a,b\n\xff\xfe,1\n", complete=True)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12", Decimal(12)),
        (" -3.50 ", Decimal("-3.50")),
        ("+.5", Decimal("0.5")),
        ("1e3", Decimal(1000)),
        ("NaN", None),
        ("Infinity", None),
        ("1,000", None),
        ("1_000", None),
        ("12abc", None),
        ("", None),
    ],
)
def test_numbers_are_plain_decimals(text, number):
    assert parse_number(text) == number
