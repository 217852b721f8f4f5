"""The chaos world: web processes enqueue thousands of tasks; Lambda's event source mappings
feed them to `functions.worker.handler` in concurrent invocations; `relay-outbox` runs every
virtual minute and `reconcile-tasks` every five, as their schedules do; everything fails as
AWS can (faults.py). When the world has drained, the ledger audits what came of each task.

The shape of the world is template.yaml's: each worker's queue (visibility timeout,
maxReceiveCount, dead-letter queue), function timeout, batch size, batching window and
MaximumConcurrency (the dev stage's) are read from it. SQS is faked (sqs.py), because moto
keeps delays and visibility in real time and forgives stale receipt handles; DynamoDB and
S3 are moto in process; the outbox is the test database.

What is patched, and why (the code under test is otherwise as it ships):
- moto gets what it lacks of DynamoDB (stack.emulator_dynamodb: the outbox's INSERT batches);
- `sqs_tasks.aws.client("sqs")` returns the fake; DynamoDB and S3 clients get fault hooks,
  and each statement of a batch of INSERTs may fail on its own (faults.statement_faults);
- the worker's time limit uses a virtual SIGALRM per invocation (simulation.py), and the
  pauses between the tries of a write DynamoDB refused (sqs_tasks.refusals) pass in
  virtual time, as the process's own (`VirtualClock`);
- `uuid.uuid4` draws from the seed, and the outbox's parallel puts run one after another
  (`InlineExecutor`), so that one seed replays one run exactly (a failing seed can be run
  again and read).
"""

import copy
import itertools
import json
import logging
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from django.conf import settings
from django.db import transaction
from django.tasks import Task
from django.tasks.signals import task_enqueued
from django.test import override_settings
from moto import mock_aws

from functions.worker import handler
from sqs_tasks import aws, outbox, queues, refusals
from sqs_tasks.item import FAILED, SUCCESSFUL
from sqs_tasks.lambda_events import LambdaContext, sqs_event
from sqs_tasks.models import OutboxEntry
from sqs_tasks.task_results import to_task_result
from sqs_tasks.testing import delete_done
from stack import emulator_dynamodb
from stack.template import load_template, resources_of_type
from tests.aws_resources import create_resources
from tests.chaos import tasks as chaos
from tests.chaos.faults import FaultRates, Faults, instrument, statement_faults, uninstrument
from tests.chaos.ledger import Audit, Ledger, Plan, letter_of
from tests.chaos.simulation import Process, ProcessDied, Simulation, VirtualSignals
from tests.chaos.speed import fast_item_responses
from tests.chaos.sqs import FakeSQS, Queue

logger = logging.getLogger("tests.chaos.world")

REGION = "us-east-1"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
STAGE = "dev"  # whose MaximumConcurrency the mappings get
BACKOFF_BASE, BACKOFF_MAX = 10.0, 3600.0  # the backend's defaults (the test settings say 0)
EXPECTED = "EXPECTED"  # FAILED as the task declared it may: no dead letter

# kind: weight, task, what it must end as
MIX: dict[str, tuple[int, Task, str]] = {
    "quick": (26, chaos.succeeds, SUCCESSFUL),
    "transient": (14, chaos.succeeds, SUCCESSFUL),
    "retry after": (4, chaos.succeeds, SUCCESSFUL),
    "slow": (9, chaos.succeeds, SUCCESSFUL),
    "overrun": (4, chaos.succeeds, SUCCESSFUL),
    "deferred": (8, chaos.succeeds, SUCCESSFUL),
    "dedup": (3, chaos.succeeds, SUCCESSFUL),  # enqueued twice with one dedup_key
    "async": (3, chaos.quick_async, SUCCESSFUL),
    "big": (3, chaos.succeeds, SUCCESSFUL),
    "heavy": (4, chaos.heavy, SUCCESSFUL),
    "overlong": (2, chaos.overlong, SUCCESSFUL),
    "stubborn": (2, chaos.stubborn, SUCCESSFUL),
    "poison": (4, chaos.poison, FAILED),
    "fatal": (3, chaos.fatal, FAILED),
    "expected": (4, chaos.expected, EXPECTED),
    "unstorable": (2, chaos.unstorable, FAILED),
    "killer": (2, chaos.killer, FAILED),
    "runaway": (1, chaos.runaway, FAILED),
}
ENQUEUE_MODES = {"single": 40, "bulk": 25, "atomic": 25, "rollback": 10}
GROUP_SIZES = (1, 1, 1, 2, 3, 5, 10, 20)


