"""A partition-heat model of every DynamoDB table and index, at 10,000 tasks a second and at
10,000 failures a second (issue 14), and the ceilings past them.

DynamoDB serves at most 1,000 write units a second per partition, and a partition key
value lives in one partition (a key whose sort key only grows cannot be split for heat).
So what matters is the write units a second landing on the busiest key value. The writes
and units per task, per failure and per index entry are the ones measured in section 1
(bench.items read them from the items); the keys are template.yaml's and sqs_tasks.item's
(FAILED_SHARDS); the rate-limit table's writes follow django_app/rates/token_bucket.py.
"""

import math
from dataclasses import dataclass

from django.conf import settings

from bench import template_facts
from bench.cost import OURS_BULK, SystemCost
from bench.enqueue_latency import ASSUMED_DB_ROUND_TRIP, EngineLatency
from bench.item_weights import Weight
from bench.pricing import ASSUMED_ROUND_TRIP
from bench.report import table
from sqs_tasks.item import FAILED_SHARDS

RATE = 10_000  # tasks, or failures, a second
PARTITION_WCU = 1_000
GOAL = 0.5  # of a partition's limit, on the busiest key
# Documented quotas (not measurable here): on-demand tables serve up to 40,000 write and
# read units a second each by default (an adjustable account quota); a new on-demand table
# starts able to serve 4,000 writes a second and doubles with its previous peak, unless
# pre-warmed (warm throughput); a standard queue holds up to 120,000 messages in flight;
# an SQS event source mapping runs up to 1,250 concurrent invocations (provisioned mode:
# 20,000); an account's Lambda concurrency is 1,000 by default; RDS for PostgreSQL allows
# about 200 connections on a 2 GiB instance (README, "The connection budget").
TABLE_WRU_QUOTA = 40_000
NEW_TABLE_WRU = 4_000
SQS_IN_FLIGHT = 120_000
ESM_MAX_CONCURRENCY = 1_250
ACCOUNT_CONCURRENCY = 1_000
DB_CONNECTIONS = 200


@dataclass(frozen=True)
class Heat:
    table: str
    key: str
    load: str
    per_key: float  # write units a second on the busiest key value
    why: str

    @property
    def share(self) -> float:
        return self.per_key / PARTITION_WCU


def model(costs: dict[str, SystemCost], weights: list[Weight]) -> list[Heat]:
    usage = costs[OURS_BULK].usages[0]
    units_per_task = usage.wru / usage.tasks
    writes_per_task = usage.dynamodb_writes / usage.tasks
    failed = next(w for w in weights if w.status == "FAILED")
    failure_table_units = failed.per_task(failed.cost.table_units)
    index_writes = failed.per_task(sum(failed.cost.index_writes.values()))
    index_units = failed.per_task(sum(failed.cost.index_units.values()))
    per_minute = settings.RATES_API_CALLS_PER_MINUTE
    contenders = template_facts.maximum_concurrency("WorkerFunctiondefault", "prod")
    bucket_writes = per_minute / 60 * contenders + 1  # each token raced by every worker; a pause
    return [
        Heat(
            "tasks",
            "id (a random uuid4)",
            f"{RATE:,} tasks/s",
            units_per_task,
            f"a task's {writes_per_task:.0f} writes ({units_per_task:.0f} units) land on its "
            "own key, even if all within one second; the table's "
            f"{RATE * units_per_task:,.0f} units/s spread evenly over the partitions "
            "DynamoDB splits off",
        ),
        Heat(
            "tasks",
            "id",
            f"{RATE:,} failures/s",
            failure_table_units,
            f"a task failing all 3 attempts writes {failed.per_task(failed.cost.writes):.0f} "
            f"times ({failure_table_units:.0f} units: its errors grow the item), all on its own "
            "key, between backoffs",
        ),
        Heat(
            "tasks, index `failed`",
            f"`<queue>#<shard>`, {FAILED_SHARDS} shards a queue (sort key: finished_at)",
            f"{RATE:,} tasks/s",
            0.0,
            "sparse: no item that succeeds carries `failed_key`; measured: 0 index writes",
        ),
        Heat(
            "tasks, index `failed`",
            f"`<queue>#<shard>`, {FAILED_SHARDS} shards a queue",
            f"{RATE:,} failures/s, all on one queue",
            RATE / FAILED_SHARDS * index_units,
            f"{index_writes:.0f} index write a failure ({failed.cost.largest_index_entry} B "
            f"entry, {index_units:.0f} unit), spread over {FAILED_SHARDS} keys by the task "
            "id's SHA-256; its growing sort key cannot be split, so the shards are what "
            "spread it",
        ),
        Heat(
            "rate-limits",
            "id (one item per limit)",
            "any task rate",
            bucket_writes,
            f"the exchange-rate bucket refills {per_minute}/min; each token may be raced by "
            f"every running worker ({contenders}, the prod default queue's "
            "MaximumConcurrency), the losers' conditional writes billed too: a bound set by "
            "the limit and the concurrency, not by the task rate",
        ),
    ]


