"""Which days of a month a cron expression's day fields select.

EventBridge (like Quartz) has two day fields, and exactly one of them is `?`; the other
decides alone. Each rule here answers one question: the matching days of one month.
Days of the week are numbered as EventBridge numbers them: 1 = Sunday ... 7 = Saturday.
"""

import calendar
from dataclasses import dataclass
from typing import Protocol


class DayRule(Protocol):
    def days(self, year: int, month: int) -> list[int]: ...


def month_length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def weekday_of(year: int, month: int, day: int) -> int:
    """EventBridge's day-of-week number (1 = Sunday) of a date."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


@dataclass(frozen=True, slots=True)
class DaysOfMonth:
    """Listed days (`1,15`, `1-7`, `*`); a day the month lacks (31 in April) never matches."""

    values: frozenset[int]

    def days(self, year: int, month: int) -> list[int]:
        return sorted(d for d in self.values if d <= month_length(year, month))


@dataclass(frozen=True, slots=True)
class LastDayOfMonth:
    """`L` in day-of-month."""

    def days(self, year: int, month: int) -> list[int]:
        return [month_length(year, month)]


@dataclass(frozen=True, slots=True)
class NearestWeekday:
    """`15W`: the weekday (Monday-Friday) nearest the 15th, never leaving the month
    (`1W` on a Saturday is Monday the 3rd). A month without that day has no match."""

    day: int

    def days(self, year: int, month: int) -> list[int]:
        length = month_length(year, month)
        if self.day > length:
            return []
        weekday = weekday_of(year, month, self.day)
        if weekday == 7:  # Saturday: Friday before, or Monday after on the 1st
            return [self.day - 1 if self.day > 1 else self.day + 2]
        if weekday == 1:  # Sunday: Monday after, or Friday before on the last day
            return [self.day + 1 if self.day < length else self.day - 2]
        return [self.day]


@dataclass(frozen=True, slots=True)
class DaysOfWeek:
    """Listed days of the week (`MON-FRI`, `1,7`, `*`; `L` alone is Saturday)."""

    values: frozenset[int]

    def days(self, year: int, month: int) -> list[int]:
        return [
            d
            for d in range(1, month_length(year, month) + 1)
            if weekday_of(year, month, d) in self.values
        ]


@dataclass(frozen=True, slots=True)
class LastWeekdayOfMonth:
    """`6L`: the month's last Friday."""

    weekday: int

    def days(self, year: int, month: int) -> list[int]:
        return DaysOfWeek(frozenset({self.weekday})).days(year, month)[-1:]


@dataclass(frozen=True, slots=True)
class NthWeekdayOfMonth:
    """`3#2`: the month's second Tuesday; a month without a fifth one has no match."""

    weekday: int
    nth: int

    def days(self, year: int, month: int) -> list[int]:
        matches = DaysOfWeek(frozenset({self.weekday})).days(year, month)
        return matches[self.nth - 1 : self.nth]
