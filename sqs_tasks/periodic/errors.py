"""What the periodic-task machinery refuses, and why, in words an operator can act on."""

from django.core.exceptions import ImproperlyConfigured


class InvalidScheduleExpression(ValueError):
    """A `cron(...)` or `rate(...)` that EventBridge would refuse (or that never fires).

    Raised when the declaring module is imported, so a bad expression stops the code
    from loading instead of surfacing at deploy time or, worse, never firing.
    """

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"Invalid schedule expression {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


class PeriodicTaskError(ImproperlyConfigured):
    """A periodic task declared in a way the scheduler could not run it."""
