"""Fixtures of the flow-control tests (test_limits*.py) and of an outcome's tries (refusals)."""

import time

import pytest

from sqs_tasks import refusals
from tests import limit_tasks


@pytest.fixture
def fresh():
    """No runs recorded by an earlier test."""
    limit_tasks.RUNS.clear()


@pytest.fixture
def gate_clock(monkeypatch):
    """The gate's clock, stopped: what a limit allows does not depend on how busy the
    machine running the tests is. Advance it with `gate_clock.now += seconds`."""
    from types import SimpleNamespace

    from sqs_tasks.limits import gate

    clock = SimpleNamespace(now=2_000_000.0)
    monkeypatch.setattr(gate, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


class TriesClock:
    """The clock an outcome's tries wait on (sqs_tasks.refusals), on which a pause passes
    at once: the test's clock (time.time, which time-machine may move) plus the pauses so
    far. What else reads the time (leases, SQS) sees none of them."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def now(self) -> float:
        return time.time() + sum(self.pauses)

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
def tries_clock(monkeypatch) -> TriesClock:
    clock = TriesClock()
    monkeypatch.setattr(refusals, "clock", clock)
    return clock
