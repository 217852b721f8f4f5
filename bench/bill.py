"""A monthly bill at 10 thousand, 1 million and 100 million tasks a month (issue 14): ours,
Zappa's async tasks (with keep_warm) and Celery on SQS (its worker and beat on EC2).

Nothing here is guessed that was measured: per-task requests, units and Lambda time come
from section 1, log bytes from the real handlers (bench.log_volume), each periodic job's
run from section 10, the custom metrics from the EMF lines those runs printed, Celery's
CPU time and memory per task from its real worker process, and what the stack deploys
(alarms, dashboards, secrets, queues polled by Lambda, schedules) from template.yaml.
What is assumed is said where it is used (ASSUMPTIONS). Each system's line items are
quantities of what AWS bills (requests, units, GB-seconds, GB, alarms, hours), priced
twice: at list price, and with the free tiers an account gets every month.
"""

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from bench import template_facts
from bench.cost import OURS_BULK, OURS_SINGLE, SystemCost
from bench.log_volume import LogVolume
from bench.periodic_jobs import PeriodicCost
from bench.pricing import (
    ASSUMED_ROUND_TRIP,
    BILL,
    BILL_PRICES_DATE,
    BILL_SOURCES,
    EC2_T4G,
    HOURS_PER_MONTH,
    PRICES,
    Usage,
)
from bench.report import table
from bench.requests_celery import WorkerProcess

VOLUMES = (10_000, 1_000_000, 100_000_000)
ROOT = Path(__file__).resolve().parent.parent
GB = 1024**3
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60
GOAL_VS_CHEAPEST = 1.5  # at 100M; cheapest at 10k and 1M (issue 14)
TTL_DAYS = 30  # RESULT_TTL: an item lives this long after it finishes
LOG_RETENTION_MONTHS = 3  # the prod stage keeps 90 days (template.yaml StageConfig)
# Lambda's SQS pollers (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html):
# five long-polling while a queue is idle, two at least when traffic is low, but not with
# MaximumConcurrency set (our template sets it); 20-second long polls.
ESM_IDLE_POLLERS, ESM_IDLE_POLLERS_UNCAPPED, LONG_POLL_SECONDS = 5, 2, 20
# kombu's SQS transport: a 10 s long poll, then 1 s before the next (its defaults).
CELERY_POLL_SECONDS = 11
CELERY_QUEUES = 2  # the same two queues as ours (default, heavy)
CELERY_PEAK_TO_AVERAGE = 3.0
# Ours with TableCapacity=provisioned: the same day, so the two are sized for the same traffic.
PEAK_TO_AVERAGE = CELERY_PEAK_TO_AVERAGE
# Target tracking lowers capacity after fifteen minutes well below the target, then applies
# it (docs.aws.amazon.com, DynamoDB auto scaling): the busy hours' capacity outlives them.
SCALE_IN_LAG_HOURS = 0.5
CELERY_ROUND_TRIPS_PER_TASK = 3  # DeleteMessage, GetItem, PutItem (section 1)
CELERY_OS_MB = 300  # the instance's OS and agent
CELERY_EBS_GB = 8
CELERY_RESULT_TTL_DAYS = 1  # `?ttl_seconds=86400` on the backend URL (it keeps none by default)
ZAPPA_RESULT_TTL_SECONDS = 600  # zappa.asynchronous writes ttl = now + 600
AVAILABILITY_ZONES = 2
ASSUMPTIONS = (
    f"a 30-day month ({HOURS_PER_MONTH} hours); tasks evenly spread over it; every item "
    f"kept {TTL_DAYS} days (RESULT_TTL; DynamoDB's TTL deletes lag, not counted); logs kept "
    f"{LOG_RETENTION_MONTHS} months (prod) and stored compressed as gzip compresses them; "
    f"Lambda's idle SQS pollers: {ESM_IDLE_POLLERS} per queue with MaximumConcurrency set "
    f"(AWS documents that only without it do they drop to {ESM_IDLE_POLLERS_UNCAPPED}), each "
    f"long-polling {LONG_POLL_SECONDS} s, counted at every volume; Celery: kombu's defaults "
    f"(one poll per queue every {CELERY_POLL_SECONDS} s per worker instance), a peak of "
    f"{CELERY_PEAK_TO_AVERAGE:g}x the average rate, {CELERY_ROUND_TRIPS_PER_TASK} AWS round "
    f"trips a task, results kept {CELERY_RESULT_TTL_DAYS} day (a TTL set on its table), "
    f"{CELERY_EBS_GB} GB gp3 and a public IPv4 address per instance, logs on the instance's "
    "disk; Zappa: the web stage's function (zappa_settings.json) runs its tasks; ours with "
    f"a provisioned table: each day's tasks arrive in busy hours at {PEAK_TO_AVERAGE:g}x "
    "the average rate (Celery's peak) and none between, auto scaling follows them hour by "
    f"hour and lowers capacity {SCALE_IN_LAG_HOURS:g} h after the busy hours end"
)


