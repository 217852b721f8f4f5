"""What goes wrong in the chaos world, and when: one seeded RNG decides everything.

Every AWS call a process makes (SQS through the fake, DynamoDB and S3 through botocore's
event hooks on the real clients, which moto answers) passes through here twice:

    before the call   the process spends a few virtual milliseconds (others run meanwhile);
                      a crashing process may die here (the call never happens); the call
                      may be refused (throttled, or failing after botocore's retries)
    after the call    it took effect; a crashing process may die here (its effect stays,
                      it never sees the answer), or the answer may be lost (a read timeout)

A crash plan picks, for one process, the AWS call at which it dies. Outages are windows of
virtual minutes in which one service refuses nearly everything.
"""

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.exceptions import ReadTimeoutError

from sqs_tasks import aws
from stack import emulator_dynamodb
from tests.chaos.simulation import Process, ProcessDied, Simulation
from tests.chaos.sqs import client_error

REFUSALS = {
    "sqs": ("ServiceUnavailable", "ThrottlingException", "InternalError"),
    "dynamodb": ("ProvisionedThroughputExceededException", "InternalServerError"),
    "s3": ("SlowDown", "InternalError"),
}
# The last AWS call at which a crash plan may strike, per kind of process: past it, most
# processes of that kind have finished, so the crash would rarely happen.
CRASH_WITHIN = {"invocation": 40, "web": 6, "relay": 8, "reconciler": 20}


@dataclass(frozen=True)
class FaultRates:
    refuse: float = 0.01  # a call refused: no effect
    lose_response: float = 0.004  # a call took effect, its answer was lost
    # one entry of a SendMessageBatch / DeleteMessageBatch, one statement of a
    # BatchExecuteStatement
    refuse_entry: float = 0.02
    crash: dict[str, float] = field(
        default_factory=lambda: {"invocation": 0.05, "web": 0.08, "relay": 0.05, "reconciler": 0.05}
    )
    duplicate_batch: float = 0.03  # Lambda invokes the function twice with one batch
    late_copy: float = 0.03  # a sent message gets a late copy (new id, same body)
    visible_again: float = 0.02  # a received message is visible again within seconds
    ghost: float = 0.004  # a deleted message comes back
    outages: int = 2  # windows in which one service refuses 90% of calls
    outage_minutes: tuple[float, float] = (2.0, 6.0)
    # A bad deploy of the default worker: every invocation dies at start-up for this long,
    # so messages pile up receives until SQS moves them to the dead-letter queue itself
    # (10 receives, 1,200 s apart, take 3.3 hours). 0: none.
    broken_deploy_hours: float = 4.0
    latency: tuple[float, float] = (0.002, 0.030)  # seconds per AWS call


QUIET = FaultRates(
    refuse=0,
    lose_response=0,
    refuse_entry=0,
    crash={},
    duplicate_batch=0,
    late_copy=0,
    visible_again=0,
    ghost=0,
    outages=0,
    broken_deploy_hours=0,
)


@dataclass
class FaultStats:
    refused: int = 0
    entries_refused: int = 0
    responses_lost: int = 0
    crashes: dict[str, int] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # "service:Operation" -> calls


