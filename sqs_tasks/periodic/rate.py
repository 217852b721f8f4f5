"""EventBridge `rate(...)` expressions: a positive whole number and a unit.

The unit is singular for 1 and plural otherwise (`rate(1 hour)`, `rate(5 minutes)`):
EventBridge refuses the other spellings. A rate counts from when the schedule was created,
not from a wall-clock time, so its next run cannot be known from the code alone.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqs_tasks.periodic.errors import InvalidScheduleExpression

UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_RATE = re.compile(r"(\S+)\s+(\S+)")


@dataclass(frozen=True, slots=True)
class RateExpression:
    text: str
    value: int
    unit: str  # singular: minute, hour or day

    @classmethod
    def parse(cls, text: str, body: str) -> "RateExpression":
        match = _RATE.fullmatch(body.strip())
        if not match:
            raise InvalidScheduleExpression(
                text, "rate takes a number and a unit, e.g. rate(5 minutes)"
            )
        value_text, unit_text = match.groups()
        if not value_text.isdigit() or int(value_text) < 1:
            raise InvalidScheduleExpression(text, f"{value_text!r} is not a positive whole number")
        value = int(value_text)
        unit = unit_text[:-1] if unit_text.endswith("s") else unit_text
        if unit not in UNITS:
            raise InvalidScheduleExpression(
                text, f"unknown unit {unit_text!r}: use minute(s), hour(s) or day(s)"
            )
        expected = unit if value == 1 else f"{unit}s"
        if unit_text != expected:
            raise InvalidScheduleExpression(
                text, f"write rate({value} {expected}): singular for 1, plural otherwise"
            )
        return cls(text=text, value=value, unit=unit)

    @property
    def interval(self) -> timedelta:
        return UNITS[self.unit] * self.value

    def describe(self) -> str:
        return f"every {self.value} {self.unit}{'s' if self.value > 1 else ''} from deployment"

    def next_after(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """Unknown: a rate is anchored at the schedule's creation, which the code never sees."""
        return None
