"""The gate a task passes before an attempt starts: every limit it names admits it, or it
waits, spending no attempt.

The limits a task names, and their keys (computed from its arguments at enqueue), travel
in its envelope; how large each limit is comes from the code as deployed now (the task's
`limits`, or OPTIONS["LIMITS"] by name), so a deploy can widen or tighten a limit for
tasks already waiting. Concurrency places are taken first (they can be given back), then
rate starts; the places are given back with the attempt's outcome (runner.py).

A rate that cannot start a task now reserves its next free start (counters.py), and the
task's next message copy carries the reservation (worker/disposition.py). The rules that
keep a reservation from being a second, uncounted start:

- It belongs to the copy it was made for: a copy sent for any other reason (a retry after
  the attempt it started, a successor, a redrive) carries none and asks again.
- It is used only from its time to RESERVATION_GRACE later. A copy held up longer asks
  again: its counted start is wasted, never doubled, so a limit is under-used rather
  than exceeded by late copies piling up.
- A pause (`pause_limit`, an API's Retry-After) holds reserved starts too.
- With several rates, the task starts when all of them allow it: each start is reserved
  for that one moment, the latest; a start counted for an earlier moment is wasted.
- Only a copy that may start reserves: one its item says is not due (a stray copy, a
  duplicate of a running one, a retry's back-off) is judged by the item instead of waiting.
"""

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
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
# How late a reserved start may still be used: a fresh copy comes up to a second late
# (SQS delays by whole seconds) and waits up to the worker's batching window (2 s in
# template.yaml) before its batch is handed over. Starts can run that late, so a window
# may hold up to this many seconds' worth of starts more than the limit (BENCHMARKS.md).
RESERVATION_GRACE = 3.0

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
    """Admitted: the places to give back when the attempt ends, those this admission
    took (to give back at once if the attempt does not start after all), and whether it
    used a start the copy carried (the claim then marks it spent: runner.py)."""

    places: tuple[str, ...] = ()
    taken: tuple[str, ...] = ()
    used_reservation: bool = False


@dataclass(frozen=True, slots=True)
class Held:
    """Not now: how long until it may start, why, and the starts reserved for it (its next
    message copy carries them: worker/disposition.py)."""

    wait: float
    reason: str
    reserved: Reservations = ()


@dataclass(frozen=True, slots=True)
class NotStartable:
    """The task's item says this copy may not start now (another copy is live, an attempt
    is running, a back-off is not over): judge the copy on the item, do not wait here."""


def declared(task: Task, named: Mapping[str, Limit]) -> list[tuple[str, Limit]]:
    """The task's limits as (name, limit): a string names one of OPTIONS["LIMITS"]."""
    found: list[tuple[str, Limit]] = []
    for entry in getattr(task, "limits", ()) or ():
        if isinstance(entry, str):
            if entry not in named:
                raise ValueError(f"{task.name} names the limit {entry!r}, which LIMITS lacks")
            found.append((entry, named[entry]))
        elif isinstance(entry, Concurrency | Rate):
            name = entry.name or task.module_path
            if any(name == seen and type(entry) is type(limit) for seen, limit in found):
                raise ValueError(
                    f"{task.name}: two {type(entry).__name__} limits named "
                    f"{name!r}; give each its own name"
                )
            found.append((name, entry))
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
        *,
        startable: Callable[[], bool] = lambda: True,
        now: float | None = None,
    ) -> Admission | Held | NotStartable:
        """Admit the task now, or say how long it waits. `startable` reads the task's item
        (once, when needed: only on the way to waiting), so a copy that may not start
        never holds a place or reserves a start."""
        now = time.time() if now is None else now
        # By kind and name: an unnamed Concurrency and an unnamed Rate share a name.
        limits = {(_kind(limit), name): limit for name, limit in declared(task, self.named)}
        places: list[str] = []
        taken: list[str] = []
        rates: list[tuple[LimitRef, Rate]] = []
        for ref in refs:
            # The task's own, else a named one (given by `using()`, or by a step).
            limit = limits.get((ref.kind, ref.name))
            if limit is None and ref.name in self.named:
                named = self.named[ref.name]
                limit = named if _kind(named) == ref.kind else None
            if limit is None:  # no longer declared: nothing to pass
                logger.warning("a limit the task no longer declares", extra={"limit": ref.name})
            elif isinstance(limit, Rate):
                rates.append((ref, limit))
            else:
                outcome, held = self.counters.acquire(ref.item_id, limit, task_id, lease_until)
                if isinstance(outcome, Refused):
                    self.give_back(taken, task_id)
                    return self._hold(
                        _keeping(outcome, reserved, now), ref.name, reserved, startable
                    )
                places.append(ref.item_id)
                if not held:
                    taken.append(ref.item_id)
        holding = dict(reserved)
        used_reservation = False
        if rates:
            starts = _Starts(self.counters, holding, now, startable)
            started = starts.settle(rates)
            if not isinstance(started, Admitted):
                self.give_back(taken, task_id)
                if isinstance(started, NotStartable):
                    return started
                reserved = tuple(sorted(holding.items()))
                assert starts.latest is not None
                return self._hold(started, starts.latest.name, reserved, startable)
            used_reservation = bool(starts.carried)
        return Admission(tuple(places), tuple(taken), used_reservation)

    @staticmethod
    def _hold(
        refused: Refused, name: str, reserved: Reservations, startable: Callable[[], bool]
    ) -> Held | NotStartable:
        if not startable():
            return NotStartable()
        metrics.record_wait(name, refused.wait)
        return Held(refused.wait, f"{refused.reason} ({name})", reserved)

    def releases(self, admission: Admission, task_id: str, ran_for: float) -> list[Also]:
        """The writes that give the places back, to make with the attempt's outcome."""
        return [
            Also(self.table_name, place, self.counters.release_update(task_id, ran_for))
            for place in admission.places
        ]

    def give_back(self, places: Sequence[str], task_id: str) -> None:
        for place in places:
            self.counters.release(place, task_id)

    def pause(self, name: str, seconds: float, key: str = "") -> None:
        """Hold every start under the rate `name` for `seconds` (an API's Retry-After)."""
        rate = self.named.get(name)
        self.counters.pause(
            LimitRef(RATE, name, key).item_id,
            seconds,
            rate=rate if isinstance(rate, Rate) else None,
        )


