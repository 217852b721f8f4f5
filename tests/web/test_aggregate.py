"""Summaries: per column, totals, groupings, and the limits that keep them bounded."""

from decimal import Decimal

import pytest

from django_app.reports import aggregate
from django_app.reports.aggregate import Aggregator, plain
from django_app.reports.parsing import CsvError

COLUMNS = ["region", "product", "units", "amount"]
ROWS = [
    ["north", "apples", "3", "4.50"],
    ["south", "apples", "1", "1.50"],
    ["north", "pears", "2", "3.00"],
    ["east", "pears", "", "2.25"],
    ["north", "apples", "5", "7.50"],
]


def summarise(group_by=(), rows=ROWS, columns=COLUMNS):
    aggregator = Aggregator(columns, list(group_by))
    for row in rows:
        aggregator.add(row)
    return aggregator.summary()


def test_column_summaries_and_totals():
    summary = summarise()
    region, product, units, _amount = summary.columns
    assert summary.rows == 5
    assert summary.numeric_columns == ["units", "amount"]
    assert summary.totals == {"units": Decimal(11), "amount": Decimal("18.75")}
    assert (units.filled, units.missing, units.minimum, units.maximum) == (4, 1, 1, 5)
    assert units.mean == Decimal("2.75")
    assert not region.numeric and region.distinct == "3"
    assert region.top() == [("north", 3), ("south", 1), ("east", 1)]
    assert product.top()[0] == ("apples", 3)


def test_no_grouping_is_one_group_of_all_rows():
    (group,) = summarise().groups
    assert group.key == () and group.rows == 5
    assert group.sums == {"units": Decimal(11), "amount": Decimal("18.75")}


def test_grouping_by_one_and_by_two_columns():
    by_region = {g.key: (g.rows, g.sums["amount"]) for g in summarise(["region"]).groups}
    assert by_region == {
        ("east",): (1, Decimal("2.25")),
        ("north",): (3, Decimal("15.00")),
        ("south",): (1, Decimal("1.50")),
    }
    by_both = {g.key: g.rows for g in summarise(["region", "product"]).groups}
    assert by_both == {
        ("east", "pears"): 1,
        ("north", "apples"): 2,
        ("north", "pears"): 1,
        ("south", "apples"): 1,
    }


def test_a_column_with_one_word_among_numbers_is_text():
    summary = summarise(rows=[*ROWS, ["west", "figs", "many", "1"]])
    assert summary.numeric_columns == ["amount"]
    assert all("units" not in g.sums for g in summary.groups)


def test_headline_is_small_and_json_ready():
    headline = summarise(["region"]).headline()
    assert headline == {
        "rows": 5,
        "columns": 4,
        "groups": 3,
        "group_by": ["region"],
        "totals": {"units": "11", "amount": "18.75"},
    }


def test_grouping_by_a_column_the_file_lacks():
    with pytest.raises(CsvError, match="no column \u201ccolour\u201d"):
        Aggregator(COLUMNS, ["colour"])


def test_too_many_groups_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(aggregate, "MAX_GROUPS", 2)
    with pytest.raises(CsvError, match="more than 2 groups"):
        summarise(["region"])


def test_distinct_values_are_counted_up_to_a_cap(monkeypatch):
    monkeypatch.setattr(aggregate, "MAX_DISTINCT", 2)
    assert summarise().columns[0].distinct == "2+"


@pytest.mark.parametrize(
    ("number", "places", "text"),
    [
        (Decimal("1E+3"), None, "1000"),
        (Decimal("2.500"), None, "2.5"),
        (Decimal("10"), None, "10"),
        (Decimal(2) / Decimal(3), 4, "0.6667"),
        (None, None, ""),
    ],
)
def test_plain_numbers(number, places, text):
    assert plain(number, places) == text
