"""Schedule expressions, as template.yaml writes them: `cron(...)` or `rate(...)`."""

import re

from sqs_tasks.periodic.cron import CronExpression
from sqs_tasks.periodic.errors import InvalidScheduleExpression
from sqs_tasks.periodic.rate import RateExpression

ScheduleExpression = CronExpression | RateExpression

_EXPRESSION = re.compile(r"(cron|rate)\((.*)\)", re.DOTALL)


def parse_schedule(text: str) -> ScheduleExpression:
    """Parse and check an expression; raise InvalidScheduleExpression saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidScheduleExpression(repr(text), "a schedule expression is a string")
    match = _EXPRESSION.fullmatch(text.strip())
    if not match:
        raise InvalidScheduleExpression(
            text, "write cron(minutes hours day-of-month month day-of-week year) or rate(n unit)"
        )
    kind, body = match.groups()
    if kind == "cron":
        return CronExpression.parse(text, body)
    return RateExpression.parse(text, body)


def normalized(text: str) -> str:
    """The expression with runs of spaces folded, for comparing code with the template."""
    return " ".join(text.split()).replace("( ", "(").replace(" )", ")")