def _kind(limit: Limit) -> str:
    return CONCURRENCY if isinstance(limit, Concurrency) else RATE


def _keeping(refused: Refused, reserved: Reservations, now: float) -> Refused:
    """A concurrency refusal that does not outwait the starts the copy carries, so a
    place freed in time finds them still good (in whole seconds: SQS's step)."""
    if not reserved:
        return refused
    left = math.floor(min(at for _, at in reserved) + RESERVATION_GRACE - now)
    if left >= 1:
        return Refused(min(refused.wait, left), refused.reason)
    return refused


class _Starts:
    """One moment every rate of a task allows it to start, each start counted for it:
    reservations it carries where they are still good, new starts where not."""

    def __init__(
        self,
        counters: Counters,
        holding: dict[str, float],
        now: float,
        startable: Callable[[], bool],
    ) -> None:
        self.counters = counters
        self.holding = holding  # limit item id -> its start, changed in place
        self.now = now
        self.startable = startable
        self.carried = set(holding)  # made before this admission (paused since?)
        self.latest: LimitRef | None = None  # whose start is the latest: what the task waits for

    def settle(self, rates: Sequence[tuple[LimitRef, Rate]]) -> Admitted | Refused | NotStartable:
        start = self.now
        self.latest = rates[0][0]
        # Each pass can only move the start later; a start counted for an earlier moment
        # is taken again for the later one. A rate per pass settles at worst.
        for _ in range(len(rates) + 1):
            for ref, rate in rates:
                slot = self.holding.get(ref.item_id)
                if slot is None or start > slot + RESERVATION_GRACE:
                    slot = self._take(ref, rate, start)
                    if not isinstance(slot, float):
                        self.latest = ref
                        return slot
                if slot > start:
                    start, self.latest = slot, ref
            if all(start <= self.holding[ref.item_id] + RESERVATION_GRACE for ref, rate in rates):
                break
        if start > self.now:
            rate = dict(rates)[self.latest]
            return Refused(start - self.now, f"rate limit {rate.limit}/{rate.per}, start reserved")
        return self._unpaused(rates)

    def _take(self, ref: LimitRef, rate: Rate, start: float) -> float | Refused | NotStartable:
        """A start under `rate` at `start` or after it: when, or why not."""
        self.holding.pop(ref.item_id, None)  # used up, or too late to use: never again
        self.carried.discard(ref.item_id)
        # About to reserve (or likely to): only for a copy that may start.
        if (start > self.now or self.counters.looks_busy(ref.item_id, rate, start)) and not (
            self.startable()
        ):
            return NotStartable()
        within = RESERVE_WITHIN - (start - self.now)
        outcome = self.counters.take(ref.item_id, rate, start, reserve_within=within)
        match outcome:
            case Admitted():
                slot = start
            case Reserved(at=at):
                slot = math.ceil(at * 1000) / 1000
            case Refused(wait=wait, reason=reason):
                return Refused(start - self.now + wait, reason)
        self.holding[ref.item_id] = slot
        return slot

    def _unpaused(self, rates: Sequence[tuple[LimitRef, Rate]]) -> Admitted | Refused:
        """Starts counted before a pause began are held by it too."""
        for ref, _rate in rates:
            if ref.item_id not in self.carried:
                continue
            until = self.counters.paused_until(ref.item_id)
            if until > self.now:
                del self.holding[ref.item_id]  # asks again once the pause is over
                self.latest = ref
                return Refused(until - self.now, "rate limit paused")
        return Admitted()
