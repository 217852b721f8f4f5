"""Flow control (issue 17): what each option costs when its limit is not reached, and how
long tasks wait under a saturated limit, against the ideal.

Requests: the same no-op task, run under each option through `functions.worker.handler`
in-process (moto), the event source mapping's requests counted as Lambda makes them;
each option's requests and DynamoDB write units per task, beside the plain task's.

Delay: a virtual clock drives the limits' real counters (the limits table, in moto). All
tasks are enqueued at once; a task the limit refuses is handed back for the time the limit
says, rounded up to the whole second SQS's visibility timeout takes, and tried again then.
Lambda runs as many workers as there are messages, so the limit alone sets the pace. The
ideal is the limit's own schedule: the i-th start of a rate at i/rate seconds; under a
concurrency limit, each place taken again the instant it is given back.
"""

import bisect
import heapq
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any
from unittest import mock

from bench import inprocess
from bench.counting import RequestCounter, counting
from bench.pricing import PRICES
from bench.stats import percentile
from sqs_tasks import aws, queues
from sqs_tasks.limits import Concurrency, Rate
from sqs_tasks.limits import counters as counters_module
from sqs_tasks.limits.counters import Admitted, Counters
from sqs_tasks.limits.gate import RATE, RESERVATION_GRACE, Gate, Held, LimitRef, Reservations
from sqs_tasks.testing import delete_done
from sqs_tasks.worker.disposition import visibility_seconds

TITLE = (
    "## 12. Flow control: the price of each option, and waiting under a saturated limit (issue 17)"
)
SUMMARY_PREFIX = "- **Flow control**"
LIMITS_TABLE = "app-test-rate-limits"  # tests/aws_resources.py, as the benchmarks run
LEASE_SECONDS = 900.0  # a worker's lease lasts until its invocation's hard end


@dataclass(frozen=True)
class OptionCost:
    option: str
    requests: float  # per task
    write_units: float  # DynamoDB WRU per task (a transaction's item costs two)
    read_units: float  # DynamoDB RRU per task
    sqs_requests: float  # per task

    @property
    def dollars_per_million(self) -> float:
        return 1e6 * (
            self.sqs_requests * PRICES["sqs_request"]
            + self.write_units * PRICES["dynamodb_wru"]
            + self.read_units * PRICES["dynamodb_rru"]
        )


@dataclass(frozen=True)
class Saturation:
    scenario: str
    tasks: int
    ideal_seconds: float  # the last start, on the limit's own schedule
    actual_seconds: float
    extra_wait_mean: float  # seconds each task started later than on the ideal schedule
    extra_wait_p99: float
    tries_per_task: float  # each a receive, a counter write and a visibility change
    busiest_second: int | None = None  # a rate's most starts in any one second (sliding)


def measure_options(tasks: int) -> list[OptionCost]:
    from bench import flow_tasks  # declares tasks: Django's settings must be ready

    keys = flow_tasks.KEYS
    options = {
        "no option": (flow_tasks.plain, "default", 0),
        "rate limit (not reached)": (flow_tasks.rated, "default", 0),
        "concurrency key (not reached, its keys in use)": (flow_tasks.keyed, "default", keys),
        "message group (fair queue)": (flow_tasks.grouped, "default", 0),
        "priority lane (express)": (flow_tasks.plain.using(priority=50), "default-express", 0),
    }
    costs = [
        _option_cost(name, task, queue, tasks, warm_up=warm)
        for name, (task, queue, warm) in options.items()
    ]
    # Once per key: the first task on a key also makes its counter item.
    first = _option_cost(FIRST_USE, flow_tasks.keyed, "default", keys)
    return [*costs, first]


FIRST_USE = "concurrency key, a key's first use (once per key)"


def _option_cost(name: str, task: Any, queue: str, tasks: int, warm_up: int = 0) -> OptionCost:
    """The requests of `tasks` calls, after `warm_up` calls that are not counted (they
    make what a running system already has, such as a concurrency key's counter)."""
    with inprocess.mocked_aws() as urls:
        queue_url = urls[queue]
        arn = inprocess.arn_of(queue_url)
        if warm_up:
            task.enqueue_many([((n,), {}) for n in range(warm_up)])
            _run_until_empty(queue_url, arn)
            aws.reset_clients()  # made again inside the count, where it sees them
        # The ARN's lookup may have made the SQS client before counting began: watch it too.
        with counting(aws.client("sqs"), keep_params=True) as counter:
            results = task.enqueue_many([((n,), {}) for n in range(tasks)])
            _run_until_empty(queue_url, arn)
        statuses = {task.get_result(result.id).status for result in results}
        if statuses != {"SUCCESSFUL"}:
            raise RuntimeError(f"{name}: not every task succeeded: {statuses}")
    writes, reads = _units(counter)
    return OptionCost(
        option=name,
        requests=counter.calls / tasks,
        write_units=writes / tasks,
        read_units=reads / tasks,
        sqs_requests=counter.sqs_chunks / tasks,
    )


