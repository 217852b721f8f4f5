"""Issue 15 (high): a small upload cannot make a huge report, and no cell is a formula.

The attack: `9e999999` parsed as a Decimal and printed with every digit, so 80 groups in
a 1,324-byte file wrote an 82 MB HTML file and an 80 MB CSV. Numbers are now bounded in
magnitude and digits, the grouped table in groups and cells, and each file in bytes.
"""

import csv
import io
from decimal import Decimal, localcontext

import pytest

from django_app.reports import aggregate, render
from django_app.reports.aggregate import MAX_INTEGER_DIGITS, Aggregator, parse_number, plain
from django_app.reports.parsing import CsvError, check_header
from django_app.reports.render import render_csv, spreadsheet_safe
from tests.web.helpers import build, s3_text

# What the review uploaded, in spirit: 80 groups of the largest exponent Decimal accepts.
HUGE_EXPONENTS = "g,n\n" + "".join(f"{i},9e999999\n" for i in range(80))


def summarise(columns, rows, group_by=()):
    aggregator = Aggregator(columns, list(group_by))
    for row in rows:
        aggregator.add(row)
    return aggregator.summary()


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12.50", Decimal("12.50")),
        ("-3", Decimal(-3)),
        ("1.5E+3", Decimal(1500)),
        ("999999999999999", Decimal("999999999999999")),  # 15 digits: the largest kept
        ("0.30000000000000004", Decimal("0.300000000000")),  # rounded to MAX_PLACES
        ("1e-999999", Decimal(0)),
    ],
)
def test_numbers_within_bounds_are_numbers(text, number):
    assert parse_number(text) == number


@pytest.mark.parametrize(
    "text", ["9e999999", "1e15", "1" * 16, "1" * 100_000, "-9e99999999999999999999", "NaN"]
)
def test_numbers_past_the_bounds_are_text(text):
    assert parse_number(text) is None


def test_every_number_prints_in_a_few_dozen_characters():
    biggest = Decimal("9" * MAX_INTEGER_DIGITS + "." + "9" * aggregate.MAX_PLACES)
    rows = [["-" + str(biggest)], [str(biggest)], ["0.000000000001"]] * 1000
    (column,) = summarise(["n"], rows).columns
    texts = [plain(column.total), plain(column.minimum), plain(column.maximum)]
    assert all(len(text) <= 45 for text in texts), texts


def test_arithmetic_ignores_the_threads_decimal_context():
    with localcontext() as context:
        context.prec = 3  # what some other code in the worker may have left behind
        (column,) = summarise(["n"], [["1234.5678"], ["1"]]).columns
    assert column.total == Decimal("1235.5678")


def test_a_huge_exponent_makes_a_text_column_and_a_small_report():
    summary = summarise(["g", "n"], list(csv.reader(io.StringIO(HUGE_EXPONENTS)))[1:], ["g"])
    assert summary.numeric_columns == ["g"]  # the group numbers; "n" is text
    assert len(render_csv(summary)) < 1_000


def test_grouping_by_a_long_value_is_refused():
    long = "x" * (aggregate.MAX_KEY_CHARS + 1)
    with pytest.raises(CsvError, match="at most 200"):
        summarise(["g", "n"], [["a", "1"], [long, "2"]], ["g"])


def test_a_grouped_table_with_too_many_sums_is_refused(monkeypatch):
    monkeypatch.setattr(aggregate, "MAX_GROUP_CELLS", 5)
    rows = [[f"g{i}", "1", "2", "3"] for i in range(2)]
    with pytest.raises(CsvError, match="more than 5 sums"):
        summarise(["g", "a", "b", "c"], rows, ["g"])
    # Text columns do not count: the same groups with one numeric column fit.
    assert len(summarise(["g", "a"], [[f"g{i}", "1"] for i in range(5)], ["g"]).groups) == 5


def test_a_long_column_name_is_refused():
    with pytest.raises(CsvError, match="at most 200"):
        check_header(["ok", "n" * 201])


def test_a_report_over_the_byte_limit_is_refused(monkeypatch):
    monkeypatch.setattr(render, "MAX_REPORT_BYTES", 100)
    summary = summarise(["g", "n"], [[f"group-{i}", "1"] for i in range(20)], ["g"])
    with pytest.raises(render.ReportTooLarge, match="over the limit"):
        render_csv(summary)


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5", "-5"),  # a number, not a formula
        ("+1.25", "+1.25"),
        ("north", "north"),
    ],
)
def test_formula_cells_are_neutralised(cell, written):
    assert spreadsheet_safe(cell) == written


def test_the_csv_report_neutralises_formulas_in_keys_and_header():
    summary = summarise(["=cmd", "n"], [["=1+1", "-4"], ["@x", "2"]], ["=cmd"])
    rows = list(csv.reader(io.StringIO(render_csv(summary).decode())))
    assert rows == [["'=cmd", "rows", "sum of n"], ["'=1+1", "1", "-4"], ["'@x", "1", "2"]]


@pytest.mark.usefixtures("web_aws")
def test_the_reviewers_upload_now_makes_a_small_report(alice_client, alice):
    assert len(HUGE_EXPONENTS) < 1_400
    report = build(alice_client, alice, text=HUGE_EXPONENTS, group_by=["g"])
    assert report.is_ready
    assert len(s3_text(report.csv_key)) < 2_000
    assert len(s3_text(report.html_key)) < 40_000
