"""Summaries: per column, totals, groupings, and the limits that keep them bounded."""

from decimal import Decimal

import pytest

from django_app.reports import aggregate, partials
from django_app.reports.aggregate import Aggregator, merge, plain
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


# -- several files: their summaries merged, as if they were one file ----------------------


def split(rows, *sizes):
    parts, start = [], 0
    for size in sizes:
        parts.append(rows[start : start + size])
        start += size
    return parts


@pytest.mark.parametrize("group_by", [(), ["region"], ["region", "product"]])
@pytest.mark.parametrize("sizes", [(5,), (1, 4), (2, 2, 1), (1, 1, 1, 1, 1)])
def test_merged_summaries_are_the_summary_of_all_the_rows(group_by, sizes):
    whole = summarise(group_by)
    merged = merge([summarise(group_by, rows=part) for part in split(ROWS, *sizes)])
    assert merged == whole  # every column's stats, every group's sums, in the same order


def test_a_column_that_is_text_in_one_file_is_text_in_all():
    words = [["west", "figs", "many", "1"]]
    merged = merge([summarise(["region"]), summarise(["region"], rows=words)])
    assert merged == summarise(["region"], rows=[*ROWS, *words])
    assert merged.numeric_columns == ["amount"]
    assert all("units" not in g.sums for g in merged.groups)


def test_a_column_empty_in_one_file_adds_nothing_there():
    empty = [["west", "figs", "", "1"]]  # units: no value at all, so not numeric here
    part = summarise(["region"], rows=empty)
    assert part.numeric_columns == ["amount"]
    merged = merge([summarise(["region"]), part])
    assert merged == summarise(["region"], rows=[*ROWS, *empty])
    assert merged.numeric_columns == ["units", "amount"]
    assert {g.key: g.sums["units"] for g in merged.groups}[("west",)] == 0


def test_merged_columns_follow_the_first_files_order():
    reordered = [[row[3], row[2], row[1], row[0]] for row in ROWS[3:]]
    other = summarise(["region"], rows=reordered, columns=list(reversed(COLUMNS)))
    merged = merge([summarise(["region"], rows=ROWS[:3]), other])
    assert merged == summarise(["region"])


def test_files_with_other_columns_do_not_merge():
    other = summarise(rows=[["north", "1"]], columns=["region", "units"])
    with pytest.raises(CsvError, match="do not all have the same columns"):
        merge([summarise(), other])


def test_merging_keeps_the_caps_of_one_file(monkeypatch):
    monkeypatch.setattr(aggregate, "MAX_GROUPS", 2)
    parts = [summarise(["region"], rows=[row]) for row in ROWS[:2] + ROWS[3:4]]  # 3 regions
    with pytest.raises(CsvError, match="more than 2 groups"):
        merge(parts)
    monkeypatch.setattr(aggregate, "MAX_GROUPS", 10)
    monkeypatch.setattr(aggregate, "MAX_GROUP_CELLS", 5)  # 3 groups of 2 numeric columns
    with pytest.raises(CsvError, match=r"more than 5 sums \(3 groups of 2 numeric columns\)"):
        merge(parts)


def test_distinct_values_merged_stay_capped(monkeypatch):
    monkeypatch.setattr(aggregate, "MAX_DISTINCT", 2)
    merged = merge([summarise(rows=ROWS[:1]), summarise(rows=ROWS[1:])])
    region = merged.columns[0]
    assert region.distinct == "2+" and region.counts == {"north": 3, "south": 1}


def test_a_summary_as_json_comes_back_exactly():
    summary = summarise(["region", "product"], rows=[*ROWS, ["west", "figs", "1e3", "0.1"]])
    assert partials.loads(partials.dumps(summary)) == summary
    with pytest.raises(ValueError, match="version 99"):
        partials.loads(b'{"version": 99}')
