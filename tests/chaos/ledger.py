"""What happened in the chaos world, written down as it happened, and the audit of it.

The ledger is kept apart from the system under test: task bodies write their runs here
(virtual start and end, how they ended), the botocore hook shows it every DynamoDB write
that took effect (the gates `not_before` as they are written, the claims, and which
attempt's outcome was recorded), and the web processes say what they committed. The audit
then reads the final state (items, dead-letter queues, queues, outbox) and counts what
COUNTS lists, each of which must be 0.
"""

import itertools
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.tasks import TaskResultStatus

from sqs_tasks.item import FAILED, FINISHED, SUCCESSFUL, TaskItem
from sqs_tasks.runner.retry import MAX_VISIBILITY
from stack import emulator_dynamodb

LOST_ATTEMPT = "sqs_tasks.exceptions.WorkerLost"
SLACK = 0.1  # seconds: an AWS call's virtual latency between reading the clock and writing
ROUNDING = 0.001  # the item keeps not_before to the millisecond
COUNTS = {
    "lost": "committed, yet no item and no outbox row: the system forgot it",
    "doubled": "a body ran again after a run whose outcome was recorded (it returned, or "
    "its task finished), or two runs of one task overlapped in time",
    "early": "an attempt claimed before the gate in force (its run_after, or the not_before "
    "its last retry wrote), or a retry gated sooner than its backoff or Retry-After",
    "stuck": "READY or RUNNING, or still an outbox row, once the world has drained",
    "wrong outcome": "not what its plan and its attempts make it: a success with the wrong "
    "value, a failure of a task meant to succeed (unless faults used up every attempt), a "
    "rolled-back enqueue that left any trace",
    "false dead letters": "a dead letter for a task that succeeded or failed as expected, a "
    "failed task without exactly one (letters of one copy are one), or a relay-outbox / "
    "reconcile-tasks run that raised (max_attempts=1: it fails for good, with a letter)",
}


@dataclass(frozen=True)
class Plan:
    """What a task is meant to do, decided when it is enqueued."""

    kind: str
    value: Any = None  # what it returns, when it succeeds
    run_after: float | None = None
    retry_after: float | None = None  # seconds its retryable errors ask for
    expects: str = SUCCESSFUL  # SUCCESSFUL, FAILED, or "EXPECTED" (FAILED with no letter)


@dataclass(eq=False)
class BodyRun:
    task_id: str
    attempt: int
    process: str
    started: float
    ended: float | None = None
    returned: bool = False
    error: str = ""
    # The status the attempt's next write (its outcome) set, once it took effect.
    recorded: str | None = None


@dataclass
class Audit:
    counts: dict[str, int]
    examples: dict[str, list[str]]
    info: dict[str, int]

    @property
    def clean(self) -> bool:
        return not any(self.counts.values())


