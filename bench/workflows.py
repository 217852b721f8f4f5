"""Workflows (issue 16): AWS requests, dollars and time per member of a fan-out/fan-in,
beside the same work as independent tasks.

The workflow is `chain(make_list.step(N), member.map(), combine.step())`: a list of
N items, a no-op call per item in parallel, and a join that receives the N values in
order. The same N no-op calls are then enqueued as independent tasks (`enqueue_many`).
Both run their whole life against in-process moto, as bench.requests_ours runs its tasks:
the enqueue, every batch of ten through `functions.worker.handler` with the requests
Lambda's event source mapping makes (ReceiveMessage, DeleteMessageBatch), until the queue
is empty, and the values read back once (the workflow's with one `get_workflow`, the
independent tasks' with a `get_result` each, as a caller without workflows would gather
them). Requests are counted by service and operation with botocore's event hooks and
priced with bench.pricing's table.

DynamoDB units are counted request by request from the size of the item each one touches
at the time (bench.meter): most items are under 1 KB, but a few of the workflow's hold all
N values (the list, the join's value, its step's arguments) and take several. Billing every
write at the largest item's size would overstate the workflow several times over. Lambda
duration is billed as bench.meter says: the worker's own CPU time plus an assumed round
trip per AWS call, whatever moto's answers cost on this machine.

`make bench` runs it with the others; `make bench-workflows` (`python -m bench --only
workflows`) runs it alone and rewrites only its section and summary line of BENCHMARKS.md.
"""

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from django.tasks import default_task_backend

from bench import inprocess
from bench.counting import RequestCounter, counting
from bench.meter import Meter
from bench.pricing import ASSUMED_ROUND_TRIP, BILLING_GRANULARITY, Usage
from bench.report import table
from bench.requests_ours import WORKER_MEMORY_MB, process
from bench.stats import Summary
from sqs_tasks import aws, queues
from sqs_tasks.outbox import WRITE_THREADS

GOAL = 1.3  # the workflow's requests and dollars per member, over the independent tasks'
PATHS = {  # N: the number of members
    "workflow": "`chain(make_list.step(N), member.map(), combine.step())`, enqueued "
    "once: the worker that runs make_list fans the N calls out, the member that finishes "
    "last starts combine with the N values (which checks their order); the value read once "
    "(`get_workflow`), and the join's result checked to have run once (not billed)",
    "independent": "the same N calls by `member.enqueue_many` (conditional INSERTs 25 a "
    "request, SendMessageBatch in tens); each value read once (`get_result`)",
}


@dataclass
class MeasuredUsage(Usage):
    """Usage whose DynamoDB units and Lambda time come from a Meter (bench.meter)."""

    meter: Meter | None = None

    @property
    def wru(self) -> float:
        return self.meter.write_units if self.meter else 0

    @property
    def rru(self) -> float:
        return self.meter.read_units if self.meter else 0.0

    def add_invocation(self, seconds: float, aws_calls: int, seconds_in_calls: float) -> None:
        """One invocation, as bench.requests_ours reports it; billed by the meter instead
        of by its wall time against moto."""
        assert self.meter is not None
        billed = self.meter.invocation_seconds()
        self.lambda_invocations += 1
        self.lambda_billed_seconds += math.ceil(billed / BILLING_GRANULARITY) * BILLING_GRANULARITY


@dataclass
class Run:
    usage: MeasuredUsage
    counter: RequestCounter
    seconds: float  # wall time, from the enqueue to the values read back


@dataclass
class PathRuns:
    name: str
    members: int
    runs: list[Run] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.runs[0].counter.calls

    @property
    def counts_vary(self) -> bool:
        return any(run.counter.total != self.runs[0].counter.total for run in self.runs)

    @property
    def dollars_per_member(self) -> Summary:
        return Summary.of([run.usage.total_per_million() / 1e6 for run in self.runs])

    @property
    def seconds_per_member(self) -> Summary:
        return Summary.of([run.seconds / self.members for run in self.runs])


@dataclass
class Comparison:
    members: int
    workflow: PathRuns
    independent: PathRuns

    @property
    def request_ratio(self) -> float:
        return self.workflow.requests / self.independent.requests

    @property
    def dollar_ratio(self) -> Summary:
        pairs = zip(self.workflow.runs, self.independent.runs, strict=True)
        return Summary.of(
            [w.usage.total_per_million() / i.usage.total_per_million() for w, i in pairs]
        )

    @property
    def time_ratio(self) -> Summary:
        pairs = zip(self.workflow.runs, self.independent.runs, strict=True)
        return Summary.of([w.seconds / i.seconds for w, i in pairs])


