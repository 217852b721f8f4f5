"""The chaos world's tasks. Each follows the plan it is given as its argument (what to do on
which attempt), spends virtual time rather than real time, and writes each run of its body
in the world's ledger: when it started and ended, and whether it returned.

A body "works" by letting its process's virtual clock run (`World.work`): the worker's time
limit (a virtual SIGALRM) interrupts it there, and so does its invocation's hard end.
"""

import contextlib
from datetime import UTC, datetime
from typing import Any

from django.tasks import task

from sqs_tasks.exceptions import ExpectedFailure, TaskTimeout

# The World running now (world.py sets it for the length of a run).
world: Any = None


class Flaky(Exception):
    """A failure worth retrying; with `retry_after`, it says how long to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        if retry_after:
            self.retry_after = retry_after


def _run(context: Any, plan: dict[str, Any], behave: Any) -> Any:
    """Run `behave` as this attempt's body, written down in the ledger."""
    simulation = world.simulation
    process = simulation.current()
    run = world.ledger.started(
        context.task_result.id, context.attempt, process.name, simulation.now
    )
    process.last_run = run
    try:
        value = behave(context, plan)
    except BaseException as error:
        world.ledger.ended(run, simulation.now, returned=False, error=type(error).__name__)
        raise
    world.ledger.ended(run, simulation.now, returned=True)
    return value


def _work(plan: dict[str, Any], attempt: int) -> None:
    """Spend this attempt's planned seconds (the last figure serves later attempts too)."""
    seconds = plan.get("work") or [0.1]
    world.work(seconds[min(attempt, len(seconds)) - 1])


def _succeed(context: Any, plan: dict[str, Any]) -> Any:
    attempt = context.attempt
    if plan.get("progress"):
        context.report_progress(1, 2, "halfway")
    _work(plan, attempt)
    if attempt <= plan.get("fail_first", 0):
        raise Flaky(f"attempt {attempt} fails, as planned", plan.get("retry_after"))
    return plan["value"]


def _fail(context: Any, plan: dict[str, Any]) -> Any:
    """Fail as planned once the planned transient failures are behind it."""
    attempt = context.attempt
    _work(plan, attempt)
    if attempt <= plan.get("fail_first", 0) or plan["kind"] == "poison":
        raise Flaky(f"attempt {attempt} fails, as planned")
    if plan["kind"] == "fatal":
        raise ValueError("a bug: retrying will not help")
    if plan["kind"] == "expected":
        raise ExpectedFailure("the user's file is malformed")
    if plan["kind"] == "unstorable":
        return datetime.now(UTC)  # not JSON: UnstorableResult, once
    if plan["kind"] == "killer":
        world.kill_current("the task's body crashed its process")
    raise AssertionError(f"no failure planned for {plan['kind']}")


def _run_away(context: Any, plan: dict[str, Any]) -> Any:
    """Swallow every time limit, as a reckless `except:` loop would: only the invocation's
    hard end stops it."""
    while True:
        try:
            world.work(5.0)
        except TaskTimeout:
            continue


def _stubborn(context: Any, plan: dict[str, Any]) -> Any:
    """On its first attempt, swallow the time limit once and work on: the limit fires again
    a second later. Later attempts are quick."""
    if context.attempt == 1:
        with contextlib.suppress(TaskTimeout):  # what a careless task does
            world.work(1000.0)
        world.work(1000.0)
    world.work(0.5)
    return plan["value"]


@task(takes_context=True, max_attempts=6)
def succeeds(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _succeed)


@task(takes_context=True)
async def quick_async(context: Any, plan: dict[str, Any]) -> Any:
    """An async body: it runs in its own event loop in the invocation (no virtual work in
    it: the simulation cannot switch inside a running event loop)."""
    return _run(context, plan, lambda context, plan: plan["value"])


@task(takes_context=True, queue_name="heavy", max_attempts=5, timeout=600)
def heavy(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _succeed)


@task(takes_context=True, max_attempts=4, timeout=240)  # longer than its worker's 180 s
def overlong(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _succeed)


@task(takes_context=True, max_attempts=4, timeout=20)
def stubborn(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _stubborn)


@task(takes_context=True, max_attempts=3, retry_on=(Flaky,))
def poison(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _fail)


@task(takes_context=True, max_attempts=4, retry_on=(Flaky,))
def fatal(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _fail)


@task(takes_context=True, max_attempts=4)
def expected(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _fail)


@task(takes_context=True, max_attempts=3)
def unstorable(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _fail)


@task(takes_context=True, max_attempts=3)
def killer(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _fail)


@task(takes_context=True, max_attempts=2, timeout=30)
def runaway(context: Any, plan: dict[str, Any]) -> Any:
    return _run(context, plan, _run_away)
