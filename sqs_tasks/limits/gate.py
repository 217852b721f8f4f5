"""The gate a task passes before an attempt starts: every limit it names admits it, or it
waits, spending no attempt.

The limits a task names, and their keys (computed from its arguments at enqueue), travel
in its envelope; how large each limit is comes from the code as deployed now (the task's
`limits`, or OPTIONS["LIMITS"] by name), so a deploy can widen or tighten a limit for
tasks already waiting. Concurrency places are taken first (they can be given back), then
rate starts; the places are given back with the attempt's outcome (runner.py).
"""

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.tasks import Task

from sqs_tasks import metrics
from sqs_tasks.limits.counters import Admitted, Counters, Refused, Reserved
from sqs_tasks.limits.options import Concurrency, Limit, Rate
from sqs_tasks.results import Also

logger = logging.getLogger("sqs_tasks.limits")

CONCURRENCY, RATE = "concurrency", "rate"
# How far ahead a waiting task reserves its start under a rate: SQS's longest delay, so the
# fresh copy that carries the reservation arrives when it is due.
RESERVE_WITHIN = 900.0
# A reservation used this long after its time is void (the task was held up elsewhere):
# the task asks again, so a late start cannot add to the starts of its second.
RESERVATION_GRACE = 60.0

Reservations = tuple[tuple[str, float], ...]  # (limit item id, start at), as envelopes carry


@dataclass(frozen=True, slots=True)
class LimitRef:
    """A limit a task's attempt must pass, as its envelope names it."""

    kind: str  # "concurrency" or "rate"
    name: str
    key: str = ""

    @property
    def item_id(self) -> str:
        return f"{self.kind}:{self.name}" + (f":{self.key}" if self.key else "")

    def as_list(self) -> list[str]:
        return [self.kind, self.name, self.key]

    @classmethod
    def from_list(cls, data: Sequence[Any]) -> "LimitRef":
        kind, name, key = (str(part) for part in data)
        if kind not in (CONCURRENCY, RATE) or not name:
            raise ValueError(f"not a limit: {list(data)!r}")
        return cls(kind, name, key)


@dataclass(frozen=True, slots=True)
class Admission:
    """Admitted: the places to give back when the attempt ends, and those this admission
    took (to give back at once if the attempt does not start after all)."""

    places: tuple[str, ...] = ()
    taken: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Held:
    """Not now: how long until it may start, why, and the starts reserved for it (its next
    message copy carries them: worker/disposition.py)."""

    wait: float
    reason: str
    reserved: Reservations = ()


def declared(task: Task, named: Mapping[str, Limit]) -> list[tuple[str, Limit]]:
    """The task's limits as (name, limit): a string names one of OPTIONS["LIMITS"]."""
    found = []
    for entry in getattr(task, "limits", ()) or ():
        if isinstance(entry, str):
            if entry not in named:
                raise ValueError(f"{task.name} names the limit {entry!r}, which LIMITS lacks")
            found.append((entry, named[entry]))
        elif isinstance(entry, Concurrency | Rate):
            found.append((entry.name or f"{task.module_path}", entry))
        else:
            raise ValueError(f"{task.name}: a limit is a Concurrency, a Rate or a name")
    return found


def refs_for(
    task: Task, named: Mapping[str, Limit], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[LimitRef, ...]:
    """The limits one call must pass, keys computed from its arguments (at enqueue)."""
    refs = []
    for name, limit in declared(task, named):
        key = "" if limit.key is None else str(limit.key(*args, **kwargs))
        kind = CONCURRENCY if isinstance(limit, Concurrency) else RATE
        refs.append(LimitRef(kind, name, key))
    # Concurrency first: a place can be given back if a rate then refuses.
    return tuple(sorted(refs, key=lambda ref: ref.kind != CONCURRENCY))


class Gate:
    def __init__(self, table_name: str, named: Mapping[str, Limit]) -> None:
        self.counters = Counters(table_name)
        self.table_name = table_name
        self.named = named

    def admit(
        self,
        task: Task,
        task_id: str,
        refs: Sequence[LimitRef],
        lease_until: float,
        reserved: Reservations = (),
        now: float | None = None,
    ) -> Admission | Held:
        now = time.time() if now is None else now
        limits = dict(declared(task, self.named))
        holding = dict(reserved)
        places: list[str] = []
        taken: list[str] = []
        for ref in refs:
            limit = limits.get(ref.name)
            if limit is None:  # no longer declared: nothing to pass
                logger.warning("a limit the task no longer declares", extra={"limit": ref.name})
                continue
            if isinstance(limit, Concurrency):
                outcome, held = self.counters.acquire(ref.item_id, limit, task_id, lease_until)
                if isinstance(outcome, Admitted):
                    places.append(ref.item_id)
                    if not held:
                        taken.append(ref.item_id)
            else:
                outcome = self._start(ref, limit, holding, now)
            if isinstance(outcome, Refused):
                self.give_back(taken, task_id)
                metrics.record_wait(ref.name, outcome.wait)
                reason = f"{outcome.reason} ({ref.name})"
                return Held(outcome.wait, reason, tuple(sorted(holding.items())))
        return Admission(tuple(places), tuple(taken))

    def _start(
        self, ref: LimitRef, rate: Rate, holding: dict[str, float], now: float
    ) -> Admitted | Refused:
        """A start under `rate`: the one this task reserved, if it is due; else a new one,
        or a reservation (added to `holding`) and the wait until it."""
        at = holding.get(ref.item_id)
        if at is not None and now <= at + RESERVATION_GRACE:
            if now >= at:
                return Admitted()  # counted when it was reserved
            return Refused(at - now, f"rate limit {rate.limit}/{rate.per}, start reserved")
        holding.pop(ref.item_id, None)
        outcome = self.counters.take(ref.item_id, rate, now, reserve_within=RESERVE_WITHIN)
        if isinstance(outcome, Reserved):
            holding[ref.item_id] = math.ceil(outcome.at * 1000) / 1000
            return Refused(outcome.at - now, f"rate limit {rate.limit}/{rate.per}")
        return outcome

    def releases(self, admission: Admission, task_id: str) -> list[Also]:
        """The writes that give the places back, to make with the attempt's outcome."""
        return [
            Also(self.table_name, place, self.counters.release_update(task_id))
            for place in admission.places
        ]

    def give_back(self, places: Sequence[str], task_id: str) -> None:
        for place in places:
            self.counters.release(place, task_id)

    def pause(self, name: str, seconds: float, key: str = "") -> None:
        """Hold every start under the rate `name` for `seconds` (an API's Retry-After)."""
        self.counters.pause(LimitRef(RATE, name, key).item_id, seconds)