@dataclass(frozen=True)
class WorkerSpec:
    """One worker function and its SQS event source, as template.yaml declares them."""

    queue: str  # the Django queue name
    dead_letter_queue: str
    visibility_timeout: int
    max_receive_count: int
    function_timeout: float
    batch_size: int
    batching_window: float
    concurrency: int


def topology(stage: str = STAGE) -> list[WorkerSpec]:
    template = load_template()
    resources, mappings = template["Resources"], template.get("Mappings", {})
    default_timeout = template.get("Globals", {}).get("Function", {}).get("Timeout", 3)

    def resolved(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::FindInMap" in value:
            name, _, key = value["Fn::FindInMap"]
            return mappings[name][stage][key]
        if isinstance(value, dict) and "Fn::If" in value:  # the one condition: IsProd
            condition, if_true, if_false = value["Fn::If"]
            assert condition == "IsProd", condition
            return resolved(if_true if stage == "prod" else if_false)
        return value

    def suffix(queue_name: Any) -> str:  # {"Fn::Sub": "${AppName}-${Stage}-default"}
        return str(queue_name["Fn::Sub"]).split("${Stage}-", 1)[1]

    specs = []
    for function in resources_of_type(template, "AWS::Serverless::Function").values():
        properties = function["Properties"]
        for event in properties.get("Events", {}).values():
            if event.get("Type") != "SQS":
                continue
            source = event["Properties"]
            queue = resources[source["Queue"]["Fn::GetAtt"][0]]["Properties"]
            redrive = queue["RedrivePolicy"]
            dead_letter = resources[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]]
            scaling = source.get("ScalingConfig", {})
            specs.append(
                WorkerSpec(
                    queue=suffix(queue["QueueName"]),
                    dead_letter_queue=suffix(dead_letter["Properties"]["QueueName"]),
                    visibility_timeout=int(queue["VisibilityTimeout"]),
                    max_receive_count=int(redrive["maxReceiveCount"]),
                    function_timeout=float(properties.get("Timeout", default_timeout)),
                    batch_size=int(source.get("BatchSize", 10)),
                    batching_window=float(source.get("MaximumBatchingWindowInSeconds", 0)),
                    concurrency=int(resolved(scaling.get("MaximumConcurrency", 1000))),
                )
            )
    return specs


@dataclass(frozen=True)
class ChaosConfig:
    tasks: int = 200  # committed tasks, at least (rolled-back ones come on top)
    seed: int = 1
    rates: FaultRates = field(default_factory=FaultRates)
    enqueue_minutes: float = 20.0
    deferred_hours: tuple[float, float] = (1.0, 6.0)  # run_after, from the start
    retry_after_seconds: tuple[float, float] = (600.0, 3600.0)  # what Retry-After asks for
    horizon_hours: float = 96.0  # give up waiting for the world to drain after this


@dataclass
class ChaosReport:
    config: ChaosConfig
    audit: Audit
    kinds: dict[str, int]
    rolled_back: int
    stats: dict[str, int]
    virtual_hours: float
    real_seconds: float
    drained: bool
    still_going: str = ""  # what was still happening when the world gave up waiting

    @property
    def committed(self) -> int:
        return sum(self.kinds.values())

    def lines(self) -> list[str]:
        counts = ", ".join(f"{name} {count}" for name, count in self.audit.counts.items())
        lines = [
            f"chaos seed {self.config.seed}: {self.committed} tasks committed "
            f"({self.rolled_back} more rolled back), {self.virtual_hours:.1f} virtual hours "
            f"in {self.real_seconds:.0f} s, "
            + ("drained" if self.drained else f"NOT DRAINED ({self.still_going})"),
            f"  counts: {counts}",
            "  tasks: " + ", ".join(f"{kind} {count}" for kind, count in self.kinds.items()),
            "  faults: " + ", ".join(f"{name} {count}" for name, count in self.stats.items()),
            "  also: " + ", ".join(f"{name} {count}" for name, count in self.audit.info.items()),
        ]
        for name, examples in self.audit.examples.items():
            lines += [f"  {name}: {example}" for example in examples]
        return lines


