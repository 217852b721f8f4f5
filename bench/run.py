"""Running the benchmarks in order and turning their results into the report's summary
and sections. Kept apart from __main__ so the smoke test can call it with tiny sizes."""

from collections.abc import Callable
from typing import Any

from bench import (
    artifact_size,
    at_scale,
    cold_start,
    cost,
    flow_control,
    local_stack,
    overhead,
    snapstart,
    tasks_db,
    throughput,
    workflows,
)

Say = Callable[[str], None]


def run_all(sizes: Any, say: Say, *, only_in_process: bool = False) -> tuple[str, list[str]]:
    """Every benchmark (or, for the smoke test, only the in-process ones)."""
    say(f"1/8 requests per task ({sizes.cost_tasks} tasks: ours two ways, Zappa, Celery)")
    costs, scale = _measure_costs(sizes, say, only_in_process=only_in_process)
    say(f"2/8 worker overhead ({sizes.overhead_runs} runs of {sizes.overhead_tasks} tasks)")
    worker = overhead.measure(sizes.overhead_tasks, sizes.overhead_runs)
    sections = [
        cost.render(costs, sizes.cost_tasks, at_scale.cost_appendix(scale)),
        overhead.render(worker, sizes.overhead_tasks),
    ]
    say(f"4/8 flow control ({sizes.flow_tasks} tasks per option, saturated limits)")
    flow = flow_control.measure(sizes.flow_tasks)
    summary = [
        _cost_line(costs),
        *at_scale.summary(scale),
        _overhead_line(worker),
        flow_control.summary_line(*flow),
    ]
    in_process = [*at_scale.sections(scale), flow_control.render(*flow, sizes.flow_tasks)]
    line, section = run_workflows(sizes, say)
    summary.append(line)
    in_process.append(section)
    if only_in_process:
        return "\n".join(summary), sections + in_process
    say(f"5/8 cold start ({sizes.cold_runs} runs of each variant)")
    cold = cold_start.measure(sizes.cold_runs)
    say("6/8 artifact size")
    sizes_found = artifact_size.measure()
    say(
        f"7/8 throughput ({sizes.bursts} bursts of {sizes.burst_tasks}: "
        "local stack, then django-tasks-db)"
    )
    ours = local_stack.measure(sizes.burst_tasks, sizes.bursts)
    database = tasks_db.measure(sizes.burst_tasks, sizes.bursts)
    say(f"8/8 SnapStart ({sizes.cold_runs} runs of each function, with and without)")
    snapshots = snapstart.measure(sizes.cold_runs)
    sections += [
        cold_start.render(cold),
        artifact_size.render(sizes_found),
        throughput.render(ours, database, local_stack.__doc__.strip(), tasks_db.__doc__.strip()),
        *in_process,
        snapstart.render(snapshots),
    ]
    summary += [
        _cold_line(cold),
        _size_line(sizes_found),
        _throughput_line(ours, database),
        _snapstart_line(snapshots),
    ]
    return "\n".join(summary), sections


def _measure_costs(
    sizes: Any, say: Say, *, only_in_process: bool = False
) -> tuple[dict[str, cost.SystemCost], at_scale.AtScale]:
    costs = cost.measure(
        sizes.cost_tasks, sizes.cost_runs, 0 if only_in_process else sizes.celery_runs
    )
    say("3/8 at scale: item weights, logs, periodic jobs, enqueue latency (issues 12-14)")
    return costs, at_scale.measure(sizes, costs, say, only_in_process=only_in_process)


def cost_sections(sizes: Any, say: Say) -> tuple[list[str], list[str]]:
    """Sections 1 and 6-10 and their summary lines, on their own (`--only costs`)."""
    say(f"requests per task ({sizes.cost_tasks} tasks: ours two ways, Zappa, Celery)")
    costs, scale = _measure_costs(sizes, say)
    sections = [
        cost.render(costs, sizes.cost_tasks, at_scale.cost_appendix(scale)),
        *at_scale.sections(scale),
    ]
    return [_cost_line(costs), *at_scale.summary(scale)], sections


def run_workflows(sizes: Any, say: Say) -> tuple[str, str]:
    """The workflow benchmark (issue 16): its summary line and its section."""
    say(
        f"workflows ({sizes.workflow_runs} runs of a {sizes.workflow_members:,}-member "
        "fan-out/fan-in, and of as many independent tasks)"
    )
    found = workflows.measure(sizes.workflow_members, sizes.workflow_runs)
    return workflows.summary(found), workflows.render(found)


def _cost_line(costs: dict[str, cost.SystemCost]) -> str:
    parts = []
    for name, found in costs.items():
        if found.usages:
            per_task = found.counters[0].calls / found.usages[0].tasks
            parts.append(f"{name} ${found.total.median:.2f} ({per_task:.2f} requests/task)")
    return (
        "- **Cost per million no-op tasks** (AWS requests, DynamoDB units, Lambda): "
        + ", ".join(parts)
        + "."
    )


def _overhead_line(worker: overhead.Overhead) -> str:
    return (
        f"- **Worker overhead**: the handler runs {worker.ratio.median:.2f}x the bare loop's "
        f"rate (goal ≥ {overhead.GOAL})."
    )


def _cold_line(cold: cold_start.ColdStart) -> str:
    return (
        f"- **Cold start**: worker {cold.worker_ratio.median:.2f}x the boto3+Django floor "
        f"({cold.worker_clients_ratio.median:.2f}x with the first clients on both sides), "
        f"web (Zappa) {cold.web_ratio.median:.2f}x (goal ≤ {cold_start.GOAL})."
    )


def _size_line(found: dict[str, artifact_size.Size]) -> str:
    parts = [
        f"{name} {s.zipped_mb:.1f} MB zipped / {s.unzipped_mb:.1f} MB unzipped"
        for name, s in found.items()
    ]
    return "- **Artifacts**: " + "; ".join(parts) + " (limits 50 / 250 MB)."


def _throughput_line(ours: throughput.Throughput, database: throughput.Throughput) -> str:
    return (
        f"- **Throughput**: local stack {ours.tasks_per_second.median:.1f} tasks/s, "
        f"django-tasks-db {database.tasks_per_second.median:.1f} tasks/s "
        f"(p95 latency {ours.p95.median:.1f} s vs {database.p95.median:.1f} s)."
    )


def _snapstart_line(result: snapstart.SnapStartResult) -> str:
    saved = ", ".join(
        f"{name} {snapstart.saved_ms(result, name):.0f} ms" for name in snapstart.FUNCTIONS
    )
    return (
        "- **SnapStart**: a restored environment skips the init and warm-up a cold one "
        f"pays before its first task: {saved} (median, before Lambda's own restore)."
    )
