"""A discrete-event simulation on a virtual clock, with processes that run the real code.

Time is virtual: time-machine moves `time.time()` and `datetime.now()` (so Django's
`timezone.now()`) at C level, and the simulation always runs its earliest event next, so
the clock never goes back. A process is what AWS would run in its own sandbox:

- a Lambda invocation runs in a greenlet of its own. It gives way at every AWS call (a few
  virtual milliseconds) and while a task body works (`Simulation.work`), so several
  invocations are in flight at once and interleave call by call, as concurrent invocations
  do on AWS. Each has its own SIGALRM handler and interval timer (`VirtualSignals`): the
  worker's time limit fires in virtual time, inside whatever the body is doing. At its
  hard end (the function's timeout) the invocation dies where it stands.
- the web process that enqueues, the scheduler's relay and reconciler runs: these run in
  the main greenlet, atomically between two events of the invocations (they share Django's
  database connection, so they must not interleave with each other).

A process that dies raises `ProcessDied` where it stands: nothing after that point in it
happens, and any AWS call it would still make while unwinding is refused.

time-machine leaves `time.monotonic()` alone: the budgets of relay-outbox and
reconcile-tasks (and log durations) run on real time, which they never exhaust here; what
decides anything (items' not_before and leases, SQS visibility, Lambda's remaining time,
the time limit) runs on the virtual clock.
"""

import heapq
import itertools
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import greenlet
import time_machine


class ProcessDied(KeyboardInterrupt):
    """The process is gone (killed, crashed, out of time). A KeyboardInterrupt, because that
    is what the runner lets through: a task's own failure is any other exception."""


@dataclass(eq=False)
class Process:
    name: str
    kind: str  # "invocation", "web", "relay", "reconciler", "event source mapping"
    hard_end: float = float("inf")  # Lambda stops the invocation then
    # Die at this AWS call (1-based), before it takes effect or just after: a crash plan.
    crash_at_call: int | None = None
    crash_after_effect: bool = False
    calls: int = 0
    dead: bool = False
    died_of: str = ""
    greenlet: Any = None
    # The virtual SIGALRM: handler and ITIMER_REAL (deadline, interval).
    handlers: dict[int, Any] = field(default_factory=dict)
    timer: tuple[float, float] | None = None
    last_run: Any = None  # the ledger's BodyRun of the task body it ran last