def ceilings(
    costs: dict[str, SystemCost], weights: list[Weight], latency: list[EngineLatency]
) -> list[tuple[str, str, str]]:
    """(ceiling, where it binds, what lifts it), in the order they bind (tasks a second)."""
    usage = costs[OURS_BULK].usages[0]
    per_invocation = usage.tasks / usage.lambda_invocations
    seconds = usage.lambda_billed_seconds / usage.lambda_invocations
    per_concurrent = per_invocation / seconds  # tasks a second one running worker does
    units = usage.wru / usage.tasks
    failed = next(w for w in weights if w.status == "FAILED")
    failure_units = failed.per_task(failed.cost.table_units)
    prod, dev = (
        template_facts.maximum_concurrency("WorkerFunctiondefault", stage)
        for stage in ("prod", "dev")
    )
    request, transactions = _outbox_hold_seconds(latency)
    in_flight = seconds + template_facts.batching_window("WorkerFunctiondefault")
    rows = [
        (
            prod * per_concurrent,
            f"the default worker's MaximumConcurrency ({prod} prod, {dev} dev)",
            f"{prod * per_concurrent:,.0f} tasks/s prod, {dev * per_concurrent:,.0f} dev "
            f"({per_invocation:.0f} no-op tasks per {seconds * 1000:.0f} ms invocation, with "
            f"{ASSUMED_ROUND_TRIP * 1000:.0f} ms AWS round trips)",
            "by design: it keeps the database's connection budget. Raise it with the "
            "database (or RDS Proxy); 10,000 tasks/s needs "
            f"{math.ceil(RATE / per_concurrent)} running workers",
        ),
        (
            NEW_TABLE_WRU / units,
            "a new on-demand table's initial throughput",
            f"{NEW_TABLE_WRU / units:,.0f} tasks/s ({NEW_TABLE_WRU:,} write units/s, "
            f"{units:.0f} a task), until it has served a higher peak",
            "pre-warm the table (warm throughput) before a launch",
        ),
        (
            DB_CONNECTIONS / request if request else math.inf,
            "the outbox's database connections (one enqueue per request, PostgreSQL)",
            _database_ceiling(request, transactions),
            "enqueue_many for batches (one INSERT and one DELETE for all); RDS Proxy; a "
            "larger instance",
        ),
        (
            ACCOUNT_CONCURRENCY * per_concurrent,
            f"the account's Lambda concurrency ({ACCOUNT_CONCURRENCY:,} by default)",
            f"{ACCOUNT_CONCURRENCY * per_concurrent:,.0f} tasks/s, shared with the web function",
            "a quota increase",
        ),
        (
            TABLE_WRU_QUOTA / units,
            f"the table's on-demand quota ({TABLE_WRU_QUOTA:,} write units/s)",
            f"{TABLE_WRU_QUOTA / units:,.0f} tasks/s that succeed; "
            f"{TABLE_WRU_QUOTA / failure_units:,.0f} failures/s (a failure writes "
            f"{failure_units:.0f} units: 10,000 failures/s would need "
            f"{RATE * failure_units:,.0f})",
            "a quota increase (it is adjustable); shorter tracebacks per error",
        ),
        (
            ESM_MAX_CONCURRENCY * per_concurrent,
            f"an SQS event source mapping ({ESM_MAX_CONCURRENCY:,} concurrent invocations)",
            f"{ESM_MAX_CONCURRENCY * per_concurrent:,.0f} tasks/s per queue",
            "provisioned mode (up to 20,000), or more queues",
        ),
        (
            SQS_IN_FLIGHT / in_flight,
            f"a standard queue's messages in flight ({SQS_IN_FLIGHT:,})",
            f"{SQS_IN_FLIGHT / in_flight:,.0f} tasks/s, each message in flight "
            f"{in_flight:.1f} s (the batching window and the invocation)",
            "more queues",
        ),
    ]
    return [row[1:] for row in sorted(rows, key=lambda row: row[0])]


