"""Fixtures of the flow-control tests (test_limits*.py)."""

import pytest

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