@dataclass(order=True)
class _Event:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class Simulation:
    def __init__(self, start: float) -> None:
        self._events: list[_Event] = []
        self._seq = itertools.count()
        self._travel = time_machine.travel(start, tick=False)
        self._traveller: Any = None
        self.now = start
        self._main: Any = None
        self._current: Process | None = None
        self.main_process: Process | None = None  # the main-greenlet process now running
        self._spawned: list[Process] = []

    # -- the clock ----------------------------------------------------------------------

    def __enter__(self) -> "Simulation":
        self._traveller = self._travel.start()
        self._main = greenlet.getcurrent()
        return self

    def __exit__(self, *exc: object) -> None:
        self._travel.stop()

    def _move(self, when: float) -> None:
        if when > self.now:
            self.now = when
            self._traveller.move_to(when)

    # -- events -------------------------------------------------------------------------

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, _Event(max(when, self.now), next(self._seq), action))

    def next_event_at(self) -> float:
        return self._events[0].at if self._events else float("inf")

    def step(self) -> None:
        """Run the earliest event."""
        event = heapq.heappop(self._events)
        self._move(event.at)
        event.action()

    def advance_to(self, when: float) -> None:
        """Move the clock forward for an event the caller runs itself (a poll)."""
        self._move(when)

    # -- processes ----------------------------------------------------------------------

    def current(self) -> Process | None:
        """The process making a call now: an invocation's greenlet, else the main-greenlet
        process running (outbox threads count as the process that waits on them)."""
        if self._current is not None and greenlet.getcurrent() is self._current.greenlet:
            return self._current
        return self.main_process

    def spawn(self, process: Process, run: Callable[[], None], when: float) -> None:
        """Start `run` as `process` in a greenlet of its own, at `when`."""
        process.greenlet = greenlet.greenlet(run, parent=self._main)
        self._spawned.append(process)
        self.at(when, lambda: self._resume(process))

    def stop(self) -> None:
        """Kill every process still running (the world gave up waiting for it), here and
        now: left to the garbage collector, its greenlet would unwind later, outside the
        world, and might make real AWS calls on the way."""
        for process in self._spawned:
            if process.greenlet and not process.greenlet.dead:
                process.dead = True
                process.died_of = process.died_of or "the world stopped"
                previous, self._current = self._current, process
                try:
                    process.greenlet.throw(ProcessDied(process.died_of))
                finally:
                    self._current = previous
        self._spawned.clear()

    def run_in_main(self, process: Process, run: Callable[[], Any]) -> Any:
        """Run `run` as `process`, atomically; ProcessDied ends it quietly (returns None)."""
        previous, self.main_process = self.main_process, process
        try:
            return run()
        except ProcessDied:
            return None
        finally:
            self.main_process = previous

    def become(self, process: Process) -> None:
        """Go on in this greenlet as `process` (Lambda's service deleting what the
        invocation it ran for has finished)."""
        process.greenlet = greenlet.getcurrent()
        self._current = process

    def _resume(self, process: Process) -> None:
        previous, self._current = self._current, process
        try:
            process.greenlet.switch()
        finally:
            self._current = previous

    def pause(self, seconds: float) -> None:
        """The current process spends `seconds` (an AWS round trip, a body's work). Other
        processes run meanwhile; its timer and its hard end may interrupt it."""
        process = self.current()
        if process is None or process.greenlet is None:
            return  # a main-greenlet process runs atomically: no virtual time passes
        target = self.now + seconds
        while True:
            timer = process.timer[0] if process.timer else float("inf")
            wake = min(target, timer, process.hard_end)
            self.at(wake, lambda process=process: self._resume(process))
            self._main.switch()
            if self.now >= process.hard_end:
                self.kill(process, "its invocation's time ran out")
            if process.timer and process.timer[0] <= self.now:
                self._fire_timer(process)
            if self.now >= target:
                return

    def kill(self, process: Process, reason: str) -> None:
        """Kill `process`, which must be the one running: raises ProcessDied."""
        process.dead = True
        process.died_of = process.died_of or reason
        raise ProcessDied(reason)

    def _fire_timer(self, process: Process) -> None:
        deadline, interval = process.timer or (0.0, 0.0)
        process.timer = (deadline + interval, interval) if interval else None
        handler = process.handlers.get(signal.SIGALRM)
        if callable(handler):
            handler(signal.SIGALRM, None)  # raises inside the process, as a signal would


class VirtualSignals:
    """What the worker's TimeLimit middleware uses of the `signal` module, per process and
    in virtual time: each Lambda invocation has a process (and so a SIGALRM) of its own."""

    SIGALRM = signal.SIGALRM
    ITIMER_REAL = signal.ITIMER_REAL
    SIG_DFL = signal.SIG_DFL

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation

    def _process(self) -> Process:
        process = self._simulation.current()
        assert process is not None, "a time limit outside any process"
        return process

    def signal(self, signum: int, handler: Any) -> Any:
        process = self._process()
        previous = process.handlers.get(signum, signal.SIG_DFL)
        process.handlers[signum] = handler
        return previous

    def setitimer(self, which: int, seconds: float, interval: float = 0.0) -> tuple[float, float]:
        assert which == signal.ITIMER_REAL
        process = self._process()
        old = process.timer
        process.timer = (self._simulation.now + seconds, interval) if seconds > 0 else None
        if old is None:
            return (0.0, 0.0)
        return (max(0.0, old[0] - self._simulation.now), old[1])