def _outbox_hold_seconds(latency: list[EngineLatency]) -> tuple[float, float]:
    """(a request's connection, the outbox's transactions) per enqueue, seconds, with
    round trips: what PostgreSQL's connections are held for, without and with a pooler
    that lends a server connection per transaction (RDS Proxy)."""
    engine = next((e for e in latency if not e.error and e.remote), None)
    if engine is None:
        return 0.0, 0.0
    after = engine.figures["connection held"]["after"]
    request = engine.modelled_p("connection held", "after", 0.5)
    transactions = (after.statements + after.commits) * ASSUMED_DB_ROUND_TRIP + (
        after.calls * ASSUMED_ROUND_TRIP  # the relay holds its row lock across the sends
    )
    return request, transactions


def _database_ceiling(request: float, transactions: float) -> str:
    if not request:
        return "not measured (no PostgreSQL here)"
    return (
        f"{DB_CONNECTIONS / request:,.0f} enqueues/s with a connection held for each "
        f"request ({request * 1000:.0f} ms, section 7, {DB_CONNECTIONS} connections); "
        f"{DB_CONNECTIONS / transactions:,.0f}/s behind RDS Proxy (a server connection per "
        f"transaction: {transactions * 1000:.0f} ms an enqueue, the relay's lock held across "
        "its two AWS calls); each enqueue is two commits, "
        f"{RATE * 2:,} commits/s at {RATE:,} enqueues/s"
    )


def render(
    costs: dict[str, SystemCost], weights: list[Weight], latency: list[EngineLatency]
) -> str:
    heats = model(costs, weights)
    rows = [
        (
            heat.table,
            heat.key,
            heat.load,
            f"{heat.per_key:,.1f}",
            f"{heat.share:.1%}",
            "meets" if heat.share <= GOAL else "**misses**",
            heat.why,
        )
        for heat in heats
    ]
    worst = max(heats, key=lambda heat: heat.share)
    return "\n\n".join(
        [
            "## 9. Partition heat (issue 14)",
            " ".join(__doc__.split("\n\n", 1)[1].split()),
            table(
                (
                    "table",
                    "partition key",
                    "load",
                    "write units/s on the busiest key",
                    "of 1,000",
                    f"goal ≤ {GOAL:.0%}",
                    "why",
                ),
                rows,
            ),
            f"The busiest key anywhere: {worst.table}, {worst.load}, at {worst.share:.1%} of "
            f"its partition's limit (goal ≤ {GOAL:.0%}: "
            f"**{'met' if worst.share <= GOAL else 'missed'}**). The sharded index stays "
            f"under half its limit up to {GOAL * PARTITION_WCU * FAILED_SHARDS:,.0f} failures/s "
            "on one queue.",
            "### The next ceilings, in the order they bind",
            table(("ceiling", "binds at", "what lifts it"), ceilings(costs, weights, latency)),
            "The quotas are AWS's documented defaults, not measured here: on-demand tables "
            f"{TABLE_WRU_QUOTA:,} units/s each way, a new table {NEW_TABLE_WRU:,} writes/s, "
            f"{SQS_IN_FLIGHT:,} messages in flight per standard queue, "
            f"{ESM_MAX_CONCURRENCY:,} concurrent invocations per event source mapping, "
            f"{ACCOUNT_CONCURRENCY:,} concurrent executions per account, about "
            f"{DB_CONNECTIONS} connections for a 2 GiB RDS PostgreSQL instance.",
        ]
    )
