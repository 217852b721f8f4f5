"""The template's schedules, fired locally on their own cron, or at once on request.

EventBridge Scheduler delivers the target's Input with <aws.scheduler.scheduled-time>
filled in; so do we, then invoke the target function as the schedule would.
"""

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqs_tasks.periodic import parse_schedule
from stack.local import logs
from stack.local.runtime import FunctionRuntime
from stack.local.topology import Schedule


def scheduled_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fire(schedule: Schedule, runtime: FunctionRuntime, moment: datetime | None = None) -> object:
    tick = scheduled_time(moment or datetime.now(UTC))
    logs.emit("schedules", f"firing {schedule.name} ({schedule.expression}) for {tick}")
    return runtime.invoke(schedule.event(tick))


class ScheduleClock:
    """One thread: sleep until the next due schedule, fire it, repeat."""

    def __init__(self, schedules: list[Schedule], runtimes: dict[str, FunctionRuntime]) -> None:
        self.schedules = [s for s in schedules if s.enabled]
        self.runtimes = runtimes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def next_runs(self, after: datetime) -> list[tuple[datetime, Schedule]]:
        runs = []
        for schedule in self.schedules:
            when = parse_schedule(schedule.expression).next_after(
                after, ZoneInfo(schedule.timezone)
            )
            if when is not None:
                runs.append((when, schedule))
        return sorted(runs, key=lambda run: run[0])

    def _run(self) -> None:
        for when, schedule in self.next_runs(datetime.now(UTC)):
            logs.emit("schedules", f"{schedule.name}: next run {when.isoformat()}")
        while not self._stop.is_set():
            runs = self.next_runs(datetime.now(UTC))
            if not runs:
                return
            when, schedule = runs[0]
            if self._stop.wait(max(0.0, (when - datetime.now(UTC)).total_seconds())):
                return
            try:
                fire(schedule, self.runtimes[schedule.function.name], when)
            except Exception as error:
                logs.emit("schedules", f"{schedule.name} failed: {error}")
