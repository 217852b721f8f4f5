"""Benchmark 1, AWS requests per task and dollars per million tasks: ours beside Zappa's
async tasks and Celery on SQS, each running the same no-op tasks' whole life.

Ours is measured two ways: enqueued in bulk, and one task per `enqueue()` (a web
request's path). Request counts do not vary between runs (checked: the report says if
they did); the Lambda duration behind the GB-second figure does, so the dollars carry a
spread.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bench import pricing, requests_ours, requests_zappa
from bench.counting import RequestCounter
from bench.pricing import Usage
from bench.report import table
from bench.stats import Summary

Measure = Callable[[int], tuple[Usage, RequestCounter]]

OURS_BULK = "ours, bulk"
OURS_SINGLE = "ours, one per enqueue()"
GOAL_DOLLARS = 2.40  # per million no-op tasks (issue 14)
# Celery's worker drains one queue filled at once, and moto's server looks at every message
# of a queue for each message it returns: a deeper queue makes the run quadratic in time
# (not in requests), so Celery runs fewer tasks; its per-task counts are the same.
CELERY_TASKS = 300
GOAL_VS_ZAPPA = 1.5


@dataclass
class SystemCost:
    usages: list[Usage]
    counters: list[RequestCounter]
    error: str = ""

    @property
    def total(self) -> Summary:
        return Summary.of([u.total_per_million() for u in self.usages])

    @property
    def counts_vary(self) -> bool:
        return any(c.total != self.counters[0].total for c in self.counters)

    @property
    def requests_per_task(self) -> float:
        return self.counters[0].calls / self.usages[0].tasks


def measure(tasks: int, runs: int, celery_runs: int) -> dict[str, SystemCost]:
    celery, why_not_celery = _celery()
    systems: dict[str, tuple[Measure | None, int, str]] = {
        OURS_BULK: (partial(requests_ours.measure, path="bulk"), runs, ""),
        # One run: its Lambda time is the bulk path's; its request counts never vary.
        OURS_SINGLE: (partial(requests_ours.measure, path="single"), min(runs, 1), ""),
        "zappa": (requests_zappa.measure, runs, ""),
        "celery": (celery, celery_runs, why_not_celery),
    }
    results = {}
    for name, (run, repeat, why_not) in systems.items():
        if run is None or repeat == 0:
            results[name] = SystemCost([], [], why_not or "not run (in-process benchmarks only)")
            continue
        count = min(tasks, CELERY_TASKS) if name == "celery" else tasks
        pairs = [run(count) for _ in range(repeat)]
        results[name] = SystemCost([u for u, _ in pairs], [c for _, c in pairs])
    return results


def _celery() -> tuple[Measure | None, str]:
    try:
        from bench import requests_celery
    except ImportError as error:  # celery[sqs] is in requirements-bench.txt
        return None, f"Celery is not installed here ({error}); `make bench` installs it."
    return requests_celery.measure, ""


def goals(results: dict[str, SystemCost]) -> list[str]:
    """One line per path of ours: the dollars against both goals, met or missed."""
    zappa = results["zappa"].total.median
    lines = []
    for name in (OURS_BULK, OURS_SINGLE):
        dollars = results[name].total.median
        ratio = dollars / zappa
        met = dollars <= GOAL_DOLLARS and ratio <= GOAL_VS_ZAPPA
        lines.append(
            f"{name}: ${dollars:.2f} per million ({'≤' if dollars <= GOAL_DOLLARS else '>'} "
            f"${GOAL_DOLLARS:.2f}), {ratio:.2f}x Zappa's ${zappa:.2f} "
            f"({'≤' if ratio <= GOAL_VS_ZAPPA else '>'} {GOAL_VS_ZAPPA}x): "
            f"**{'met' if met else 'missed'}**"
        )
    return lines


def render(results: dict[str, SystemCost], tasks: int, weights: str = "") -> str:
    measured = {name: cost for name, cost in results.items() if cost.usages}
    parts = [
        "## 1. AWS requests per task, and dollars per million tasks",
        f"The whole life of {tasks:,} no-op tasks: enqueue, run, read each result back once. "
        "Requests are counted by service and operation with botocore's event hooks "
        "(`before-parameter-build.*.*` on every client), or, for Celery's worker, by the moto "
        "server that receives them (kombu polls SQS through pycurl, past botocore).",
        f"- **Ours, bulk**: {requests_ours.PATHS['bulk']}.\n"
        f"- **Ours, one per enqueue()**: {requests_ours.PATHS['single']}.\n"
        "- Both: batches of 10 through `functions.worker.handler`, with the requests "
        "Lambda's SQS event source mapping makes counted as it would make them "
        "(ReceiveMessage, DeleteMessageBatch: Lambda does not bill its polling, but SQS "
        "bills these requests to you); `get_result()` per task. Tasks are enqueued a hundred "
        "at a time, then run, so the worker's batches are full; at a trickle of one task per "
        "batching window each task would pay its own ReceiveMessage and DeleteMessageBatch.\n"
        f"- **Zappa** 0.63 `@task(capture_response=True)`: {_paragraph(requests_zappa)}\n"
        "- **Celery** (SQS broker, DynamoDB result backend): a real `celery worker` "
        "(solo pool, prefetch 10 so it receives up to ten per poll like our batches) in its "
        "own process against an embedded moto server; `AsyncResult.get()` per task; "
        f"{CELERY_TASKS} tasks (moto's server slows down with the depth of a queue).",
        "### Requests per task\n\n" + _counts_table(measured, tasks),
        "### Dollars per million tasks\n\n" + _dollars_table(measured),
        "Goal (issue 14): at most $2.40 per million, and at most 1.5x Zappa's.\n\n"
        + "\n".join(f"- {line}" for line in goals(results)),
        _pricing_notes(measured),
    ]
    parts += [f"- {name}: {cost.error}" for name, cost in results.items() if cost.error]
    if weights:
        parts.append(weights)
    return "\n\n".join(parts)


def _paragraph(module: object) -> str:
    """A module docstring's body (after its title line) as one Markdown paragraph."""
    return " ".join((module.__doc__ or "").split("\n\n", 1)[-1].split())