def measure(members: int, runs: int) -> Comparison:
    """`runs` runs of each path, alternating, so drift on the machine hits both alike."""
    found = Comparison(members, PathRuns("workflow", members), PathRuns("independent", members))
    for _ in range(runs):
        found.workflow.runs.append(_run(members, _workflow))
        found.independent.runs.append(_run(members, _independent))
    return found


Drain = Callable[[], None]


def _workflow(members: int, counter: RequestCounter, drain: Drain) -> None:
    from bench.workflow_tasks import combine, make_list, member
    from sqs_tasks.workflows import chain, get_workflow

    with counter.during("enqueue"):
        started = chain(make_list.step(members), member.map(), combine.step()).enqueue()
    drain()
    with counter.during("read the value"):
        done = get_workflow(started.id)
    if done.status != "SUCCESSFUL" or done.return_value != members:
        raise RuntimeError(f"the workflow ended {done.status}, progress {done.progress}")
    counter.active = False  # what follows checks, and is not billed
    (join_step,) = [step for step in done.steps if step.task_path == combine.module_path]
    join = combine.get_result(join_step.task_id)
    if join.attempts != 1:
        raise RuntimeError(f"the join ran {join.attempts} times")


def _independent(members: int, counter: RequestCounter, drain: Drain) -> None:
    from bench.workflow_tasks import member

    with counter.during("enqueue"):
        ids = [r.id for r in member.enqueue_many([((i,), {}) for i in range(members)])]
    drain()
    with counter.during("read the values"):
        statuses = Counter(member.get_result(task_id).status for task_id in ids)
    if statuses != {"SUCCESSFUL": members}:
        raise RuntimeError(f"not every task succeeded: {dict(statuses)}")


def _run(members: int, work: Callable[[int, RequestCounter, Drain], None]) -> Run:
    usage = MeasuredUsage(
        "ours (SQS + Lambda worker + DynamoDB)", members, lambda_memory_mb=WORKER_MEMORY_MB
    )
    with inprocess.mocked_aws() as urls:
        queue_url = urls["default"]
        arn = inprocess.arn_of(queue_url)
        aws.reset_clients()  # fresh clients, so the counter sees them
        queues.clear_caches()
        reader = boto3.session.Session(region_name=inprocess.REGION).client("dynamodb")
        table = default_task_backend.results.table_name
        usage.meter = meter = Meter(reader, table)
        with counting() as counter:
            meter.install(counter)

            def drain() -> None:
                meter.mark()
                process(counter, queue_url, arn, usage)

            started = time.perf_counter()
            work(members, counter, drain)
            seconds = time.perf_counter() - started
        _check_no_index_written(reader, table)
    if meter.unpriced:
        raise RuntimeError(f"DynamoDB requests the meter cannot price: {dict(meter.unpriced)}")
    usage.sqs_requests = counter.sqs_chunks
    usage.dynamodb_writes = counter.dynamodb_writes
    usage.dynamodb_reads = counter.dynamodb_reads
    return Run(usage, counter, seconds)


def _check_no_index_written(reader: Any, table: str) -> None:
    """The meter counts no index writes: true while no item carries the `failed` index's
    key (only a task that failed for good does)."""
    for page in reader.get_paginator("scan").paginate(TableName=table):
        if any("failed_key" in item for item in page["Items"]):
            raise RuntimeError("an item is in the failed index: its writes are not counted")


# -- the report ---------------------------------------------------------------------------

TITLE = "## 13. Workflows: a fan-out/fan-in per member, beside independent tasks (issue 16)"
SUMMARY_PREFIX = "- **Workflow fan-out/fan-in**"


WHERE_IT_GOES = (
    "Where the two paths differ: the fan-out creates and sends the members as "
    "`enqueue_many` does (conditional INSERTs 25 a request, SendMessageBatch in tens), and each "
    "member is claimed and recorded as an independent task is. A member's finish adds one "
    "UpdateItem per batch: the members of one join's shard (32) that finish in one SQS "
    "batch are counted in one write, after the batch has run (`RecordHandler.finish_batch`), "
    "and that write's answer says all a member needs; the member that fills a shard adds "
    "one more. The join reads every member's item once (BatchGetItem, strongly consistent, "
    "100 keys a request), and `get_workflow` reads them again for its progress (eventually "
    "consistent: half the units), where the independent path reads each once "
    "(`get_result`): fewer requests (the value is read once, not once per member), more "
    "read units."
)
REPRODUCE = (
    "Reproduce: `make bench-workflows` (`python -m bench --only workflows`) runs this "
    "benchmark alone and rewrites only this section and its summary line; `make bench` "
    "runs it with the others."
)