class Faults:
    def __init__(self, rates: FaultRates, rng: random.Random, simulation: Simulation) -> None:
        self.rates = rates
        self.rng = rng
        self.simulation = simulation
        self.stats = FaultStats()
        self.outages: list[tuple[float, float, str]] = []

    def plan_outages(self, start: float, end: float) -> None:
        for _ in range(self.rates.outages):
            at = self.rng.uniform(start, end)
            length = 60 * self.rng.uniform(*self.rates.outage_minutes)
            self.outages.append((at, at + length, self.rng.choice(("sqs", "dynamodb"))))

    def crash_plan(self, process: Process) -> Process:
        """Maybe give `process` a call to die at."""
        if self.rng.random() < self.rates.crash.get(process.kind, 0.0):
            process.crash_at_call = self.rng.randint(1, CRASH_WITHIN.get(process.kind, 20))
            process.crash_after_effect = self.rng.random() < 0.5
        return process

    def _refusal_rate(self, service: str) -> float:
        now = self.simulation.now
        if any(start <= now < end and down == service for start, end, down in self.outages):
            return 0.9
        return self.rates.refuse

    # -- the two passes of every call ---------------------------------------------------

    def before_call(self, service: str, operation: str) -> None:
        process = self.simulation.current()
        if process is None:
            return  # the world's own set-up and audit
        if process.dead:
            raise ProcessDied(f"{process.name} is dead; {operation} never happens")
        process.calls += 1
        self.stats.calls[f"{service}:{operation}"] += 1
        self.simulation.pause(self.rng.uniform(*self.rates.latency))
        if process.crash_at_call == process.calls and not process.crash_after_effect:
            self._crash(process, f"crashed before {service}:{operation}")
        if self.rng.random() < self._refusal_rate(service):
            self.stats.refused += 1
            code = self.rng.choice(REFUSALS[service])
            raise client_error(code, f"chaos: {operation} refused", operation)

    def after_call(self, service: str, operation: str) -> None:
        process = self.simulation.current()
        if process is None:
            return
        if process.crash_at_call == process.calls and process.crash_after_effect:
            self._crash(process, f"crashed after {service}:{operation} took effect")
        if self.rng.random() < self.rates.lose_response:
            self.stats.responses_lost += 1
            raise ReadTimeoutError(endpoint_url=f"https://{service}.chaos.invalid/")

    def refuse_entry(self, service: str, operation: str) -> bool:
        if self.simulation.current() is None:
            return False
        refused = self.rng.random() < max(self.rates.refuse_entry, self._refusal_rate(service))
        self.stats.entries_refused += refused
        return refused

    def _crash(self, process: Process, reason: str) -> None:
        self.stats.crashes[process.kind] = self.stats.crashes.get(process.kind, 0) + 1
        self.simulation.kill(process, reason)


def statement_faults(faults: Faults) -> Any:
    """DynamoDB answers each statement of a BatchExecuteStatement on its own (the outbox's
    INSERTs, stack.emulator_dynamodb): at the batch-entry rate, half of those picked are
    refused before they take effect (throttled), half fail after (an internal error on a
    write that went through)."""
    insert = emulator_dynamodb._insert

    def answer(backend: Any, statement: dict[str, Any]) -> dict[str, Any]:
        if not faults.refuse_entry("dynamodb", "BatchExecuteStatement"):
            return insert(backend, statement)
        if faults.rng.random() < 0.5:
            code = faults.rng.choice(("ThrottlingError", "ProvisionedThroughputExceeded"))
            return {"Error": {"Code": code, "Message": "chaos: statement refused"}}
        written = insert(backend, statement)
        if "Error" in written:
            return written
        return {"Error": {"Code": "InternalServerError", "Message": "chaos: written, then failed"}}

    return mock.patch.object(emulator_dynamodb, "_insert", answer)


def instrument(service: str, faults: Faults, observe: Any) -> None:
    """Route every client's calls to `service` (the patient and the prompt: aws.events)
    through `faults`, and show each call that took effect to `observe(operation, params,
    parsed)` (the ledger) before its answer can be lost."""

    def stash(params: dict, context: dict, **kwargs: Any) -> None:
        context["chaos_params"] = dict(params)

    def before(model: Any, **kwargs: Any) -> None:
        faults.before_call(service, model.name)

    def after(model: Any, parsed: dict, context: dict, **kwargs: Any) -> None:
        if "Error" not in parsed:
            observe(model.name, context.get("chaos_params", {}), parsed)
        faults.after_call(service, model.name)

    events = aws.events(service)
    events.register(f"before-parameter-build.{service}", stash, unique_id=f"chaos-stash-{service}")
    events.register(f"before-call.{service}", before, unique_id=f"chaos-before-{service}")
    events.register(f"after-call.{service}", after, unique_id=f"chaos-after-{service}")


def uninstrument(service: str) -> None:
    events = aws.events(service)
    for stage, name in (
        ("before-parameter-build", "stash"),
        ("before-call", "before"),
        ("after-call", "after"),
    ):
        events.unregister(f"{stage}.{service}", unique_id=f"chaos-{name}-{service}")
