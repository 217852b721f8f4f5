"""The chaos run (issue 12): thousands of tasks per seed through the real
handler on a virtual clock, under AWS's fault model, each seed audited for lost, doubled,
early, stuck, wrong-outcome and falsely dead-lettered tasks. The world is tests/chaos/ (its
package docstring says how it works); the suite runs a small one, this runs the big one.

    make chaos                                   # 3 seeds x 3,000 tasks: this section only
    .venv/bin/python -m bench.chaos --tasks 300 --seeds 7   # any size, any seeds

It takes long, so `make bench` does not run it: it records its section in
bench/recorded/chaos.md, which every `make bench` report carries, and rewrites only that
section of BENCHMARKS.md (the rest stays as `make bench` wrote it). Each seed's log lines go
to build/chaos/seed-N.log.
"""

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.report import RECORDED, replace_section, table
from tests.chaos.ledger import COUNTS

ROOT = Path(__file__).resolve().parent.parent
TASKS = 3000
SEEDS = (1, 2, 3)
HEADING = "## Chaos (issue 12): nothing lost, doubled, early, stuck, wrong or falsely dead-lettered"
LOGS = ROOT / "build" / "chaos"
SUMMARY = "- **Chaos**"


def measure(
    tasks: int, seeds: tuple[int, ...], say: Callable[[str], None] = print, jobs: int = 1
) -> list:
    """One big world per seed: in this process (Django set up with the test settings), or
    with `jobs` > 1, each in a fresh process of its own, that many at a time."""
    LOGS.mkdir(parents=True, exist_ok=True)
    if jobs > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            reports = list(pool.map(_seed_in_own_process, [tasks] * len(seeds), seeds))
    else:
        reports = [_seed(tasks, seed) for seed in seeds]
    for report in reports:
        for line in report.lines():
            say(line)
    return reports


def _seed(tasks: int, seed: int) -> Any:
    from tests.chaos.world import ChaosConfig, run_world

    return run_world(ChaosConfig(tasks=tasks, seed=seed), log=LOGS / f"seed-{seed}.log")


def _seed_in_own_process(tasks: int, seed: int) -> Any:
    _setup_django()
    return _seed(tasks, seed)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    # Enqueues go through the outbox, a table of the (in-memory SQLite) test database.
    call_command("migrate", "sqs_tasks", verbosity=0)


def summary_line(reports: list) -> str:
    totals = {name: sum(r.audit.counts[name] for r in reports) for name in reports[0].audit.counts}
    tasks = sum(report.committed for report in reports)
    return (
        f"{SUMMARY} ({len(reports)} seeds, {tasks:,} tasks under AWS's fault model): "
        + ", ".join(f"{name} {count}" for name, count in totals.items())
        + "."
    )


def render(reports: list, wall_seconds: float, jobs: int) -> str:
    from tests.chaos import world

    counts = table(
        ("seed", "tasks", "rolled back", "virtual hours", "run time", *COUNTS, "drained"),
        [
            (
                r.config.seed,
                f"{r.committed:,}",
                r.rolled_back,
                f"{r.virtual_hours:.1f}",
                f"{r.real_seconds / 60:.1f} min",
                *(r.audit.counts[name] for name in COUNTS),
                "yes" if r.drained else "**no**",
            )
            for r in reports
        ],
    )
    names = sorted({name for r in reports for name in r.stats if not name.startswith("calls:")})
    faults = _by_seed(reports, "what happened", names)
    calls = sorted({name for r in reports for name in r.stats if name.startswith("calls:")})
    requests = _by_seed(reports, "AWS requests the system made", calls)
    kinds = sorted({kind for r in reports for kind in r.kinds})
    mix = table(
        ("task kind", "meant to end", *(f"seed {r.config.seed}" for r in reports)),
        [(kind, world.MIX[kind][2], *(r.kinds.get(kind, 0) for r in reports)) for kind in kinds],
    )
    examples = [
        f"- seed {r.config.seed}, {name}: {example}"
        for r in reports
        for name, found in r.audit.examples.items()
        for example in found
    ]
    return "\n\n".join(
        [
            HEADING,
            __doc__.split("\n\n", 1)[0].replace("\n", " ")
            + " Every count must be 0 (the suite's small run asserts it).",
            world.__doc__.split("\n\n", 1)[1].strip(),
            table(("count", "what it counts"), list(COUNTS.items())),
            counts,
            "Examples of what was found:\n\n" + "\n".join(examples) if examples else "",
            "### The tasks\n\n" + mix,
            "### What went wrong on purpose\n\n" + faults,
            "### AWS requests\n\n" + requests,
            f"Wall time of the whole run: {wall_seconds / 60:.1f} min ({len(reports)} seeds, "
            f"{jobs} at a time, on the machine above, shared with other work). Reproduce: "
            f"`make chaos CHAOS_JOBS={jobs}`; one seed: `.venv/bin/python -m bench.chaos "
            "--seeds N` (the same seed replays the same run).",
        ]
    ).replace("\n\n\n\n", "\n\n")


def _by_seed(reports: list, title: str, names: list[str]) -> str:
    return table(
        (title, *(f"seed {r.config.seed}" for r in reports)),
        [
            (name.removeprefix("calls: "), *(f"{r.stats.get(name, 0):,}" for r in reports))
            for name in names
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once, each a process")
    arguments = parser.parse_args()
    _setup_django()
    seeds = tuple(int(seed) for seed in arguments.seeds.split(","))
    started = time.monotonic()
    reports = measure(arguments.tasks, seeds, jobs=arguments.jobs)
    section = render(reports, time.monotonic() - started, arguments.jobs)
    RECORDED.mkdir(exist_ok=True)
    (RECORDED / "chaos.md").write_text(section + "\n")
    (RECORDED / "chaos.summary").write_text(summary_line(reports) + "\n")
    document = replace_section(
        arguments.out.read_text(), HEADING, section, SUMMARY, summary_line(reports)
    )
    arguments.out.write_text(document)
    print(f"{summary_line(reports)} ({(time.monotonic() - started) / 60:.1f} min)")
    print(f"wrote {arguments.out}", file=sys.stderr)
    if not all(r.audit.clean and r.drained for r in reports):
        sys.exit(1)


if __name__ == "__main__":
    main()
