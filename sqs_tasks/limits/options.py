"""Flow control as options of a task: how many of it may run at once, and how often.

    @task(limits=[Concurrency(1, key=lambda user_id, *_, **__: user_id)])
    def build_report(user_id: int, upload_id: int) -> dict: ...

    @task(limits=["exchange-api"])         # a named limit, declared once in OPTIONS:
    def refresh_rates(base: str) -> dict: ...
    # TASKS["default"]["OPTIONS"]["LIMITS"] = {"exchange-api": Rate(30, per="minute")}

A limit counts attempts, across every worker and queue, in DynamoDB. A task over a limit
is not failed and spends no attempt: it waits, its message hidden for as long as the
limit says, and its result says why (gate.py).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}

KeyFunction = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Concurrency:
    """At most `limit` attempts running at once per key (or in all, without `key`). A
    worker that dies keeps its place only until its lease ends (its invocation's end)."""

    limit: int
    key: KeyFunction | None = field(default=None, compare=False)
    name: str = ""  # shares the count with every task naming it; default: the task's own

    def __post_init__(self) -> None:
        if not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError("a concurrency limit is a whole number of at least 1")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` attempts starting per `per` (second, minute or hour), per key (or
    in all), smoothed: one every period/limit, with up to `burst` at once after a lull."""

    limit: int
    per: str = "second"
    burst: int = 1
    key: KeyFunction | None = field(default=None, compare=False)
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError("a rate limit is a whole number of at least 1")
        if self.per not in PERIODS:
            raise ValueError(f"per must be one of {', '.join(PERIODS)}, not {self.per!r}")
        if not isinstance(self.burst, int) or self.burst < 1:
            raise ValueError("burst is a whole number of at least 1")

    @property
    def interval(self) -> float:
        """Seconds between two starts at the limit."""
        return PERIODS[self.per] / self.limit


Limit = Concurrency | Rate
