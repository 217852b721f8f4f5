"""`python -m bench [--quick] [--out BENCHMARKS.md]`: run every benchmark, write the report.

The in-process benchmarks run in this process with the test suite's settings (moto
in-process, resources as tests/aws_resources.py makes them); the others start their own
processes. Log lines the code under test writes (as a Lambda's would reach CloudWatch)
go to build/bench/logs.txt, so formatting them is measured and the terminal stays
readable. `--quick` runs every benchmark at tiny sizes, to check the harness.
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    cost_tasks: int = 1000
    cost_runs: int = 1
    celery_runs: int = 1
    overhead_tasks: int = 100
    overhead_runs: int = 3
    cold_runs: int = 5
    # One burst of the 2,000 tasks the issue names: its p50/p95/p99 latencies are the
    # spread, and a second burst would take make bench past its 10-minute budget.
    burst_tasks: int = 2000
    bursts: int = 1
    # Issues 12-14 (bench.at_scale): requests per path and case, and the state the
    # periodic jobs read (tasks; see bench.periodic_jobs.SCALES).
    latency_samples: int = 100
    latency_warmup: int = 20
    periodic_scales: tuple[int, ...] = (100, 3_000)
    weights_tasks: int = 5
    log_tasks: int = 100
    # Issue 17 (bench.flow_control): tasks per option, and through each saturated limit.
    flow_tasks: int = 100
    # Issue 16: a fan-out/fan-in of this many members, beside as many independent tasks.
    workflow_members: int = 1000
    workflow_runs: int = 2


QUICK = Sizes(
    10,
    1,
    1,
    10,
    2,
    1,
    20,
    1,
    latency_samples=10,
    latency_warmup=2,
    periodic_scales=(10,),
    weights_tasks=1,
    log_tasks=10,
    flow_tasks=10,
    workflow_members=20,
    workflow_runs=1,
)
ALONE = ("workflows", "costs", "flow-control")  # benchmarks `--only` runs on their own


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the harness")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--only", choices=ALONE, help="run this one benchmark; rewrite only its section of --out"
    )
    arguments = parser.parse_args()
    sizes = QUICK if arguments.quick else Sizes()
    logs = ROOT / "build" / "bench" / "logs.txt"
    logs.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr = logs.open("w")  # before Django configures logging onto it
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    # A database of the benchmarks' own, migrated afresh (enqueue writes outbox rows), never
    # the one DATABASE_URL may name: SQLite in memory, as the test settings default to, so
    # commits do not wait for this machine's disk (bench.enqueue_latency times those).
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    started = time.monotonic()
    from bench.run import run_all

    if arguments.only == "costs":
        _run_costs(sizes, arguments.out)
        return
    if arguments.only:
        _run_alone(arguments.only, sizes, arguments.out)
        return

    def say(line: str) -> None:
        minutes = (time.monotonic() - started) / 60
        print(f"[{minutes:4.1f} min] {line}", file=sys.__stderr__, flush=True)

    report = run_all(sizes, say=say)
    command = "python -m bench --quick" if arguments.quick else "make bench"
    from bench.report import document

    summary, sections = report
    arguments.out.write_text(document(summary, sections, time.monotonic() - started, command))
    print(f"wrote {arguments.out}", file=sys.__stderr__)


def _run_alone(name: str, sizes: Sizes, out: Path) -> None:
    """One benchmark: its section and summary line of `out` rewritten, the rest kept."""
    from bench import flow_control, workflows
    from bench.report import replace_section
    from bench.run import run_workflows

    if name == "workflows":
        line, section = run_workflows(sizes, lambda text: print(text, file=sys.__stderr__))
        title, prefix = workflows.TITLE, workflows.SUMMARY_PREFIX
    else:
        found = flow_control.measure(sizes.flow_tasks)
        line = flow_control.summary_line(*found)
        section = flow_control.render(*found, sizes.flow_tasks)
        title, prefix = flow_control.TITLE, flow_control.SUMMARY_PREFIX
    text = out.read_text() if out.exists() else ""
    out.write_text(replace_section(text, title, section, prefix, line))
    print(f"{line}\nwrote {out}", file=sys.__stderr__)


def _run_costs(sizes: Sizes, out: Path) -> None:
    """Sections 1 and 6-10 (requests and dollars per task, before and after, enqueue
    latency, the monthly bill, partition heat, the periodic jobs: they share section 1's
    measurements) and their summary lines rewritten, the rest kept."""
    from bench.report import replace_figures
    from bench.run import cost_sections

    lines, sections = cost_sections(sizes, lambda text: print(text, file=sys.__stderr__))
    text = out.read_text() if out.exists() else ""
    out.write_text(replace_figures(text, sections, lines))
    print("\n".join(lines) + f"\nwrote {out}", file=sys.__stderr__)


if __name__ == "__main__":
    main()