def _run_until_empty(queue_url: str, arn: str) -> None:
    while messages := inprocess.receive(queue_url):
        delete_done(queue_url, messages, inprocess.invoke(messages, arn))


def _units(counter: RequestCounter) -> tuple[float, float]:
    """DynamoDB write and read units, small items: one unit an item, two in a transaction."""
    writes = float(counter.dynamodb_writes)
    for service, operation, params in counter.log or []:
        if (service, operation) == ("dynamodb", "TransactWriteItems"):
            writes += 2 * len(params["TransactItems"])
    return writes, counter.dynamodb_reads


# -- saturation ----------------------------------------------------------------------------


@contextmanager
def _virtual_clock() -> Iterator[list[float]]:
    """The counters read `time.time()` for leases: give them the simulation's clock."""
    now = [1_000_000.0]
    with mock.patch.object(counters_module.time, "time", lambda: now[0]):
        yield now


def saturated_rate(tasks: int, per_second: int, late_up_to: float = 0.0) -> Saturation:
    """Every task through the gate as the runner calls it, each carrying the starts it
    reserved, as its next message copy would. With `late_up_to`, each copy comes back up
    to that many seconds later than its delay (uniformly, seeded): Lambda's batching
    window, a busy worker."""
    lateness = random.Random(17)
    gate = Gate(LIMITS_TABLE, {"saturated": Rate(per_second, per="second")})
    task = SimpleNamespace(limits=("saturated",), module_path="bench")
    refs = (LimitRef(RATE, "saturated"),)
    with inprocess.mocked_aws(), _virtual_clock() as clock:
        start = clock[0]
        tries: list[tuple[float, int]] = [(start, n) for n in range(tasks)]
        heapq.heapify(tries)
        reserved: dict[int, Reservations] = {}
        starts, attempts = [], 0
        while tries:
            moment, n = heapq.heappop(tries)
            clock[0] = moment
            attempts += 1
            outcome = gate.admit(
                task, f"task-{n}", refs, moment + LEASE_SECONDS, reserved.get(n, ()), now=moment
            )
            if isinstance(outcome, Held):
                reserved[n] = outcome.reserved
                late = lateness.uniform(0, late_up_to)
                heapq.heappush(tries, (moment + visibility_seconds(outcome.wait) + late, n))
            else:
                starts.append(moment - start)
    ideal = [index / per_second for index in range(tasks)]
    scenario = f"rate {per_second}/s, {tasks} tasks at once"
    if late_up_to:
        scenario += f", copies up to {late_up_to:g} s late"
    found = _saturation(scenario, starts, ideal, attempts)
    starts.sort()
    busiest = max(bisect.bisect_left(starts, t + 1.0) - i for i, t in enumerate(starts))
    return replace(found, busiest_second=busiest)