def _counts_table(results: dict[str, SystemCost], tasks: int) -> str:
    rows = []
    for name, cost in results.items():
        counter = cost.counters[0]
        ran = cost.usages[0].tasks
        for phase, counts in counter.by_phase.items():
            for (service, operation), calls in sorted(counts.items()):
                rows.append((name, phase, f"{service}:{operation}", calls, f"{calls / ran:.3f}"))
        total = sum(counter.total.values())
        note = " (varied between runs)" if cost.counts_vary else ""
        rows.append(
            (
                f"**{name}**",
                "**all**",
                "**every request**",
                f"**{total}**{note}" + (f" ({ran:,} tasks)" if ran != tasks else ""),
                f"**{total / ran:.2f}**",
            )
        )
    return table(("system", "phase", "request", f"calls per {tasks:,}", "per task"), rows)


def _dollars_table(results: dict[str, SystemCost]) -> str:
    rows = []
    for name, cost in results.items():
        usage = cost.usages[0]
        dollars = usage.dollars_per_million()
        per_task = 1 / usage.tasks
        rows.append(
            (
                name,
                f"{usage.sqs_requests * per_task:.2f}",
                f"{usage.wru * per_task:.2f} ({usage.dynamodb_index_writes * per_task:.0f} index)",
                f"{usage.rru * per_task:.2f}",
                f"{usage.lambda_invocations * per_task:.2f}",
                *(f"${value:.3f}" for value in dollars.values()),
                cost.total.format("$", 2) if len(cost.usages) > 1 else f"${cost.total.median:.2f}",
            )
        )
    headers = (
        "system",
        "SQS req/task",
        "WRU/task",
        "RRU/task",
        "invocations/task",
        *(f"{k} $/M" for k in results[next(iter(results))].usages[0].dollars_per_million()),
        "total $ per million tasks",
    )
    return table(headers, rows)


def _pricing_notes(results: dict[str, SystemCost]) -> str:
    sizes = ", ".join(f"{n} {c.usages[0].item_bytes} B" for n, c in results.items())
    ours = results.get(OURS_BULK)
    by_status = (
        ", ".join(f"{status} {size} B" for status, size in ours.usages[0].largest_by_status.items())
        if ours
        else ""
    )
    return "\n".join(
        [
            f"Prices (us-east-1, as of {pricing.PRICES_DATE}): {pricing.PRICE_SOURCES}. "
            "Free tiers left out.",
            "",
            "- SQS: each call is a request, one per 64 KB of payload (all payloads here are "
            "far below 64 KB).",
            "- DynamoDB: ours is measured write by write from the items themselves "
            "(bench.items): one WRU per 1 KB of the larger of the item before and after each "
            "write, and an index write only where the write really moved the item in or out "
            "of an index or changed what it projects. A no-op task that succeeds never "
            "carries `failed_key`, so it writes no index entry: the index column above is "
            "counted, not assumed. Zappa's and Celery's tables have no index; their writes "
            "count one WRU per 1 KB of their largest item. One RRU per 4 KB read strongly "
            "consistent, half eventually (our `get_result` reads consistently, Zappa and "
            f"Celery do not). Largest item: {sizes}. "
            f"**Largest common item (ours): {ours.usages[0].item_bytes if ours else 0} B** "
            f"(goal ≤ 1 KB: one WRU a write), by status: {by_status}.",
            f"- Lambda duration: the handler's time against in-process moto, less the time "
            f"spent inside its AWS calls (client work plus moto's answer), plus "
            f"{pricing.ASSUMED_ROUND_TRIP * 1000:.0f} ms per call (an assumed in-region round "
            "trip), rounded up to 1 ms per invocation, at 512 MB (our worker's MemorySize; "
            "Zappa's tasks run in the web function, compared here at the same size and arm64 "
            "price). The figures of issue 8 added the round trip on top of moto's own time.",
            "- Celery has no Lambda line: it runs on servers you pay for by the hour, whatever "
            "the task count. Its dollars are AWS requests only (its servers are in the "
            "monthly bill, section 8).",
        ]
    )
