"""EventBridge cron and rate expressions: what is accepted, what is refused, and when they
run. Semantics follow EventBridge's documentation (six fields, `?` in one day field,
1 = Sunday) and Scheduler's daylight-saving rules (skipped times do not run, repeated
times run once)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sqs_tasks.periodic import InvalidScheduleExpression, parse_schedule
from sqs_tasks.periodic.expressions import normalized

# 2026-11-23 is a Monday.
MONDAY_EVENING = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


def runs(expression, after=MONDAY_EVENING, zone="UTC", count=3):
    schedule = parse_schedule(expression)
    found, moment = [], after
    while len(found) < count and (moment := schedule.next_after(moment, ZoneInfo(zone))):
        found.append(moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
    return found


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 3 * * ? *)", ["2026-11-24 03:00", "2026-11-25 03:00", "2026-11-26 03:00"]),
        ("cron(0/20 21 * * ? *)", ["2026-11-23 21:00", "2026-11-23 21:20", "2026-11-23 21:40"]),
        ("cron(5,35 * * * ? *)", ["2026-11-23 20:05", "2026-11-23 20:35", "2026-11-23 21:05"]),
        ("cron(0 9 ? * MON-FRI *)", ["2026-11-24 09:00", "2026-11-25 09:00", "2026-11-26 09:00"]),
        ("cron(0 9 ? * 2,6 *)", ["2026-11-27 09:00", "2026-11-30 09:00", "2026-12-04 09:00"]),
        ("cron(0 0 L * ? *)", ["2026-11-30 00:00", "2026-12-31 00:00", "2027-01-31 00:00"]),
        ("cron(0 0 L FEB ? 2028)", ["2028-02-29 00:00"]),
        ("cron(0 0 31 * ? *)", ["2026-12-31 00:00", "2027-01-31 00:00", "2027-03-31 00:00"]),
        # 15W: nearest weekday; 2027-05-15 is a Saturday (-> Fri 14), 2027-08-15 a Sunday.
        ("cron(0 8 15W 5,8 ? 2027)", ["2027-05-14 08:00", "2027-08-16 08:00"]),
        # 1W never leaves the month: 2027-05-01 is a Saturday -> Monday the 3rd.
        ("cron(0 8 1W 5 ? 2027)", ["2027-05-03 08:00"]),
        ("cron(0 10 ? * 6L *)", ["2026-11-27 10:00", "2026-12-25 10:00", "2027-01-29 10:00"]),
        ("cron(0 10 ? * L *)", ["2026-11-28 10:00", "2026-12-05 10:00", "2026-12-12 10:00"]),
        ("cron(30 2 ? * 3#2 *)", ["2026-12-08 02:30", "2027-01-12 02:30", "2027-02-09 02:30"]),
        ("cron(0 0 ? * 2#5 *)", ["2026-11-30 00:00", "2027-03-29 00:00", "2027-05-31 00:00"]),
        (
            "cron(0 12 1 JAN-MAR/2 ? *)",
            ["2027-01-01 12:00", "2027-03-01 12:00", "2028-01-01 12:00"],
        ),
        ("cron(0 0 1 1 ? 2020)", []),  # its only year is past
        ("rate(5 minutes)", []),  # anchored at the schedule's creation: unknown from code
    ],
)
def test_next_runs(expression, expected):
    assert runs(expression) == expected


def test_runs_in_the_schedules_time_zone():
    assert runs("cron(0 3 * * ? *)", zone="Europe/Paris", count=1) == ["2026-11-24 02:00"]
    assert runs("cron(0 3 * * ? *)", zone="America/New_York", count=1) == ["2026-11-24 08:00"]


def test_a_time_the_clocks_skip_does_not_run():
    """Paris springs from 02:00 to 03:00 on 2027-03-28: a 02:30 schedule skips that day."""
    after = datetime(2027, 3, 27, 12, tzinfo=UTC)
    assert runs("cron(30 2 * * ? *)", after=after, zone="Europe/Paris") == [
        "2027-03-29 00:30",
        "2027-03-30 00:30",
        "2027-03-31 00:30",
    ]


def test_a_time_the_clocks_repeat_runs_once():
    """Paris falls back from 03:00 to 02:00 on 2026-10-25: 02:30 comes twice, runs once."""
    after = datetime(2026, 10, 24, 12, tzinfo=UTC)
    assert runs("cron(30 2 * * ? *)", after=after, zone="Europe/Paris") == [
        "2026-10-25 00:30",
        "2026-10-26 01:30",
        "2026-10-27 01:30",
    ]
    # Asked during the second 02:30-03:00 pass, the first pass is already behind.
    during_repeat = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10, second time
    assert runs("cron(30 2 * * ? *)", after=during_repeat, zone="Europe/Paris", count=1) == [
        "2026-10-26 01:30"
    ]


def test_next_run_is_strictly_after():
    assert runs("cron(0 3 * * ? *)", after=datetime(2026, 11, 24, 3, tzinfo=UTC), count=1) == [
        "2026-11-25 03:00"
    ]


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 3 1 * MON *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 3 * * ?)", "cron needs six fields"),
        ("cron(0 0 3 * * ? *)", "cron needs six fields"),
        ("cron(60 3 * * ? *)", "minutes: 60 is out of range 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24 is out of range 0-23"),
        ("cron(0 3 32 * ? *)", "day-of-month: 32 is out of range 1-31"),
        ("cron(0 3 0 * ? *)", "day-of-month: 0 is out of range 1-31"),
        ("cron(0 3 * 13 ? *)", "month: 13 is out of range 1-12"),
        ("cron(0 3 ? * 0 *)", "day-of-week: 0 is out of range 1-7 (use 1-7 or SUN-SAT)"),
        ("cron(0 3 ? * 8 *)", "day-of-week: 8 is out of range 1-7"),
        ("cron(0 3 * * ? 1969)", "year: 1969 is out of range 1970-2199"),
        ("cron(0 3 * JAM ? *)", "month: 'JAM' is not a number (use 1-12 or JAN-DEC)"),
        ("cron(0 3 ? * MON/2 *)", "day-of-week: '/' is not allowed here"),
        ("cron(0/0 3 * * ? *)", "minutes: step '0' must be a number from 1 to 59"),
        ("cron(30-10 3 * * ? *)", "minutes: range '30-10' runs backwards"),
        ("cron(0 3 5L * ? *)", "day-of-month: '5L': use L or nW alone"),
        ("cron(0 3 L,15 * ? *)", "day-of-month: 'L,15': use L or nW alone"),
        ("cron(0 3 ? * 2#1,3 *)", "'#' and 'L' take one day alone"),
        ("cron(0 3 ? * 2#6 *)", "the week after '#' must be 1-5"),
        ("cron(0 0 30 2 ? *)", "it matches no date, so it would never run"),
        ("cron(0 3 * * ? *", "write cron(minutes hours day-of-month month day-of-week year)"),
        ("0 3 * * ? *", "write cron("),
        ("rate(1 minutes)", "write rate(1 minute): singular for 1, plural otherwise"),
        ("rate(5 minute)", "write rate(5 minutes)"),
        ("rate(0 hours)", "'0' is not a positive whole number"),
        ("rate(-1 hours)", "'-1' is not a positive whole number"),
        ("rate(2 weeks)", "unknown unit 'weeks'"),
        ("rate(hourly)", "rate takes a number and a unit"),
    ],
)
def test_refused_with_the_reason(expression, reason):
    with pytest.raises(InvalidScheduleExpression) as caught:
        parse_schedule(expression)
    assert reason in str(caught.value)
    assert repr(expression) in str(caught.value)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 * * ? *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(15 10 ? * 6L 2026-2030)",
        "cron(0 18 L * ? *)",
        "cron(0 8 1W * ? *)",
        "cron(0 12 ? * 2#1 *)",
        "cron(0 0 1 1,4,7,10 ? *)",
        "cron(0 0 ? * sun *)",
        "rate(1 minute)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(15 minutes)",
        "rate(12 hours)",
        "rate(7 days)",
    ],
)
def test_accepted(expression):
    assert parse_schedule(expression).text == expression


def test_rates_describe_their_interval():
    assert parse_schedule("rate(15 minutes)").interval.total_seconds() == 900
    assert parse_schedule("rate(1 day)").describe() == "every 1 day from deployment"


def test_spacing_does_not_count_as_a_difference():
    assert normalized("cron( 0  3 * * ? * )") == normalized("cron(0 3 * * ? *)")