def saturated_concurrency(tasks: int, places: int, task_seconds: float) -> Saturation:
    limit = Concurrency(places)
    with inprocess.mocked_aws(), _virtual_clock() as clock:
        start = clock[0]
        counters = Counters(LIMITS_TABLE)
        # (moment, order, kind, task): a place given back before a try at the same instant
        events: list[tuple[float, int, str, int]] = [(start, 1, "try", n) for n in range(tasks)]
        heapq.heapify(events)
        starts, attempts = [], 0
        while events:
            moment, _, kind, n = heapq.heappop(events)
            clock[0] = moment
            task_id = f"task-{n}"
            if kind == "finish":
                update = counters.release_update(task_id, ran_for=task_seconds)
                aws.client("dynamodb").update_item(
                    TableName=LIMITS_TABLE,
                    Key={"id": {"S": "concurrency:bench"}},
                    **update.request(),
                )
                continue
            attempts += 1
            outcome, _ = counters.acquire(
                "concurrency:bench", limit, task_id, moment + LEASE_SECONDS
            )
            if isinstance(outcome, Admitted):
                starts.append(moment - start)
                heapq.heappush(events, (moment + task_seconds, 0, "finish", n))
            else:
                heapq.heappush(events, (moment + visibility_seconds(outcome.wait), 1, "try", n))
    ideal = [(index // places) * task_seconds for index in range(tasks)]
    scenario = f"concurrency {places}, {tasks} tasks of {task_seconds:g} s at once"
    return _saturation(scenario, starts, ideal, attempts)


def _saturation(
    scenario: str, starts: list[float], ideal: list[float], attempts: int
) -> Saturation:
    starts = sorted(starts)
    extra = [actual - wanted for actual, wanted in zip(starts, ideal, strict=True)]
    return Saturation(
        scenario=scenario,
        tasks=len(starts),
        ideal_seconds=ideal[-1],
        actual_seconds=starts[-1],
        extra_wait_mean=sum(extra) / len(extra),
        extra_wait_p99=percentile(extra, 0.99),
        tries_per_task=attempts / len(starts),
    )


# -- the report ------------------------------------------------------------------------------


def measure(tasks: int) -> tuple[list[OptionCost], list[Saturation]]:
    aws.reset_clients()
    queues.clear_caches()
    costs = measure_options(tasks)
    saturations = [
        saturated_rate(max(tasks, 100), per_second=10),
        saturated_rate(max(tasks, 100), per_second=10, late_up_to=2.0),
        saturated_concurrency(min(tasks, 60), places=1, task_seconds=2.0),
        saturated_concurrency(min(tasks, 60), places=5, task_seconds=10.0),
    ]
    return costs, saturations


def render(costs: list[OptionCost], saturations: list[Saturation], tasks: int) -> str:
    plain = costs[0]
    rows = [
        "| option | requests/task | extra | DynamoDB WRU/task | extra $ per million tasks |",
        "|---|---:|---:|---:|---:|",
    ]
    for cost in costs:
        rows.append(
            f"| {cost.option} | {cost.requests:.2f} | {cost.requests - plain.requests:+.2f} | "
            f"{cost.write_units:.2f} | "
            f"{cost.dollars_per_million - plain.dollars_per_million:+.2f} |"
        )
    waits = [
        "| saturated limit | ideal last start | actual | extra wait, mean | p99 | tries/task "
        "| most starts in one second |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for found in saturations:
        waits.append(
            f"| {found.scenario} | {found.ideal_seconds:.1f} s | {found.actual_seconds:.1f} s | "
            f"{found.extra_wait_mean:.2f} s | {found.extra_wait_p99:.2f} s | "
            f"{found.tries_per_task:.2f} | "
            f"{'' if found.busiest_second is None else found.busiest_second} |"
        )
    doc = (__doc__ or "").split("\n\n", 1)[-1]
    return "\n\n".join(
        [
            TITLE,
            " ".join(doc.split()),
            f"### Requests per task ({tasks:,} tasks each, limits not reached)",
            "\n".join(rows),
            "A rate limit is one conditional UpdateItem per start. A concurrency key is one "
            "UpdateItem to take the place, and gives it back inside the outcome's write: the "
            "same request, made a TransactWriteItems (two write units per item it writes). "
            "The first task on a key also makes the key's counter item (its UpdateItem finds "
            "no item, and a PutItem makes it holding the task's place: the last row, once "
            "per key, measured over as many tasks as keys). A message group and a lane cost "
            "nothing: SQS's own fields and queues.",
            "### Waiting under a saturated limit",
            "\n".join(waits),
            "Extra wait is each start against the same start on the ideal schedule. A task "
            "a rate refuses reserves the next free start (up to 15 minutes ahead) and a "
            "fresh copy of its message, delayed until then, carries the reservation: the "
            "waiting tasks start one interval apart, each within the second SQS's whole-"
            "second delays allow, and each tries twice (refused, then started). A "
            f"reservation is good until {RESERVATION_GRACE:g} s after its time: copies that "
            "come back late (the second row: up to 2 s, as Lambda's batching window can "
            "make them) still start on it, and the starts of those seconds can bunch: the "
            "last column is the most starts in any one-second window. No one "
            "announces a freed concurrency place: a refused task looks again when the "
            "last holder should be done (the counter keeps when the last place was taken "
            "and the attempts' average time, at no extra request), at least 1 s and at "
            f"most {counters_module.CONCURRENCY_RECHECK:g} s later. The waiters all come "
            "back then and one wins, so tries per task grow with the line.",
        ]
    )


def summary_line(costs: list[OptionCost], saturations: list[Saturation]) -> str:
    plain = costs[0]
    steady = [cost for cost in costs if cost.option != FIRST_USE]
    extra = max(cost.requests - plain.requests for cost in steady)
    (first,) = [cost for cost in costs if cost.option == FIRST_USE]
    rate = saturations[0]
    return (
        f"{SUMMARY_PREFIX}: at most {extra:+.2f} AWS requests per task for any option "
        f"(goal ≤ 1; a concurrency key's first use {first.requests - plain.requests:+.2f}, "
        f"once per key); a saturated {rate.scenario.split(',')[0]} starts its last task "
        f"{rate.actual_seconds - rate.ideal_seconds:.1f} s after the ideal "
        f"({rate.extra_wait_mean:.2f} s extra wait on average)."
    )
