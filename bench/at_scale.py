"""The figures of issues 12, 13 and 14 beyond section 1: requests before and after, enqueue
latency in a web request, the monthly bill, partition heat, and the periodic jobs' runs.
They share their inputs (section 1's measurements), so they are measured and rendered
together; bench.run calls `measure`, then `sections` and `summary`."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import (
    before_after,
    bill,
    enqueue_latency,
    item_weights,
    log_volume,
    partition_heat,
    periodic_jobs,
    requests_celery,
)
from bench.cost import OURS_BULK, OURS_SINGLE, SystemCost, goals
from bench.enqueue_latency import EngineLatency

Say = Callable[[str], None]


@dataclass
class AtScale:
    costs: dict[str, SystemCost]
    tasks: int
    weights: list[item_weights.Weight]
    logs: log_volume.LogVolume
    periodic: periodic_jobs.PeriodicCost
    latency: list[EngineLatency]
    latency_samples: int

    @property
    def bill_inputs(self) -> bill.BillInputs:
        worker = requests_celery.LAST_WORKER[0] if requests_celery.LAST_WORKER else None
        return bill.BillInputs(self.costs, self.logs, self.periodic, worker)


def measure(
    sizes: Any, costs: dict[str, SystemCost], say: Say, *, only_in_process: bool
) -> AtScale:
    say(f"   retried and failed items ({sizes.weights_tasks} of each)")
    weights = item_weights.measure(sizes.weights_tasks)
    say(f"   log bytes per task ({sizes.log_tasks} tasks)")
    logs = log_volume.measure(sizes.log_tasks)
    say(f"   periodic jobs' runs (state of {' and '.join(map(str, sizes.periodic_scales))} tasks)")
    periodic = periodic_jobs.measure(tuple(sizes.periodic_scales))
    latency: list[EngineLatency] = []
    if not only_in_process:
        say(f"   enqueue latency in a web request ({sizes.latency_samples} requests a path)")
        latency = enqueue_latency.measure(sizes.latency_samples, sizes.latency_warmup)
    return AtScale(costs, sizes.cost_tasks, weights, logs, periodic, latency, sizes.latency_samples)


def cost_appendix(found: AtScale) -> str:
    """What section 1 adds: the retried and failed items' weight, and the logs."""
    common = found.costs[OURS_BULK].usages[0].item_bytes
    return "\n\n".join(
        [
            item_weights.render(found.weights, common),
            "### Log lines per task",
            " ".join(log_volume.__doc__.split("\n\n", 1)[1].split()),
            log_volume.render(found.logs),
            "Log ingestion is not in the dollars above (the harness of issue 8 left it out); "
            "the monthly bill (section 8) counts it.",
        ]
    )


def sections(found: AtScale) -> list[str]:
    parts = [before_after.render(found.costs, found.tasks, found.latency)]
    if found.latency:
        parts.append(enqueue_latency.render(found.latency, found.latency_samples))
    parts += [
        bill.render(found.bill_inputs),
        partition_heat.render(found.costs, found.weights, found.latency),
        periodic_jobs.render(found.periodic),
    ]
    return parts


def summary(found: AtScale) -> list[str]:
    lines = [
        "- **Cost goal** (≤ $2.40 per million and ≤ 1.5x Zappa's): "
        + "; ".join(goals(found.costs))
        + ".",
        "- **Largest common item**: "
        f"{found.costs[OURS_BULK].usages[0].item_bytes} B (goal ≤ 1 KB); "
        + ", ".join(f"{w.label}: {w.cost.largest:,} B" for w in found.weights)
        + ".",
    ]
    rows = before_after.bulk_rows(found.costs[OURS_BULK], found.tasks)
    lines.append(
        f"- **Requests per task, bulk**: {sum(r.before for r in rows):.2f} before, "
        f"{sum(r.after for r in rows):.2f} after (the worker's: 2.00 and "
        f"{sum(r.after for r in rows if r.phase == before_after.WORKER):.2f}); "
        f"one `enqueue()`: {found.costs[OURS_SINGLE].requests_per_task:.2f} a task."
    )
    for engine in found.latency:
        if engine.error:
            continue
        measured, modelled = enqueue_latency.ratios(engine, "connection held", 0.5)
        measured99, modelled99 = enqueue_latency.ratios(engine, "connection held", 0.99)
        lines.append(
            f"- **Enqueue latency, {engine.engine}** (after / before, connection held): p50 "
            f"{measured:.2f}x measured, {modelled:.2f}x with round trips; p99 {measured99:.2f}x, "
            f"{modelled99:.2f}x (goal ≤ {enqueue_latency.GOAL})."
        )
    inputs = found.bill_inputs
    totals = []
    for system in bill.bills(inputs):
        totals.append(
            f"{system.name} " + " / ".join(f"${system.total(n):,.2f}" for n in bill.VOLUMES)
        )
    lines.append("- **Monthly bill** at 10k / 1M / 100M tasks: " + "; ".join(totals) + ".")
    heats = partition_heat.model(found.costs, found.weights)
    worst = max(heats, key=lambda heat: heat.share)
    lines.append(
        f"- **Partition heat**: the busiest key is {worst.table} at {worst.load}, "
        f"{worst.share:.1%} of a partition's 1,000 WCU/s (goal ≤ 50%)."
    )
    flat = [
        job
        for job, runs in found.periodic.runs.items()
        if len({sum(run.requests.values()) for run in runs.values()}) == 1
    ]
    lines.append(
        f"- **Periodic jobs**: {len(flat)} of {len(found.periodic.runs)} make the same requests "
        "per run at both volumes; the others grow with dead letters, not tasks (section 10)."
    )
    return lines