@dataclass
class Quantities:
    """What AWS bills, in its own units, for one line of a bill."""

    sqs_requests: float = 0.0
    dynamodb_wru: float = 0.0
    dynamodb_rru: float = 0.0
    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0  # arm64
    lambda_gb_seconds_x86: float = 0.0
    storage_gb: float = 0.0  # DynamoDB, GB-months
    pitr_gb: float = 0.0
    logs_gb: float = 0.0  # ingested
    logs_stored_gb: float = 0.0
    alarms: float = 0.0
    dashboards: float = 0.0
    metrics: float = 0.0  # custom metric-months
    metrics_read: float = 0.0  # GetMetricData
    scheduler_invocations: float = 0.0
    secrets: float = 0.0
    s3_put_list: float = 0.0
    s3_get: float = 0.0
    dynamodb_wcu_hours: float = 0.0  # provisioned capacity (TableCapacity=provisioned)
    dynamodb_rcu_hours: float = 0.0
    ec2_dollars: float = 0.0  # instances, EBS and IPv4 addresses: hourly, no free tier here
    endpoint_hours: float = 0.0

    def __add__(self, other: "Quantities") -> "Quantities":
        return Quantities(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def times(self, factor: float) -> "Quantities":
        return Quantities(**{f.name: getattr(self, f.name) * factor for f in fields(self)})


def dollars(q: Quantities, *, free_tier: bool = False) -> float:
    def above(amount: float, free: float) -> float:
        return max(0.0, amount - free) if free_tier else amount

    return (
        above(q.sqs_requests, BILL["sqs_free_requests"]) * PRICES["sqs_request"]
        + q.dynamodb_wru * PRICES["dynamodb_wru"]
        + q.dynamodb_rru * PRICES["dynamodb_rru"]
        + above(q.lambda_requests, BILL["lambda_free_requests"]) * PRICES["lambda_request"]
        + above(q.lambda_gb_seconds, BILL["lambda_free_gb_seconds"]) * PRICES["lambda_gb_second"]
        + q.lambda_gb_seconds_x86 * BILL["lambda_gb_second_x86"]
        + above(q.storage_gb, BILL["dynamodb_free_storage_gb"]) * BILL["dynamodb_storage_gb_month"]
        + q.pitr_gb * BILL["dynamodb_pitr_gb_month"]
        + above(q.logs_gb, BILL["logs_free_gb"]) * BILL["logs_ingestion_gb"]
        + q.logs_stored_gb * BILL["logs_storage_gb_month"]
        + above(q.alarms, BILL["free_alarms"]) * BILL["alarm_month"]
        + above(q.dashboards, BILL["free_dashboards"]) * BILL["dashboard_month"]
        + above(q.metrics, BILL["free_custom_metrics"]) * BILL["custom_metric_month"]
        + q.metrics_read * BILL["get_metric_data_per_metric"]
        + above(q.scheduler_invocations, BILL["scheduler_free_invocations"])
        * BILL["scheduler_invocation"]
        + q.secrets * BILL["secrets_manager_secret_month"]
        + q.s3_put_list * BILL["s3_put_list"]
        + q.s3_get * BILL["s3_get"]
        + above(q.dynamodb_wcu_hours, BILL["dynamodb_free_wcu"] * HOURS_PER_MONTH)
        * BILL["dynamodb_provisioned_wcu_hour"]
        + above(q.dynamodb_rcu_hours, BILL["dynamodb_free_rcu"] * HOURS_PER_MONTH)
        * BILL["dynamodb_provisioned_rcu_hour"]
        + q.ec2_dollars
        + q.endpoint_hours * BILL["interface_endpoint_hour"]
    )


@dataclass
class Line:
    label: str
    quantities: Callable[[int], Quantities]  # tasks a month -> quantities
    optional: bool = False  # only in some deployments (VPC endpoints): shown, not summed


def fixed(label: str, *, optional: bool = False, **amounts: float) -> Line:
    """A line that does not depend on the number of tasks."""
    return Line(label, lambda _: Quantities(**amounts), optional)


@dataclass
class SystemBill:
    name: str
    lines: list[Line]
    notes: list[str] = field(default_factory=list)

    def total(self, tasks: int, *, free_tier: bool = False, optional: bool = False) -> float:
        summed = Quantities()
        for line in self.lines:
            if optional or not line.optional:
                summed = summed + line.quantities(tasks)
        return dollars(summed, free_tier=free_tier)


@dataclass
class BillInputs:
    costs: dict[str, SystemCost]
    logs: LogVolume
    periodic: PeriodicCost
    celery_worker: WorkerProcess | None


# -- per task ----------------------------------------------------------------------------


def per_task(usage: Usage, *, x86: bool = False, memory_mb: int | None = None) -> Quantities:
    """One task's requests and units, from a measured Usage."""
    memory = (memory_mb or usage.lambda_memory_mb) / 1024
    gb_seconds = usage.lambda_billed_seconds * memory / usage.tasks
    return Quantities(
        sqs_requests=usage.sqs_requests / usage.tasks,
        dynamodb_wru=usage.wru / usage.tasks,
        dynamodb_rru=usage.rru / usage.tasks,
        lambda_requests=usage.lambda_invocations / usage.tasks,
        lambda_gb_seconds=0.0 if x86 else gb_seconds,
        lambda_gb_seconds_x86=gb_seconds if x86 else 0.0,
    )


def logs(bytes_per_unit: float, compression: float) -> Quantities:
    ingested = bytes_per_unit / GB
    return Quantities(
        logs_gb=ingested, logs_stored_gb=ingested * compression * LOG_RETENTION_MONTHS
    )


def requests_quantities(requests: Counter[tuple[str, str]], metrics_read: int) -> Quantities:
    """An AWS call count as billed quantities (small items: a unit a read or write)."""
    q = Quantities(metrics_read=metrics_read)
    for (service, operation), n in requests.items():
        if service == "sqs":
            q.sqs_requests += n
        elif service == "dynamodb":
            if operation in ("PutItem", "UpdateItem", "DeleteItem"):
                q.dynamodb_wru += n
            elif operation == "BatchExecuteStatement":
                # Up to 25 writes a request: its count alone cannot say how many.
                raise ValueError("a count of BatchExecuteStatement requests cannot be priced")
            elif operation == "Query":
                q.dynamodb_rru += n * 0.5  # an index is read eventually consistent
            else:
                q.dynamodb_rru += n
        elif service == "s3":
            if operation in ("GetObject", "HeadObject"):
                q.s3_get += n
            else:
                q.s3_put_list += n
    return q


# -- ours -------------------------------------------------------------------------------


def ours(inputs: BillInputs, path: str) -> SystemBill:
    usage = inputs.costs[path].usages[0]
    found = inputs.logs
    item_gb = (usage.item_bytes + BILL["dynamodb_item_overhead_bytes"]) / GB
    schedules = template_facts.schedules()
    periodic = _periodic_runs(inputs.periodic, schedules, found.compression)
    polled = template_facts.polled_queues()
    idle_polls = sum(
        (ESM_IDLE_POLLERS if queue.maximum_concurrency else ESM_IDLE_POLLERS_UNCAPPED)
        * MINUTES_PER_MONTH
        * 60
        / LONG_POLL_SECONDS
        for queue in polled
    )
    metric_months = _metric_months(inputs, schedules)
    endpoints = template_facts.interface_endpoints()
    lines = [
        Line("tasks: SQS, DynamoDB, Lambda (section 1)", lambda n: per_task(usage).times(n)),
        Line(
            f"tasks: log lines ({found.per_task:.0f} B a task)",
            lambda n: logs(found.per_task, found.compression).times(n),
        ),
        Line(
            f"results table storage ({usage.item_bytes} B + 100 B an item, {TTL_DAYS} days)",
            lambda n: Quantities(storage_gb=n * item_gb * TTL_DAYS / 30),
        ),
        Line(
            "point-in-time recovery of the table",
            lambda n: (
                Quantities(pitr_gb=n * item_gb * TTL_DAYS / 30)
                if template_facts.point_in_time_recovery()
                else Quantities()
            ),
        ),
        Line(
            f"periodic jobs, {periodic.runs:,} runs: the scheduler's ticks and the worker "
            "around each (Lambda, SQS, DynamoDB)",
            lambda n: periodic.functions,
        ),
        Line("periodic jobs: their bodies' own requests and time", lambda n: periodic.bodies),
        Line(
            f"periodic jobs: GetMetricData ({periodic.metric_reads.metrics_read:,.0f} metrics "
            "read)",
            lambda n: periodic.metric_reads,
        ),
        Line("periodic jobs: their log lines", lambda n: periodic.logs),
        Line(
            f"EventBridge Scheduler: {periodic.scheduler.scheduler_invocations:,.0f} invocations",
            lambda n: periodic.scheduler,
        ),
        fixed(f"idle SQS polling by Lambda ({len(polled)} queues)", sqs_requests=idle_polls),
        fixed(f"CloudWatch alarms ({template_facts.alarms()})", alarms=template_facts.alarms()),
        fixed(
            f"CloudWatch dashboard ({template_facts.dashboards()})",
            dashboards=template_facts.dashboards(),
        ),
        fixed(
            f"custom metrics from EMF ({metric_months:.1f} metric-months)", metrics=metric_months
        ),
        fixed(
            f"Secrets Manager secret ({template_facts.secrets()})",
            secrets=template_facts.secrets(),
        ),
        fixed(
            f"VPC interface endpoints ({endpoints} x {AVAILABILITY_ZONES} AZs), only in a VPC",
            optional=True,
            endpoint_hours=endpoints * AVAILABILITY_ZONES * HOURS_PER_MONTH,
        ),
    ]
    return SystemBill(path, lines)


# -- ours with a provisioned table (TableCapacity=provisioned) ---------------------------


def provisioned_units(average: float, minimum: float, target: float) -> float:
    """Capacity units auto scaling keeps on average, for `average` units consumed a second
    over the month: through the busy hours (a 1/PEAK_TO_AVERAGE share of the day, at
    PEAK_TO_AVERAGE times the average) consumption over the target utilization, and for
    SCALE_IN_LAG_HOURS after them still; the minimum the rest of the day, and never less."""
    busy_share = 1 / PEAK_TO_AVERAGE
    busy = max(minimum, PEAK_TO_AVERAGE * average / target)
    lag_share = min(SCALE_IN_LAG_HOURS / 24, 1 - busy_share)
    return (busy_share + lag_share) * busy + (1 - busy_share - lag_share) * minimum


def with_provisioned_table(bill: SystemBill, usage: Usage) -> SystemBill:
    """`bill` with the tasks table provisioned: every line's DynamoDB request units (the
    tasks', the periodic jobs') become capacity that auto scaling keeps for them, the table
    and each index on its own (each index takes the index writes measured, none for tasks
    that succeed), at the minimum the template sets at least; and the alarms target
    tracking makes. The rate-limits table stays on demand (no line here writes it)."""
    facts = template_facts.provisioned_table()
    index_share = usage.index_write_units / usage.wru if usage.wru else 0.0

    def request_units(n: int) -> Quantities:
        summed = Quantities()
        for line in bill.lines:
            if not line.optional:
                summed = summed + line.quantities(n)
        return summed

    def capacity(n: int) -> Quantities:
        units = request_units(n)
        seconds = HOURS_PER_MONTH * 3600
        consumed = {
            ("table", True): units.dynamodb_wru * (1 - index_share) / seconds,
            ("table", False): units.dynamodb_rru / seconds,
        }
        hours = Quantities()
        for scaled in facts.capacities:
            if scaled.part == "table":
                average = consumed["table", scaled.writes]
            else:
                average = units.dynamodb_wru * index_share / seconds if scaled.writes else 0.0
            unit_hours = provisioned_units(average, scaled.minimum, facts.target) * HOURS_PER_MONTH
            if scaled.writes:
                hours.dynamodb_wcu_hours += unit_hours
            else:
                hours.dynamodb_rcu_hours += unit_hours
        return hours

    lines = [_without_request_units(line) for line in bill.lines]
    least = {
        writes: sum(scaled.minimum for scaled in facts.capacities if scaled.writes == writes)
        for writes in (True, False)
    }
    indexes = len({scaled.part for scaled in facts.capacities} - {"table"})
    lines.append(
        Line(
            f"DynamoDB provisioned capacity: table and {indexes} index(es), "
            f"{facts.target:.0%} target utilization, {least[True]} WCU and {least[False]} RCU "
            "at least (the request units of the lines above)",
            capacity,
        )
    )
    alarms = facts.scaling_policies * template_facts.ALARMS_PER_SCALING_POLICY
    lines.append(fixed(f"auto scaling's CloudWatch alarms ({alarms})", alarms=alarms))
    return SystemBill(f"{bill.name}, provisioned table", lines)


def _without_request_units(line: Line) -> Line:
    def quantities(n: int) -> Quantities:
        found = line.quantities(n)
        return replace(found, dynamodb_wru=0.0, dynamodb_rru=0.0)

    moved = line.quantities(VOLUMES[-1])
    label = line.label
    if moved.dynamodb_wru or moved.dynamodb_rru:
        label += " (its DynamoDB units: in the capacity line)"
    return Line(label, quantities, line.optional)


@dataclass
class PeriodicRuns:
    """A month of every schedule's runs, in the parts the bill names."""

    runs: int
    functions: Quantities  # the scheduler's tick and the worker around each body
    bodies: Quantities  # the bodies' own requests and Lambda time, but GetMetricData
    metric_reads: Quantities
    logs: Quantities
    scheduler: Quantities  # EventBridge Scheduler's invocations


def _periodic_runs(
    found: PeriodicCost, schedules: list[template_facts.Schedule], compression: float
) -> PeriodicRuns:
    """Every schedule's runs in a month: the tick, the worker around the body, the body
    (as measured with the larger state of section 10)."""
    machinery = found.machinery
    scheduler_memory = template_facts.function_memory("SchedulerFunction") / 1024
    worker_memory = {
        "default": template_facts.function_memory("WorkerFunctiondefault") / 1024,
        "heavy": template_facts.function_memory("WorkerFunctionheavy") / 1024,
    }
    every_run = requests_quantities(sum(machinery.requests.values(), Counter()), 0)
    every_run.lambda_requests += 2  # the scheduler's invocation and the worker's
    high = found.scales[-1]
    total = PeriodicRuns(0, Quantities(), Quantities(), Quantities(), Quantities(), Quantities())
    for schedule in schedules:
        body = found.runs[schedule.name][high]
        memory = worker_memory[found.queues[schedule.name]]
        functions = every_run + Quantities(
            lambda_gb_seconds=machinery.scheduler_seconds * scheduler_memory
            + machinery.worker_seconds * memory
        )
        bodies = requests_quantities(body.requests, 0) + Quantities(
            lambda_gb_seconds=body.billed_seconds * memory
        )
        runs = schedule.runs_per_month
        total.runs += runs
        total.functions = total.functions + functions.times(runs)
        total.bodies = total.bodies + bodies.times(runs)
        total.metric_reads = total.metric_reads + Quantities(metrics_read=body.metrics_read * runs)
        total.logs = total.logs + logs(machinery.log_bytes + body.log_bytes, compression).times(
            runs
        )
        total.scheduler = total.scheduler + Quantities(scheduler_invocations=runs)
    return total


def _metric_months(inputs: BillInputs, schedules: list[template_facts.Schedule]) -> float:
    """Custom metric-months: a metric costs for the hours it is emitted in. Tasks emit
    theirs every hour at any of the volumes here (10,000 a month is 14 an hour); each job
    emits its own and its run's (enqueued, succeeded, duration on its queue; the outbox's)
    in the hours it runs, a share of the month's hours."""
    found = inputs.periodic
    shares: dict[tuple[str, str], float] = {}
    for schedule in schedules:
        queue = found.queues[schedule.name]
        share = min(schedule.runs_per_month, HOURS_PER_MONTH) / HOURS_PER_MONTH
        emitted = found.runs[schedule.name][found.scales[-1]].metric_names | {
            (name, queue if dimension == "default" else dimension)
            for name, dimension in found.machinery.metric_names
        }
        for metric in emitted:
            shares[metric] = min(1.0, shares.get(metric, 0.0) + share)
    shares |= dict.fromkeys(inputs.logs.metric_names, 1.0)
    return sum(shares.values())


# -- Zappa ------------------------------------------------------------------------------


def _zappa_stage() -> dict:
    stages = json.loads((ROOT / "zappa_settings.json").read_text())
    return {**stages["dev"], **stages["prod"]}


def zappa(inputs: BillInputs) -> SystemBill:
    usage = inputs.costs["zappa"].usages[0]
    stage = _zappa_stage()
    memory = int(stage.get("memory_size", 512))
    x86 = stage.get("architecture", "x86_64") == "x86_64"
    keep_warm_minutes = int(
        stage.get("keep_warm_expression", "rate(4 minutes)").split("(")[1].split()[0]
    )
    keep_warm_runs = MINUTES_PER_MONTH / keep_warm_minutes
    warm_gb_seconds = keep_warm_runs * 0.001 * memory / 1024  # a 1 ms callback, billed 1 ms
    item_gb = (usage.item_bytes + BILL["dynamodb_item_overhead_bytes"]) / GB
    lines = [
        Line(
            f"tasks: Lambda Invoke, DynamoDB, the web function ({memory} MB"
            f"{', x86_64' if x86 else ''})",
            lambda n: per_task(usage, x86=x86, memory_mb=memory).times(n),
        ),
        Line(
            f"tasks: log lines ({inputs.logs.zappa_per_task:.0f} B a task)",
            lambda n: logs(inputs.logs.zappa_per_task, inputs.logs.compression).times(n),
        ),
        Line(
            f"response table storage ({usage.item_bytes} B, {ZAPPA_RESULT_TTL_SECONDS} s TTL)",
            lambda n: Quantities(storage_gb=n * item_gb * ZAPPA_RESULT_TTL_SECONDS / (30 * 86400)),
        ),
        Line(
            f"keep_warm every {keep_warm_minutes} minutes ({keep_warm_runs:,.0f} invocations; "
            "its EventBridge rule is free)",
            lambda n: (
                Quantities(
                    lambda_requests=keep_warm_runs,
                    lambda_gb_seconds_x86=warm_gb_seconds if x86 else 0.0,
                    lambda_gb_seconds=0.0 if x86 else warm_gb_seconds,
                )
                + logs(keep_warm_runs * 300, inputs.logs.compression)
            ),
        ),
        fixed("the Django secret (the same web app's)", secrets=1),
        fixed(
            f"VPC interface endpoint for lambda:Invoke (x {AVAILABILITY_ZONES} AZs), only in a VPC",
            optional=True,
            endpoint_hours=AVAILABILITY_ZONES * HOURS_PER_MONTH,
        ),
    ]
    return SystemBill("zappa", lines)


# -- Celery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    instance: str
    instances: int
    processes: int  # worker processes in all


def celery_fleet(tasks: int, worker: WorkerProcess | None) -> Fleet:
    """The cheapest t4g fleet that runs `tasks` a month: average CPU under the burstable
    baseline (no surplus credits), the peak within the vCPUs, processes enough for the
    peak's round trips, and memory for them, beat and the OS. With no measurement of the
    worker, one t4g.micro."""
    if worker is None:
        return Fleet("t4g.micro", 1, 1)
    average = tasks / (HOURS_PER_MONTH * 3600)
    peak = average * CELERY_PEAK_TO_AVERAGE
    cpu = worker.cpu_seconds_per_task
    per_process = 1 / (cpu + CELERY_ROUND_TRIPS_PER_TASK * ASSUMED_ROUND_TRIP)
    processes = max(1, math.ceil(peak / per_process))
    options = []
    for name, (hourly, vcpus, memory_gib, baseline) in EC2_T4G.items():
        room_mb = memory_gib * 1024 - CELERY_OS_MB - worker.peak_rss_mb  # beat's share
        if room_mb < worker.peak_rss_mb:
            continue  # not even one worker process beside beat and the OS
        count = max(
            1,
            math.ceil(average * cpu / (vcpus * baseline)),
            math.ceil(peak * cpu / vcpus),
            math.ceil(processes * worker.peak_rss_mb / room_mb),
        )
        options.append(
            (count * (hourly + BILL["ec2_public_ipv4_hour"]), Fleet(name, count, processes))
        )
    return min(options, key=lambda option: option[0])[1]


def celery(inputs: BillInputs) -> SystemBill:
    cost = inputs.costs["celery"]
    usage = cost.usages[0] if cost.usages else None
    worker = inputs.celery_worker

    def fleet_quantities(n: int) -> Quantities:
        fleet = celery_fleet(n, worker)
        hourly = EC2_T4G[fleet.instance][0]
        per_instance = (
            hourly + BILL["ec2_public_ipv4_hour"]
        ) * HOURS_PER_MONTH + CELERY_EBS_GB * BILL["ebs_gp3_gb_month"]
        polls = fleet.instances * CELERY_QUEUES * MINUTES_PER_MONTH * 60 / CELERY_POLL_SECONDS
        return Quantities(ec2_dollars=fleet.instances * per_instance, sqs_requests=polls)

    item_gb = ((usage.item_bytes if usage else 0) + BILL["dynamodb_item_overhead_bytes"]) / GB
    lines = [
        Line(
            "tasks: SQS, DynamoDB results (section 1)",
            lambda n: per_task(usage).times(n) if usage else Quantities(),
        ),
        Line(
            "EC2 (worker and beat), gp3 volume, public IPv4, idle SQS polls",
            fleet_quantities,
        ),
        Line(
            f"results table storage ({CELERY_RESULT_TTL_DAYS} day TTL)",
            lambda n: Quantities(storage_gb=n * item_gb * CELERY_RESULT_TTL_DAYS / 30),
        ),
        fixed("the Django secret (its workers load Django)", secrets=1),
    ]
    bill = SystemBill("celery", lines)
    for n in VOLUMES:
        fleet = celery_fleet(n, worker)
        bill.notes.append(
            f"{n:,}/month: {fleet.instances} x {fleet.instance} ({fleet.processes} worker "
            f"process{'es' if fleet.processes > 1 else ''}, beat on the first)"
        )
    return bill


# -- the report -------------------------------------------------------------------------


def bills(inputs: BillInputs) -> list[SystemBill]:
    found = [ours(inputs, OURS_SINGLE), ours(inputs, OURS_BULK), zappa(inputs)]
    if inputs.costs["celery"].usages:
        found.append(celery(inputs))
    return found


def provisioned_bills(inputs: BillInputs, found: list[SystemBill]) -> list[SystemBill]:
    """Ours again, each path with TableCapacity=provisioned."""
    return [
        with_provisioned_table(bill, inputs.costs[bill.name].usages[0])
        for bill in found
        if bill.name in (OURS_SINGLE, OURS_BULK)
    ]


def render(inputs: BillInputs) -> str:
    found = bills(inputs)
    provisioned = provisioned_bills(inputs, found)
    summary_rows = []
    for bill in [*found[:2], *provisioned, *found[2:]]:
        row = [bill.name]
        for n in VOLUMES:
            row.append(
                f"${bill.total(n):,.2f} (${bill.total(n, free_tier=True):,.2f}; "
                f"${bill.total(n, optional=True):,.2f})"
            )
        summary_rows.append(row)
    parts = [
        "## 8. A monthly bill (issue 14)",
        " ".join(__doc__.split("\n\n", 1)[1].split()),
        table(
            ("system", *(f"{n:,} tasks/month" for n in VOLUMES)),
            summary_rows,
        ),
        "Each cell: list price (with the account's free tiers; with the VPC endpoints a "
        "deployment inside a VPC adds). Free tiers per account and month: 1 million SQS "
        "requests, 1 million Lambda requests and 400,000 GB-seconds, 25 GB of DynamoDB "
        "storage, 10 alarms, 3 dashboards, 10 custom metrics, 5 GB of logs, 14 million "
        "Scheduler invocations; they are shared with whatever else the account runs.",
        _verdict(found),
        _provisioned_verdict(found, provisioned),
        _what_dominates(found),
        _what_would_lower_it(inputs, found[0], provisioned[0]),
        _floor(found),
    ]
    for n in VOLUMES:
        parts.append(f"### {n:,} tasks a month, by line")
        parts.append(_lines_table(found, n))
    parts.append(f"### {VOLUMES[-1]:,} tasks a month with a provisioned table, by line")
    parts.append(_lines_table(provisioned, VOLUMES[-1]))
    parts.append(_celery_note(found, inputs.celery_worker))
    parts += [
        f"Assumptions: {ASSUMPTIONS}.",
        f"Prices: us-east-1, as of {BILL_PRICES_DATE}: {BILL_SOURCES}. Section 1's prices "
        "for SQS, DynamoDB requests and Lambda.",
    ]
    return "\n\n".join(parts)


def _what_dominates(found: list[SystemBill]) -> str:
    ours_bill = found[0]
    parts = []
    for n in VOLUMES:
        lines = sorted(
            (
                (dollars(line.quantities(n)), line.label)
                for line in ours_bill.lines
                if not line.optional
            ),
            reverse=True,
        )
        total = ours_bill.total(n)
        top = ", ".join(f"{label} ${cost:,.2f} ({cost / total:.0%})" for cost, label in lines[:3])
        parts.append(f"- {n:,} a month: {top}")
    return f"What dominates ours ({ours_bill.name}), list price:\n\n" + "\n".join(parts)


def _what_would_lower_it(inputs: BillInputs, ours_bill: SystemBill, provisioned: SystemBill) -> str:
    """The levers the figures point at, priced with the same inputs."""
    usage = inputs.costs[ours_bill.name].usages[0]
    big = VOLUMES[-1]
    repeated = sum(inputs.logs.repeated.values())
    log_saving = dollars(logs(repeated, inputs.logs.compression).times(big))
    on_demand_writes = usage.wru / usage.tasks * big * PRICES["dynamodb_wru"]
    average_wcu = usage.wru / usage.tasks * big / (HOURS_PER_MONTH * 3600)
    fixed = sum(
        dollars(line.quantities(0))
        for line in ours_bill.lines
        if not line.optional and line.label.startswith(("CloudWatch", "custom metrics"))
    )
    repeats = [
        f"- Log lines that repeat another line ({repeated:.0f} B of the "
        f"{inputs.logs.per_task:.0f} B a task: "
        + "; ".join(f"{what} {size:.0f} B" for what, size in inputs.logs.repeated.items())
        + f"): dropping them saves ${log_saving:,.2f} at {big:,} a month (a logging level "
        "for `django.tasks` in settings)."
    ]
    return "\n".join(
        [
            "What would lower ours (not in the on-demand rows above):",
            "",
            *(repeats if repeated else []),
            f"- DynamoDB writes are ${on_demand_writes:,.2f} of the 100M bill on demand "
            f"({average_wcu:,.0f} WCU on average). `TableCapacity=provisioned` bills the "
            f"table's capacity instead: {provisioned.name} costs "
            f"${provisioned.total(big):,.2f} in all at {big:,} a month, against "
            f"${ours_bill.total(big):,.2f} (the rows above, and the last table). A lever for "
            "steady traffic only: a burst faster than auto scaling follows is throttled "
            '(README, "What it costs").',
            f"- The fixed monitoring (dashboard, alarms, custom metrics): ${fixed:,.2f} a month "
            "at list price, most of it inside the free tier when the account has no other "
            "dashboards, alarms or metrics. Zappa ships none. A stage makes "
            f"{template_facts.dashboards()} dashboard, whatever its queues: each queue's "
            "dead letters, backlog and worker are found on it by SEARCH, not on a page a "
            "queue at $3 a month each.",
            f"- The secret: Secrets Manager ${BILL['secrets_manager_secret_month']:.2f} a month; "
            "an SSM Parameter Store standard SecureString costs nothing, but CloudFormation "
            "resolves `ssm-secure` references for a few properties only (not a function's "
            "environment), so the functions would read it when they start, as the web stage "
            "reads its secret.",
        ]
    )


def _celery_note(found: list[SystemBill], worker: WorkerProcess | None) -> str:
    celery_bill = next((b for b in found if b.name == "celery"), None)
    if celery_bill is None:
        return "Celery: not measured in this run."
    note = "Celery's fleet: " + "; ".join(celery_bill.notes) + "."
    if worker is None:
        return note + " (No measurement of its worker: one t4g.micro assumed.)"
    prices = ", ".join(
        f"{name} ${hourly}/h, {memory:g} GiB, {baseline:.0%} of a vCPU"
        for name, (hourly, _, memory, baseline) in EC2_T4G.items()
    )
    return (
        f"{note} Sized from its worker as measured in section 1: "
        f"{worker.cpu_seconds_per_task * 1000:.1f} ms of CPU a task and "
        f"{worker.peak_rss_mb:.0f} MB resident (a bare Celery app: a Django project's worker "
        f"is larger). t4g (2 vCPUs each): {prices}."
    )


def _lines_table(found: list[SystemBill], tasks: int) -> str:
    rows = []
    for bill in found:
        for line in bill.lines:
            cost = dollars(line.quantities(tasks))
            rows.append(
                (
                    bill.name,
                    line.label + (" (not in the total)" if line.optional else ""),
                    f"${cost:,.2f}",
                )
            )
        rows.append((f"**{bill.name}**", "**total**", f"**${bill.total(tasks):,.2f}**"))
    return table(("system", "line", "list price"), rows)


MONITORING = ("CloudWatch", "custom metrics")  # the lines a stack could do without


def _floor(found: list[SystemBill]) -> str:
    """What ours costs at the smallest volume with no monitoring at all, beside the
    cheapest: whether trimming the fixed costs could ever meet the goal there."""
    ours_bill, n = found[0], VOLUMES[0]
    kept = [
        (dollars(line.quantities(n)), line.label)
        for line in ours_bill.lines
        if not line.optional and not line.label.startswith(MONITORING)
    ]
    floor = sum(cost for cost, _ in kept)
    cheapest = min(found, key=lambda bill: bill.total(n))
    biggest = ", ".join(f"{label} ${cost:,.2f}" for cost, label in sorted(kept, reverse=True)[:4])
    said = (
        f"Without any alarm, dashboard or custom metric, ours at {n:,} tasks a month would "
        f"still cost ${floor:,.2f} at list price ({biggest}), against {cheapest.name}'s "
        f"${cheapest.total(n):,.2f} in all."
    )
    if floor <= cheapest.total(n):
        return said
    return (
        f"{said} The event source mappings' idle polling (Lambda keeps polling an empty "
        "queue), the secrets and the periodic jobs that keep the guarantees (relay-outbox "
        "every minute, contract 9) are paid while nothing runs, so the goal at this volume "
        "cannot be met by trimming the fixed costs: Zappa's asynchronous tasks have no "
        "queue, no retries, no dead letters and no schedule of their own to pay for."
    )


def _provisioned_verdict(found: list[SystemBill], provisioned: list[SystemBill]) -> str:
    """The goal checked again for ours with a provisioned table, against the same peers."""
    peers = [bill for bill in found if bill.name not in (OURS_SINGLE, OURS_BULK)]
    lines = [
        "With a provisioned table (`TableCapacity=provisioned`; steady traffic only, see the "
        "assumptions), against the same peers:"
    ]
    for bill in provisioned:
        for n in VOLUMES:
            totals = {peer.name: peer.total(n) for peer in peers}
            cheapest = min(totals, key=totals.__getitem__)
            ratio = bill.total(n) / totals[cheapest]
            goal = 1.0 if n < VOLUMES[-1] else GOAL_VS_CHEAPEST
            met = ratio <= goal + 1e-9
            lines.append(
                f"- {bill.name}, {n:,} a month, list price: ${bill.total(n):,.2f}, the "
                f"cheapest is {cheapest} at ${totals[cheapest]:,.2f} ({ratio:.2f}x): "
                f"**{'met' if met else 'missed'}**"
            )
    return "\n".join(lines)


def _verdict(found: list[SystemBill]) -> str:
    lines = [
        "Goal: the cheapest at 10,000 and 1,000,000 tasks a month, within 1.5x of the "
        "cheapest at 100,000,000."
    ]
    ours_bill = found[0]
    for n in VOLUMES:
        for free_tier in (False, True):
            totals = {bill.name: bill.total(n, free_tier=free_tier) for bill in found}
            cheapest = min(totals, key=totals.__getitem__)
            ratio = totals[ours_bill.name] / totals[cheapest]
            goal = 1.0 if n < VOLUMES[-1] else GOAL_VS_CHEAPEST
            met = ratio <= goal + 1e-9
            label = "with free tiers" if free_tier else "list price"
            lines.append(
                f"- {n:,} a month, {label}: ours ${totals[ours_bill.name]:,.2f}, the cheapest "
                f"is {cheapest} at ${totals[cheapest]:,.2f} ({ratio:.2f}x): "
                f"**{'met' if met else 'missed'}**"
            )
    return "\n".join(lines)
