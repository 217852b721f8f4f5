"""What the two throughput benchmarks share: enqueue a burst into a running system, wait
until every task finished, and summarise time and enqueue-to-finish latency.

The latency of a task is its result's finished_at minus its enqueued_at, both stamped by
the system itself; the end-to-end time of a burst runs from its first enqueued_at to its
last finished_at, so process start-up of the enqueuing script is not counted.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bench.report import table
from bench.stats import Summary, percentile

ROOT = Path(__file__).resolve().parent.parent
Times = list[tuple[datetime, datetime]]  # (enqueued_at, finished_at) per task


@dataclass
class Burst:
    seconds: float
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, times: Times) -> "Burst":
        latencies = [(finished - enqueued).total_seconds() for enqueued, finished in times]
        span = max(f for _, f in times) - min(e for e, _ in times)
        return cls(
            span.total_seconds(),
            percentile(latencies, 0.50),
            percentile(latencies, 0.95),
            percentile(latencies, 0.99),
        )


@dataclass
class Throughput:
    tasks: int
    seconds: Summary
    tasks_per_second: Summary
    p50: Summary
    p95: Summary
    p99: Summary
    setup: str

    @classmethod
    def of(cls, tasks: int, bursts: list[Burst], setup: str) -> "Throughput":
        return cls(
            tasks=tasks,
            seconds=Summary.of([b.seconds for b in bursts]),
            tasks_per_second=Summary.of([tasks / b.seconds for b in bursts]),
            p50=Summary.of([b.p50 for b in bursts]),
            p95=Summary.of([b.p95 for b in bursts]),
            p99=Summary.of([b.p99 for b in bursts]),
            setup=setup,
        )


def enqueue(count: int, env: dict[str, str]) -> None:
    """Run `python -m bench.enqueue count` in the system's environment."""
    subprocess.run(
        [sys.executable, "-m", "bench.enqueue", str(count)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Results(Protocol):
    """How a system answers about the tasks that finished since a moment."""

    def count_since(self, began: datetime) -> int: ...

    def times_since(self, began: datetime) -> Times: ...


def burst(count: int, env: dict[str, str], results: Results, timeout: float) -> Burst:
    """Enqueue `count` tasks, wait until that many finished since the burst began.
    Polls once a second with a count only: the system under test shares this machine."""
    began = datetime.now(UTC)
    enqueue(count, env)
    deadline = time.monotonic() + timeout
    while (done := results.count_since(began)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {count} tasks finished in {timeout:g}s")
        time.sleep(1.0)
    return Burst.of(results.times_since(began))


def clean_environment() -> dict[str, str]:
    """This process's environment without the settings of the benchmark process itself."""
    prefixes = ("AWS_", "DJANGO_", "APP_", "DATABASE_", "BENCH_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def render(ours: Throughput, database: Throughput, ours_doc: str, database_doc: str) -> str:
    rows = [
        (
            name,
            result.setup,
            result.seconds.format("s", 1),
            result.tasks_per_second.format("", 1),
            result.p50.format("s", 2),
            result.p95.format("s", 2),
            result.p99.format("s", 2),
        )
        for name, result in (("ours, local stack", ours), ("django-tasks-db", database))
    ]
    return "\n\n".join(
        [
            "## 5. Throughput through the local stack",
            f"Bursts of {ours.tasks:,} no-op tasks enqueued at once into a running system, "
            "timed from the first task's enqueued_at to the last one's finished_at; latency "
            "is each task's finished_at minus its enqueued_at, both as the system recorded "
            "them. " + __doc__.split("\n\n", 1)[1].strip(),
            ours_doc,
            database_doc,
            table(("system", "set-up", "burst time", "tasks/s", "p50 latency", "p95", "p99"), rows),
            "Latency in a burst is mostly waiting in line: every task is enqueued at once, so "
            "p50 is about half the burst time. Compare the systems by tasks/s.",
        ]
    )
