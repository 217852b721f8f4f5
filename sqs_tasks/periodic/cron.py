"""EventBridge `cron(...)` expressions: parsed and checked once, then evaluated for run times.

EventBridge's cron is Quartz-like, not Unix cron: six fields (minutes, hours, day-of-month,
month, day-of-week, year), days of the week 1-7 from Sunday, and exactly one of the two day
fields is `?`. Only what the EventBridge documentation lists is accepted, so an expression
that passes here is one CloudFormation will take. Run times are computed in the schedule's
time zone the way EventBridge Scheduler does across daylight-saving changes: a time the
clocks skip does not run, and a time they repeat runs once.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from sqs_tasks.periodic.days import (
    DayRule,
    DaysOfMonth,
    DaysOfWeek,
    LastDayOfMonth,
    LastWeekdayOfMonth,
    NearestWeekday,
    NthWeekdayOfMonth,
)
from sqs_tasks.periodic.errors import InvalidScheduleExpression

MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
WEEKDAY_NAMES = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)
}
FIELD_NAMES = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")


class _FieldError(ValueError):
    """A problem with one field; the parser adds the expression around it."""


@dataclass(frozen=True, slots=True)
class Field:
    """One cron field's range, the names it accepts, and whether `/` steps are allowed."""

    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)
    steps: bool = True

    def value(self, text: str) -> int:
        if text in self.names:
            return self.names[text]
        if not text.isdigit():
            raise _FieldError(f"{self.name}: {text!r} is not a number{self._names_hint()}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise _FieldError(
                f"{self.name}: {number} is out of range {self.low}-{self.high}{self._names_hint()}"
            )
        return number

    def values(self, text: str) -> frozenset[int]:
        """A comma-separated list of `*`, `n`, `a-b`, each optionally `/step`."""
        selected: set[int] = set()
        for item in text.split(","):
            selected.update(self._item(item))
        return frozenset(selected)

    def _item(self, item: str) -> range:
        base, slash, step_text = item.partition("/")
        if slash and not self.steps:
            raise _FieldError(f"{self.name}: '/' is not allowed here")
        step = self._step(step_text) if slash else 1
        if base == "*":
            return range(self.low, self.high + 1, step)
        start_text, dash, end_text = base.partition("-")
        start = self.value(start_text)
        end = self.value(end_text) if dash else (self.high if slash else start)
        if start > end:
            raise _FieldError(f"{self.name}: range {base!r} runs backwards")
        return range(start, end + 1, step)

    def _step(self, text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= self.high:
            raise _FieldError(f"{self.name}: step {text!r} must be a number from 1 to {self.high}")
        return int(text)

    def _names_hint(self) -> str:
        if not self.names:
            return ""
        first, last = next(iter(self.names)), list(self.names)[-1]
        return f" (use {self.low}-{self.high} or {first}-{last})"


MINUTES = Field("minutes", 0, 59)
HOURS = Field("hours", 0, 23)
DAY_OF_MONTH = Field("day-of-month", 1, 31)
MONTH = Field("month", 1, 12, MONTH_NAMES)
# Unix cron counts Sunday as 0; EventBridge as 1. The range check catches the mix-up.
DAY_OF_WEEK = Field("day-of-week", 1, 7, WEEKDAY_NAMES, steps=False)
YEAR = Field("year", 1970, 2199)

_NEAREST_WEEKDAY = re.compile(r"(\d+)W")
_LAST_WEEKDAY = re.compile(r"(\w+)L")
_NTH_WEEKDAY = re.compile(r"(\w+)#(\d+)")


def _day_of_month_rule(text: str) -> DayRule:
    if text == "L":
        return LastDayOfMonth()
    if match := _NEAREST_WEEKDAY.fullmatch(text):
        return NearestWeekday(DAY_OF_MONTH.value(match[1]))
    if "L" in text or "W" in text:
        raise _FieldError(f"day-of-month: {text!r}: use L or nW alone, e.g. 'L' or '15W'")
    return DaysOfMonth(DAY_OF_MONTH.values(text))


def _day_of_week_rule(text: str) -> DayRule:
    if text == "L":
        return DaysOfWeek(frozenset({7}))  # the last day of the week: Saturday
    if match := _LAST_WEEKDAY.fullmatch(text):
        return LastWeekdayOfMonth(DAY_OF_WEEK.value(match[1]))
    if match := _NTH_WEEKDAY.fullmatch(text):
        nth = int(match[2])
        if not 1 <= nth <= 5:
            raise _FieldError(f"day-of-week: {text!r}: the week after '#' must be 1-5")
        return NthWeekdayOfMonth(DAY_OF_WEEK.value(match[1]), nth)
    if "#" in text or "L" in text:
        raise _FieldError(
            f"day-of-week: {text!r}: '#' and 'L' take one day alone, e.g. '6#3' or '6L'"
        )
    return DaysOfWeek(DAY_OF_WEEK.values(text))


def _day_rule(day_of_month: str, day_of_week: str) -> DayRule:
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _FieldError(
            "exactly one of day-of-month and day-of-week must be '?' "
            f"(got {day_of_month!r} and {day_of_week!r}), e.g. 'cron(0 3 * * ? *)'"
        )
    if day_of_week == "?":
        return _day_of_month_rule(day_of_month)
    return _day_of_week_rule(day_of_week)


@dataclass(frozen=True, slots=True)
class CronExpression:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day: DayRule

    @classmethod
    def parse(cls, text: str, body: str) -> "CronExpression":
        fields = body.upper().split()
        if len(fields) != len(FIELD_NAMES):
            raise InvalidScheduleExpression(
                text,
                f"cron needs six fields ({' '.join(FIELD_NAMES)}), got {len(fields)}"
                + (": add the year field, e.g. '*'" if len(fields) == 5 else ""),
            )
        minutes, hours, day_of_month, month, day_of_week, year = fields
        try:
            expression = cls(
                text=text,
                minutes=tuple(sorted(MINUTES.values(minutes))),
                hours=tuple(sorted(HOURS.values(hours))),
                months=tuple(sorted(MONTH.values(month))),
                years=tuple(sorted(YEAR.values(year))),
                day=_day_rule(day_of_month, day_of_week),
            )
        except _FieldError as error:
            raise InvalidScheduleExpression(text, str(error)) from None
        if not any(expression.day.days(y, m) for y in expression.years for m in expression.months):
            raise InvalidScheduleExpression(text, "it matches no date, so it would never run")
        return expression

    def describe(self) -> str:
        return self.text

    def next_after(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """The first run strictly after `moment`, in `zone`; None when there is none left."""
        start = moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        for local in self._local_times_from(start + timedelta(minutes=1)):
            run = local.replace(tzinfo=zone)
            utc = run.astimezone(UTC)
            if utc.astimezone(zone).replace(tzinfo=None) != local:
                continue  # skipped by a daylight-saving jump: EventBridge skips it too
            if utc > moment:  # (a repeated hour's earlier pass may lie before moment)
                return run
        return None

    def _local_times_from(self, start: datetime) -> Iterator[datetime]:
        """Every matching wall-clock minute from `start` on, in order."""
        for year in (y for y in self.years if y >= start.year):
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.day.days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            candidate = datetime(year, month, day, hour, minute)
                            if candidate >= start:
                                yield candidate