def summary(found: Comparison) -> str:
    w, i = found.workflow, found.independent
    return (
        f"{SUMMARY_PREFIX} ({found.members:,} members): {w.requests / found.members:.2f} "
        f"requests and ${w.dollars_per_member.median * 1e6:.2f} per million members, "
        f"beside {i.requests / found.members:.2f} and ${i.dollars_per_member.median * 1e6:.2f} "
        f"as independent tasks: {found.request_ratio:.2f}x the requests, "
        f"{found.dollar_ratio.median:.2f}x the dollars (goal ≤ {GOAL})."
    )


def render(found: Comparison) -> str:
    n = f"{found.members:,}"
    runs = len(found.workflow.runs)
    parts = [
        TITLE,
        f"The same {n} no-op calls (`member(item)`) two ways, each run {runs}x "
        "(alternating), each through its whole life against in-process moto: the enqueue, "
        "every batch of ten through `functions.worker.handler` with the requests Lambda's "
        "event source mapping makes counted as it would make them (ReceiveMessage, "
        "DeleteMessageBatch), until the queue is empty, and the values read back once. "
        "Requests are counted by service and operation with botocore's event hooks, as in "
        "section 1, and priced with its table (bench.pricing).",
        "\n".join(f"- **{name}**: {text.replace('N', n)}" for name, text in PATHS.items()),
        "Billed as in section 1 (bench.pricing's prices), with two refinements this "
        "comparison needs (bench.meter): DynamoDB units are counted request by request from "
        "the size of the item each touches at the time (most items are under 1 KB, a few of "
        f"the workflow's hold all {n} values and take several), and an invocation's "
        "duration is the worker's own CPU time plus "
        f"{ASSUMED_ROUND_TRIP * 1000:.0f} ms per AWS call (the fan-out's parallel requests "
        f"as one per {WRITE_THREADS}), whatever moto's answers cost on this machine. Nothing "
        "fails, so no index is written.",
        "### Requests per member\n\n" + _counts_table(found),
        "### Dollars and time per member\n\n" + _dollars_table(found),
        _verdict(found),
        WHERE_IT_GOES,
        REPRODUCE,
    ]
    return "\n\n".join(parts)


def _counts_table(found: Comparison) -> str:
    rows = []
    for path in (found.workflow, found.independent):
        counter = path.runs[0].counter
        for phase, counts in counter.by_phase.items():
            for (service, operation), calls in sorted(counts.items()):
                rows.append(
                    (
                        path.name,
                        phase,
                        f"{service}:{operation}",
                        calls,
                        f"{calls / found.members:.3f}",
                    )
                )
        note = " (varied between runs)" if path.counts_vary else ""
        rows.append(
            (
                f"**{path.name}**",
                "**all**",
                "**every request**",
                f"**{path.requests}**{note}",
                f"**{path.requests / found.members:.3f}**",
            )
        )
    return table(
        ("path", "phase", "request", f"calls for {found.members:,} members", "per member"), rows
    )


def _dollars_table(found: Comparison) -> str:
    rows = []
    for path in (found.workflow, found.independent):
        usage = path.runs[0].usage
        per = 1 / found.members
        rows.append(
            (
                path.name,
                f"{usage.sqs_requests * per:.3f}",
                f"{usage.wru * per:.3f}",
                f"{usage.rru * per:.3f}",
                f"{usage.lambda_invocations * per:.3f}",
                *(f"${value:.3f}" for value in usage.dollars_per_million().values()),
                _format(path.dollars_per_member, 1e6, "$", 2),
                _format(path.seconds_per_member, 1000, "ms", 2),
            )
        )
    headers = (
        "path",
        "SQS req/member",
        "WRU/member",
        "RRU/member",
        "invocations/member",
        *(f"{k} $/M" for k in found.workflow.runs[0].usage.dollars_per_million()),
        "total $ per million members",
        "wall time per member",
    )
    return table(headers, rows)


def _format(summary_: Summary, scale: float, unit: str, digits: int) -> str:
    return Summary.of([s * scale for s in summary_.samples]).format(unit, digits)


def _verdict(found: Comparison) -> str:
    requests, dollars = found.request_ratio, found.dollar_ratio
    rows = [
        ("requests", f"{requests:.2f}x", _meets(requests)),
        ("dollars (run by run)", dollars.format("x", 2), _meets(dollars.high)),
        ("wall time (run by run)", found.time_ratio.format("x", 2), "(not a goal)"),
    ]
    met = requests <= GOAL and dollars.high <= GOAL
    return (
        table(("workflow / independent", "ratio", f"goal ≤ {GOAL}"), rows)
        + f"\n\nThe goal is {'met' if met else 'missed'}. Wall time is this machine's "
        "against in-process moto, from the enqueue to the last value read."
    )


def _meets(ratio: float) -> str:
    return "meets" if ratio <= GOAL else "misses"