class Ledger:
    def __init__(self, backoff_base: float, backoff_max: float) -> None:
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.plans: dict[str, Plan] = {}
        self.committed: set[str] = set()
        self.rolled_back: set[str] = set()
        self.runs: dict[str, list[BodyRun]] = defaultdict(list)
        # (written at, not_before, what wrote it): "enqueue" or "retry"
        self.gates: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
        # Each retry's gate beside the moment its attempt failed (the body's end): the
        # backoff counts from there, however long the outcome's write took to go through.
        self.retries: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.claims: dict[str, list[float]] = defaultdict(list)
        # Runs of relay-outbox / reconcile-tasks that raised: with max_attempts=1, each such
        # run fails its periodic task for good, and so leaves a dead letter of its own.
        self.periodic_failures: list[str] = []
        # Enqueues that raised into the code that committed them (contract 9 says never).
        self.raised_after_commit: list[str] = []

    # -- written as it happens ----------------------------------------------------------

    def started(self, task_id: str, attempt: int, process: str, now: float) -> BodyRun:
        run = BodyRun(task_id=task_id, attempt=attempt, process=process, started=now)
        self.runs[task_id].append(run)
        return run

    def ended(self, run: BodyRun, now: float, *, returned: bool, error: str = "") -> None:
        run.ended, run.returned, run.error = now, returned, error

    def observe_write(
        self, operation: str, params: dict, parsed: dict, now: float, last_run: BodyRun | None
    ) -> None:
        """A DynamoDB call that took effect, as the table saw it."""
        if operation == "PutItem":
            self._created(params.get("Item", {}), now)
            return
        if operation == "BatchExecuteStatement":  # a batch's INSERTs: those that went
            for statement, answer in zip(params["Statements"], parsed["Responses"], strict=True):
                inserted = emulator_dynamodb.inserted_item(statement)
                if inserted and "Error" not in answer:
                    self._created(inserted[1], now)
            return
        if operation != "UpdateItem":
            return
        task_id = params["Key"]["id"]["S"]
        sets = _assignments(params)
        if "not_before" in sets:
            gate = float(sets["not_before"]["N"])
            self.gates[task_id].append((now, gate, "retry"))
            # This process's run of this task whose outcome this is (an older run has had
            # its own outcome recorded already).
            ours = last_run and last_run.task_id == task_id and last_run.recorded is None
            failed = last_run.ended if ours else None
            self.retries[task_id].append((now if failed is None else failed, gate))
        status = sets.get("status", {}).get("S")
        if status == TaskResultStatus.RUNNING.value and "lease_owner" in sets:
            self.claims[task_id].append(now)
        elif (
            status is not None
            and last_run is not None
            and last_run.task_id == task_id
            and last_run.ended is not None
            and last_run.recorded is None
        ):
            last_run.recorded = status

    def _created(self, item: dict, now: float) -> None:
        if "not_before" in item:  # a task's item (not a workflow's record)
            task_id = item["id"]["S"]
            self.gates[task_id].append((now, float(item["not_before"]["N"]), "enqueue"))

    # -- the audit ----------------------------------------------------------------------

    def audit(
        self,
        items: dict[str, TaskItem | None],
        return_values: dict[str, Any],
        outbox_ids: set[str],
        letters: list[tuple[str, int, bool]],
        queued_ids: set[str],
    ) -> Audit:
        """`letters`: (task id, copy, annotated) of every message in a dead-letter queue;
        `queued_ids`: task ids with a message still in a task queue."""
        counts: Counter[str] = Counter({name: 0 for name in COUNTS})
        examples: dict[str, list[str]] = defaultdict(list)
        info: Counter[str] = Counter()

        def found(count: str, task_id: str, why: str) -> None:
            counts[count] += 1
            if len(examples[count]) < 5:
                plan = self.plans.get(task_id)
                examples[count].append(f"{task_id} ({plan.kind if plan else '?'}): {why}")

        letters_of: dict[str, set[int]] = defaultdict(set)
        for task_id, copy, _annotated in letters:
            letters_of[task_id].add(copy)

        for task_id in sorted(self.committed):
            plan = self.plans[task_id]
            item = items.get(task_id)
            runs = sorted(self.runs.get(task_id, []), key=lambda run: run.started)
            info["body runs"] += len(runs)
            if item is None:
                if task_id in outbox_ids:
                    found("stuck", task_id, "never relayed: its outbox row is still there")
                else:
                    found("lost", task_id, "committed, but no item and no outbox row")
                continue
            info["attempts"] += item.attempts
            if not item.finished:
                where = "a message queued" if task_id in queued_ids else "no message left"
                found("stuck", task_id, f"{item.status} at the end, {where}")
            if why := self._doubled(runs):
                found("doubled", task_id, why)
            if why := self._early(task_id, plan):
                found("early", task_id, why)
            if item.finished and (why := self._wrong(plan, item, return_values.get(task_id), info)):
                found("wrong outcome", task_id, why)
            if item.finished and (why := self._false_letter(item, letters_of.get(task_id, set()))):
                found("false dead letters", task_id, why)
            info["reruns after an outcome was lost (allowed)"] += sum(
                1
                for before, _ in itertools.pairwise(runs)
                if before.returned and before.recorded is None
            )

        # (A deduplicated call rolled back in one request may commit in another: one id.)
        for task_id in sorted(self.rolled_back - self.committed):
            traces = [
                what
                for what, there in (
                    ("an item", items.get(task_id) is not None),
                    ("a body run", bool(self.runs.get(task_id))),
                    ("an outbox row", task_id in outbox_ids),
                    ("a message", task_id in queued_ids or task_id in letters_of),
                )
                if there
            ]
            if traces:
                found("wrong outcome", task_id, f"rolled back, yet left {', '.join(traces)}")
        for task_id in sorted(set(letters_of) - self.committed - self.rolled_back):
            found("false dead letters", task_id, "a letter for a task nobody enqueued")
        for failure in self.raised_after_commit:
            found("wrong outcome", "enqueue", f"raised after its commit: {failure}")
        for failure in self.periodic_failures:
            found("false dead letters", "periodic", f"a run raised (its own letter): {failure}")
        return Audit(dict(counts), dict(examples), dict(info))

    @staticmethod
    def _doubled(runs: list[BodyRun]) -> str:
        for index, run in enumerate(runs):
            for later in runs[index + 1 :]:
                if later.started < (run.ended if run.ended is not None else float("inf")):
                    return f"attempts {run.attempt} and {later.attempt} overlapped"
            if run.recorded in FINISHED and index + 1 < len(runs):
                return f"ran again after attempt {run.attempt} was recorded {run.recorded}"
        return ""

    def _early(self, task_id: str, plan: Plan) -> str:
        gates = self.gates.get(task_id, [])
        for claimed in self.claims.get(task_id, []):
            if plan.run_after is not None and claimed < plan.run_after - ROUNDING:
                return f"claimed {plan.run_after - claimed:.1f}s before its run_after"
            in_force = [gate for at, gate, _ in gates if at <= claimed]
            if in_force and claimed < in_force[-1]:
                return f"claimed {in_force[-1] - claimed:.1f}s before its not_before"
        for number, (at, gate) in enumerate(self.retries.get(task_id, []), start=1):
            # The backoff's step for attempt n is base * 2^(n-1), of which it waits at least
            # half; attempts lost in between only raise n, so the k-th recorded retry waits
            # at least half of step k. A Retry-After is honoured in full.
            least = min(self.backoff_max, self.backoff_base * 2 ** (number - 1)) / 2
            if plan.retry_after:
                least = max(least, min(plan.retry_after, MAX_VISIBILITY))
            if gate - at < least - SLACK:
                return f"retry {number} gated {gate - at:.1f}s after its failure, not {least:.0f}s"
        return ""

    @staticmethod
    def _wrong(plan: Plan, item: TaskItem, value: Any, info: Counter[str]) -> str:
        lost = sum(1 for error in item.errors if error.exception_class_path == LOST_ATTEMPT)
        used_up = item.attempts >= item.max_attempts and lost > 0
        if plan.expects == SUCCESSFUL:
            if item.status == SUCCESSFUL:
                return "" if value == plan.value else f"returned {value!r}, not {plan.value!r}"
            if used_up:
                info["failed: faults used up every attempt (allowed)"] += 1
                return ""
            last = item.errors[-1].exception_class_path if item.errors else "no error"
            return f"FAILED ({last}) after {item.attempts} of {item.max_attempts} attempts"
        if item.status == SUCCESSFUL:
            return f"SUCCESSFUL, but it was meant to end {plan.expects}"
        if plan.expects == "EXPECTED" and not item.expected_failure and not used_up:
            return "FAILED, but not as the expected failure it raised"
        if plan.expects == FAILED and item.expected_failure:
            return "FAILED as expected, but it raised an unexpected error"
        return ""

    @staticmethod
    def _false_letter(item: TaskItem, copies: set[int]) -> str:
        if item.status == SUCCESSFUL:
            return f"succeeded, yet {len(copies)} dead letter(s)" if copies else ""
        if item.expected_failure:
            return f"an expected failure, yet {len(copies)} dead letter(s)" if copies else ""
        if len(copies) != 1:
            return f"failed with {len(copies)} distinct dead letters (copies {sorted(copies)})"
        if item.dead_letter is None or not item.dead_letter.sent:
            return "its letter is in the queue, but the item says it is not sent"
        return ""


def letter_of(body: str, attributes: dict[str, Any]) -> tuple[str, int, bool]:
    """(task id, copy, annotated) of a dead letter's message."""
    try:
        data = json.loads(body)
    except ValueError:
        return ("", -1, False)
    return (str(data.get("id", "")), int(data.get("copy", -1)), "exception_class" in attributes)


_SET = re.compile(r"(#\w+) = (:\w+)")


def _assignments(params: dict) -> dict[str, dict[str, Any]]:
    """Attribute name -> the plain value an UpdateItem's SET clause assigns it."""
    expression = params.get("UpdateExpression", "")
    clause = expression.split("SET ", 1)[1] if "SET " in expression else ""
    clause = re.split(r"\b(?:ADD|REMOVE|DELETE) ", clause)[0]
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    return {
        names.get(name, name): values[value]
        for name, value in _SET.findall(clause)
        if value in values
    }