@dataclass
class VirtualContext(LambdaContext):
    """Lambda's context, its remaining time counted on the virtual clock."""

    hard_end: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.hard_end - time.time()) * 1000))


class VirtualClock(refusals.Clock):
    """The clock a refused write's tries wait on: a pause is the process's, in virtual
    time (time.time() is virtual already)."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def sleep(self, seconds: float) -> None:
        self.simulation.pause(seconds)


@dataclass(eq=False)
class Poller:
    """One event source mapping: polls its queue, invokes its function, deletes what the
    partial batch response does not name."""

    spec: WorkerSpec
    queue: Queue
    in_flight: int = 0
    next_poll: float = 0.0
    gathering: bool = False

    def due(self) -> float:
        if self.in_flight >= self.spec.concurrency:
            return float("inf")
        return max(self.next_poll, self.queue.next_visible_at())


class _RolledBack(Exception):
    pass


class InlineExecutor:
    """What the outbox uses of ThreadPoolExecutor, in the calling thread: every call runs,
    in order, as a pool with a thread per call would run them all, and failures are raised
    as `map` raises them. Real threads would race the caller's cancelling of the rest after
    a failure, and the race would change how a seed plays out."""

    def __init__(self, max_workers: int | None = None) -> None:
        pass

    def __enter__(self) -> "InlineExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def map(self, function: Any, *iterables: Any) -> Iterator[Any]:
        outcomes = []
        for arguments in zip(*iterables, strict=True):
            try:
                outcomes.append((function(*arguments), None))
            except Exception as error:
                outcomes.append((None, error))
        return _results(outcomes)


def _results(outcomes: list[tuple[Any, Exception | None]]) -> Iterator[Any]:
    for value, error in outcomes:
        if error is not None:
            raise error
        yield value


class World:
    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.simulation = Simulation(START)
        self.faults = Faults(config.rates, random.Random(config.seed * 7919 + 1), self.simulation)
        self.ledger = Ledger(BACKOFF_BASE, BACKOFF_MAX)
        self.sqs = FakeSQS(
            region=REGION,
            rng=random.Random(config.seed * 7919 + 2),
            now=lambda: self.simulation.now,
            faults=self.faults,
            on_send=self._sent,
        )
        self.sqs.visible_again_rate = config.rates.visible_again
        self.sqs.ghost_rate = config.rates.ghost
        self.pollers: list[Poller] = []
        self.stats: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self._numbers = itertools.count(1)
        self._pending_injections = 0
        self._enqueued_until = START
        self._settled = False
        self.still_going = "not started"
        self._uuids = random.Random(config.seed * 7919 + 3)
        self._broken = (0.0, 0.0)  # when the default worker's bad deploy is live
        self._first_kinds = self.rng.sample(list(MIX), len(MIX))

    # -- what task bodies use (tasks.py) -------------------------------------------------

    def work(self, seconds: float) -> None:
        self.simulation.pause(seconds)

    def kill_current(self, reason: str) -> None:
        process = self.simulation.current()
        assert process is not None
        self.stats["bodies that killed their invocation"] += 1
        self.simulation.kill(process, reason)

    # -- the run --------------------------------------------------------------------------

    def run(self, log: Path | None = None) -> ChaosReport:
        """Run the world to the end; its log lines (the system's own) go to `log`."""
        started = time.monotonic()
        with ExitStack() as stack:
            self._redirect_logs(stack, log)
            self._enter(stack)
            self._build(stack)
            self._plan_enqueues()
            self.simulation.at(START + 60, self._relay_tick)
            self.simulation.at(START + 300, self._reconcile_tick)
            self._loop(START + self.config.horizon_hours * 3600)
            self.simulation.stop()
            audit = self._audit()
            virtual_hours = (self.simulation.now - START) / 3600
        return ChaosReport(
            config=self.config,
            audit=audit,
            kinds=dict(sorted(self.kinds.items())),
            rolled_back=len(self.ledger.rolled_back - self.ledger.committed),
            stats=self._stats(),
            virtual_hours=virtual_hours,
            real_seconds=time.monotonic() - started,
            drained=self._settled,
            still_going=self.still_going,
        )

    @staticmethod
    def _redirect_logs(stack: ExitStack, log: Path | None) -> None:
        """The console handler's JSON lines (what CloudWatch would get) to a file: still
        written, so logging is exercised as on Lambda, but out of the terminal."""
        stream = stack.enter_context(open(log or os.devnull, "w"))  # noqa: SIM115
        for console in logging.getLogger().handlers:
            if console.get_name() == "console" and isinstance(console, logging.StreamHandler):
                previous = console.setStream(stream)
                stack.callback(console.setStream, previous)

    def _enter(self, stack: ExitStack) -> None:
        options = {
            **settings.TASKS["default"]["OPTIONS"],
            "RETRY_BACKOFF_BASE": BACKOFF_BASE,
            "RETRY_BACKOFF_MAX": BACKOFF_MAX,
        }
        stack.enter_context(
            override_settings(TASKS={"default": {**settings.TASKS["default"], "OPTIONS": options}})
        )
        stack.enter_context(self.simulation)
        stack.callback(random.setstate, random.getstate())
        random.seed(self.config.seed)  # the backoff's jitter
        stack.enter_context(
            mock.patch("uuid.uuid4", lambda: uuid.UUID(int=self._uuids.getrandbits(128), version=4))
        )
        aws.reset_clients()
        queues.clear_caches()
        stack.callback(queues.clear_caches)
        stack.callback(aws.reset_clients)
        stack.enter_context(mock_aws())
        emulator_dynamodb.install()  # the outbox's INSERT batches (this may run outside pytest)
        stack.enter_context(fast_item_responses())
        real_client = aws.client

        def client(service: str) -> Any:
            return self.sqs if service == "sqs" else real_client(service)

        stack.enter_context(mock.patch.object(aws, "client", client))
        stack.enter_context(
            mock.patch("sqs_tasks.runner.middleware.signal", VirtualSignals(self.simulation))
        )
        stack.enter_context(mock.patch.object(outbox, "ThreadPoolExecutor", InlineExecutor))
        stack.enter_context(mock.patch.object(refusals, "clock", VirtualClock(self.simulation)))
        task_enqueued.connect(self._committed)
        stack.callback(task_enqueued.disconnect, self._committed)
        chaos.world = self
        stack.callback(setattr, chaos, "world", None)

    def _build(self, stack: ExitStack) -> None:
        from django.tasks import task_backends

        backend = task_backends["default"]
        session = boto3.session.Session(region_name=REGION)
        create_resources(session)  # the table and bucket (and moto queues nobody uses)
        for service in ("dynamodb", "s3"):
            instrument(service, self.faults, self._observe)
            stack.callback(uninstrument, service)
        stack.enter_context(statement_faults(self.faults))
        for spec in topology():
            dead_letter = self.sqs.create_queue(backend.sqs_queue_name(spec.dead_letter_queue))
            queue = self.sqs.create_queue(
                backend.sqs_queue_name(spec.queue),
                visibility_timeout=spec.visibility_timeout,
                dead_letter=dead_letter.name,
                max_receive=spec.max_receive_count,
            )
            self.pollers.append(Poller(spec, queue))
        self.backend = backend
        # However the run ends, no invocation outlives the world (and its mocks).
        stack.callback(self.simulation.stop)

    def _loop(self, horizon: float) -> None:
        while not self._settled:
            poller = min(self.pollers, key=Poller.due)
            due = poller.due()
            if min(due, self.simulation.next_event_at()) > horizon:
                break
            if due <= self.simulation.next_event_at():
                self.simulation.advance_to(due)
                self._poll(poller)
            else:
                self.simulation.step()

    # -- web processes: enqueue -----------------------------------------------------------

    def _plan_enqueues(self) -> None:
        self._plan_groups(self.config.tasks, START, self.config.enqueue_minutes * 60)
        self.faults.plan_outages(START, self._enqueued_until + 3600)
        if self.config.rates.broken_deploy_hours:
            begins = START + self.rng.uniform(0, 3600)
            self._broken = (begins, begins + self.config.rates.broken_deploy_hours * 3600)

    def _plan_groups(self, count: int, start: float, seconds: float) -> None:
        """Web requests enqueueing `count` tasks (rolled-back ones on top) over `seconds`;
        then, if crashed web processes left fewer committed than asked, more."""
        modes, mode_weights = list(ENQUEUE_MODES), list(ENQUEUE_MODES.values())
        planned = 0
        while planned < count:
            size = min(count - planned, self.rng.choice(GROUP_SIZES))
            (mode,) = self.rng.choices(modes, mode_weights)
            calls = [self._call(self._next_kind()) for _ in range(size)]
            at = start + self.rng.uniform(0, seconds)
            self._enqueued_until = max(self._enqueued_until, at)
            self.simulation.at(at, partial(self._enqueue, mode, calls))
            for call in calls:  # a second request enqueues each deduplicated call again
                if call[1]["plan"]["kind"] == "dedup":
                    again = at + self.rng.uniform(1, 600)
                    self._enqueued_until = max(self._enqueued_until, again)
                    self.simulation.at(again, partial(self._enqueue, "single", [call]))
            if mode != "rollback":
                planned += size
        self.simulation.at(self._enqueued_until + 1, self._top_up)

    def _next_kind(self) -> str:
        """One of each kind first (in a random order), so a small world has them all; then
        kinds by their weights."""
        if self._first_kinds:
            return self._first_kinds.pop()
        (kind,) = self.rng.choices(list(MIX), [weight for weight, _, _ in MIX.values()])
        return kind

    def _top_up(self) -> None:
        missing = self.config.tasks - len(self.ledger.committed)
        if missing > 0:
            self._plan_groups(missing, self.simulation.now, 120)

    def _call(self, kind: str) -> tuple[Task, dict[str, Any]]:
        """A task of this kind and its plan (its one argument)."""
        rng, number = self.rng, next(self._numbers)
        _, task, expects = MIX[kind]
        plan: dict[str, Any] = {"kind": kind, "value": f"{kind}-{number}", "expects": expects}
        timeout = task.timeout or 60.0
        match kind:
            case "transient":
                plan["fail_first"] = rng.randint(1, 3)
            case "retry after":
                asked = round(rng.uniform(*self.config.retry_after_seconds))
                plan |= {"fail_first": 1, "retry_after": asked}
            case "slow":
                plan["work"] = [timeout * rng.uniform(0.85, 0.99)]
                plan["progress"] = True
            case "overrun":  # past its limit once: TaskTimeout, retried as a TimeoutError
                plan["work"] = [timeout * 1.3, rng.uniform(1, 10)]
            case "big":  # arguments and return value through S3
                plan["value"] = f"{kind}-{number}-" + "v" * 9000
                plan["pad"] = "p" * 9000
            case "heavy":
                plan["work"] = [timeout * rng.uniform(0.5, 0.98)]
            case "overlong":
                plan["work"] = [rng.uniform(30, 150)]
            case "poison" | "fatal" | "expected" | "killer":
                plan["fail_first"] = 0 if kind == "poison" else rng.randint(0, 1)
                plan["work"] = [rng.uniform(0.1, 20)]
            case _:
                plan["work"] = [rng.uniform(0.05, 3)]
        if kind == "deferred":
            hours = rng.uniform(*self.config.deferred_hours)
            task = task.using(run_after=datetime.fromtimestamp(START, UTC) + timedelta(hours=hours))
        if kind == "dedup":
            task = task.using(dedup_key=f"chaos-{number}")
        return task, {"plan": plan}

    def _enqueue(self, mode: str, calls: list[tuple[Task, dict[str, Any]]]) -> None:
        number = next(self._numbers)
        web = self.faults.crash_plan(Process(name=f"web-{number}", kind="web"))
        self.stats[f"enqueues: {mode}"] += 1
        self.simulation.run_in_main(web, partial(self._enqueue_as, mode, calls))

    def _enqueue_as(self, mode: str, calls: list[tuple[Task, dict[str, Any]]]) -> None:
        """One web request's enqueues. Before its commit an enqueue may raise (S3 refusing
        a claim-checked argument): the request fails, nothing of it is sent. After its
        commit it must not (contract 9): that is a wrong outcome."""
        if mode in ("single", "bulk"):  # in transactions of their own
            if mode == "single":
                requests = [partial(task.enqueue, **kwargs) for task, kwargs in calls]
            else:
                group = [(task, (), kwargs) for task, kwargs in calls]
                requests = [partial(self.backend.enqueue_many, group)]
            for request in requests:
                committed = len(self.ledger.committed)
                try:
                    request()
                except Exception as error:
                    self._raised(error, after_commit=len(self.ledger.committed) > committed)
                    return
            return
        results = []
        committing = False
        try:
            with transaction.atomic():
                results = [task.enqueue(**kwargs) for task, kwargs in calls]
                if mode == "rollback":
                    raise _RolledBack
                committing = True
        except _RolledBack:
            for result in results:
                self.ledger.plans[result.id] = self._plan_of(result)
                self.ledger.rolled_back.add(result.id)
            return
        except ProcessDied:
            if committing:  # the commit happened; the process died relaying
                for result in results:
                    self._committed(result)
            raise
        except Exception as error:
            self._raised(error, after_commit=committing)
            if not committing:
                return
        for result in results:
            self._committed(result)

    def _raised(self, error: Exception, *, after_commit: bool) -> None:
        if after_commit:
            self.ledger.raised_after_commit.append(f"{self._clock()}: {error!r}")
        else:
            self.stats["enqueues that failed before their commit"] += 1

    def _committed(self, task_result: Any, **kwargs: Any) -> None:
        """A task whose enqueue committed (Django's task_enqueued, sent after the commit)."""
        if task_result.id not in self.ledger.committed:
            self.ledger.plans[task_result.id] = self._plan_of(task_result)
            self.ledger.committed.add(task_result.id)
            self.kinds[task_result.kwargs["plan"]["kind"]] += 1

    @staticmethod
    def _plan_of(task_result: Any) -> Plan:
        plan = task_result.kwargs["plan"]
        run_after = task_result.task.run_after
        return Plan(
            kind=plan["kind"],
            value=plan["value"],
            run_after=run_after.timestamp() if run_after else None,
            retry_after=plan.get("retry_after"),
            expects=plan["expects"],
        )

    # -- the schedules ----------------------------------------------------------------------

    def _relay_tick(self) -> None:
        from sqs_tasks.tasks import relay_outbox

        relay = self.faults.crash_plan(Process(name="relay-outbox", kind="relay"))
        self._periodic(relay, relay_outbox)
        self.simulation.at(self.simulation.now + 60, self._relay_tick)

    def _reconcile_tick(self) -> None:
        from sqs_tasks.tasks import reconcile_tasks

        reconciler = self.faults.crash_plan(Process(name="reconcile-tasks", kind="reconciler"))
        report = self._periodic(reconciler, reconcile_tasks)
        for action, count in (report or {}).items():
            if action != "seen" and count:
                self.stats[f"reconciler: {action}"] += count
        still_going = self._still_going()
        if still_going != self.still_going:
            logger.info("the world waits on: %s", still_going or "nothing")
        self.still_going = still_going
        self._settled = not still_going
        self.simulation.at(self.simulation.now + 300, self._reconcile_tick)

    def _periodic(self, process: Process, task: Task) -> dict[str, Any] | None:
        """Run a periodic task's body as the scheduler's run of it would. If it raises,
        that run of the task fails (and, having max_attempts=1, dead-letters itself)."""
        self.stats[f"{task.name} runs"] += 1
        try:
            return self.simulation.run_in_main(process, task.call)
        except Exception as error:
            self.ledger.periodic_failures.append(f"{task.name} at {self._clock()}: {error!r}")
            return None

    def _still_going(self) -> str:
        """What is left that would happen by itself, or "" when nothing is: every enqueue
        and injection done, no invocation running, no message in a task queue, no outbox
        row, and every dead letter one the reconciler keeps as it is (annotated, of a FAILED
        task owing a letter of that copy, marked sent): any other, it acts on next run."""
        if self.simulation.now < self._enqueued_until or self._pending_injections:
            return "enqueues or late copies to come"
        for poller in self.pollers:
            if poller.in_flight or poller.queue.messages:
                return f"{len(poller.queue.messages)} messages in {poller.queue.name}"
        if OutboxEntry.objects.exists():
            return "outbox rows unsent"
        for poller in self.pollers:
            assert poller.queue.dead_letter is not None
            for message in poller.queue.dead_letter.messages.values():
                task_id, copy, annotated = letter_of(message.body, message.attributes)
                item = self.backend.results.get(task_id) if annotated else None
                note = item.dead_letter if item is not None else None
                if note is None or item.status != FAILED or note.copy != copy or not note.sent:
                    return f"a dead letter for the reconciler ({task_id})"
        return ""

    def _clock(self) -> str:
        return f"+{(self.simulation.now - START) / 60:.1f} min"

    # -- Lambda's event source mappings -----------------------------------------------------

    def _poll(self, poller: Poller) -> None:
        now = self.simulation.now
        if poller.spec.batching_window and not poller.gathering:
            poller.gathering = True  # wait the batching window for a fuller batch
            poller.next_poll = now + poller.spec.batching_window
            return
        poller.gathering = False
        mapping = Process(name=f"{poller.queue.name} event source mapping", kind="mapping")
        try:
            response = self.simulation.run_in_main(
                mapping,
                lambda: self.sqs.receive_message(
                    QueueUrl=poller.queue.url,
                    MaxNumberOfMessages=poller.spec.batch_size,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                    WaitTimeSeconds=20,
                ),
            )
        except Exception:  # refused, or its answer lost: the messages come back later
            response = None
        messages = (response or {}).get("Messages", [])
        if not messages:
            poller.next_poll = now + 1.0
            return
        poller.next_poll = now
        self._invoke(poller, messages, now + self.rng.uniform(0.005, 0.05))
        if self.rng.random() < self.config.rates.duplicate_batch:
            self.stats["batches delivered twice"] += 1
            self._invoke(poller, copy.deepcopy(messages), now + self.rng.uniform(0.05, 3.0))

    def _invoke(self, poller: Poller, messages: list[dict[str, Any]], at: float) -> None:
        poller.in_flight += 1
        name = f"worker-{poller.spec.queue}-{next(self._numbers)}"
        invocation = self.faults.crash_plan(
            Process(name=name, kind="invocation", hard_end=at + poller.spec.function_timeout)
        )
        self.stats["invocations"] += 1

        def run() -> None:
            try:
                self._invocation(poller, invocation, messages)
            finally:
                poller.in_flight -= 1
                poller.next_poll = min(poller.next_poll, self.simulation.now)

        self.simulation.spawn(invocation, run, at)

    def _invocation(self, poller: Poller, process: Process, messages: list[dict]) -> None:
        context = VirtualContext(
            function_name=process.name,
            timeout_seconds=poller.spec.function_timeout,
            aws_request_id=str(uuid.uuid4()),
            hard_end=process.hard_end,
        )
        event = sqs_event(messages, poller.queue.arn, REGION)
        begins, ends = self._broken
        if poller.spec.queue == "default" and begins <= self.simulation.now < ends:
            self.stats["invocations died: broken deploy"] += 1
            return  # it never got past its imports: Lambda returns the whole batch
        try:
            response: Any = handler(event, context)
        except ProcessDied:
            self.stats[f"invocations died: {_cause(process.died_of)}"] += 1
            return
        except Exception:  # a function error: Lambda returns the whole batch
            self.stats["invocations that raised"] += 1
            return
        failed = _lambda_reads(response, messages)
        if failed is None:
            self.stats["invalid batch responses"] += 1
            return
        mapping = Process(name=f"{poller.queue.name} event source mapping", kind="mapping")
        self.simulation.become(mapping)
        try:
            delete_done(
                poller.queue.url,
                messages,
                {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]},
            )
        except Exception:  # the messages come back, and are judged again
            self.stats["deletes refused"] += 1

    # -- SQS's own at-least-once ------------------------------------------------------------

    def _sent(self, queue: Queue, message: Any) -> None:
        """A message was sent: maybe a late copy of it arrives hours later (a new id)."""
        if queue.dead_letter is None or self.simulation.current() is None:
            return
        if self.rng.random() >= self.config.rates.late_copy:
            return
        self._pending_injections += 1
        body, attributes = message.body, message.attributes

        def arrive() -> None:
            self._pending_injections -= 1
            self.sqs.inject(queue, body, attributes)
            self.stats["late copies"] += 1

        self.simulation.at(self.simulation.now + self.rng.uniform(60, 4 * 3600), arrive)

    # -- what the ledger sees -----------------------------------------------------------------

    def _observe(self, operation: str, params: dict, parsed: dict) -> None:
        process = self.simulation.current()
        self.ledger.observe_write(
            operation, params, parsed, self.simulation.now, process.last_run if process else None
        )

    # -- the end ------------------------------------------------------------------------------

    def _audit(self) -> Audit:
        backend = self.backend
        ids = sorted(self.ledger.committed | self.ledger.rolled_back)
        items = {task_id: backend.results.get(task_id) for task_id in ids}
        return_values = {
            task_id: to_task_result(item, backend.payloads).return_value
            for task_id, item in items.items()
            if item is not None and item.status == SUCCESSFUL
        }
        outbox_ids = set(OutboxEntry.objects.values_list("task_id", flat=True))
        letters, queued = [], set()
        for poller in self.pollers:
            assert poller.queue.dead_letter is not None
            letters += [
                letter_of(message.body, message.attributes)
                for message in poller.queue.dead_letter.messages.values()
            ]
            queued |= {
                str(json.loads(message.body).get("id", ""))
                for message in poller.queue.messages.values()
            }
        return self.ledger.audit(items, return_values, outbox_ids, letters, queued)

    def _stats(self) -> dict[str, int]:
        found = Counter(self.stats)
        sqs = self.sqs.stats
        found["messages sent"] = sqs.sent
        found["receives"] = sqs.received
        found["moved to a DLQ by SQS (maxReceiveCount)"] = sqs.moved_to_dead_letter_queue
        found["visible again mid-run"] = sqs.visible_again_early
        found["deleted messages back (ghosts)"] = sqs.ghosts
        found["stale receipt handles refused"] = sqs.stale_handles_refused
        found["deletes with a stale handle ignored"] = sqs.stale_deletes_ignored
        found["AWS calls refused"] = self.faults.stats.refused
        found["batch entries refused"] = self.faults.stats.entries_refused
        found["answers lost"] = self.faults.stats.responses_lost
        for kind, count in self.faults.stats.crashes.items():
            found[f"crashes: {kind}"] = count
        for call, count in self.faults.stats.calls.items():
            found[f"calls: {call}"] = count
        return dict(sorted(found.items()))


def _lambda_reads(response: Any, messages: list[dict]) -> set[str] | None:
    """The message ids to keep, as Lambda reads a partial batch response; None when Lambda
    would fail the whole batch (not a dict, or an identifier that is empty or unknown)."""
    ids = {message["MessageId"] for message in messages}
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures") or []
    kept = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in ids:
            return None
        kept.add(identifier)
    return kept


def _cause(died_of: str) -> str:
    if died_of.startswith("crashed"):
        return "crash"
    if "time ran out" in died_of:
        return "function timeout"
    return "body crashed it"


def run_world(config: ChaosConfig, log: Path | None = None) -> ChaosReport:
    return World(config).run(log)
