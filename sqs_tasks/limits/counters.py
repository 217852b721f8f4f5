"""The counters behind the limits: one small DynamoDB item per limit and key, in the
limits table, changed with conditional writes so every worker sees one count.

Rates are a GCRA (the generic cell rate algorithm): the item holds one number, `tat`, the
theoretical time the next start is due. A start is allowed when `tat` is no later than
`burst - 1` intervals ahead of now, and moves `tat` on by one interval. That is one
conditional UpdateItem per start, the branch (idle or busy) guessed from the last `tat`
this process saw; a wrong guess costs one more.

A task that cannot start now reserves the next free start instead (it moves `tat` on as a
start would) and comes back for it: waiting tasks then start one interval apart, each at
its own time, instead of all coming back at once to compete for one start. SQS's delays
and visibility timeouts are whole seconds, so without reservations a saturated rate of
ten a second would start one task a second (BENCHMARKS.md, flow control).

Concurrency is a map of the tasks holding a place to when their lease ends: a task takes
a place if there are fewer than `limit` (or it holds one already: its next attempt keeps
it), and gives it back when its attempt ends, in the same request that records the
outcome (results.py). A place whose lease ended is taken back by the next worker that
finds the map full, so a dead worker blocks no one for longer than its invocation.

No one announces a freed place, so a refused task must guess when to look again. The item
keeps what it needs for a good guess at no extra request: when the last place was taken,
and the attempts' total time and count (added when places are given back). A refused task
looks again when the last holder is expected to be done: an average attempt after it
began (at least a second, SQS's step; at most CONCURRENCY_RECHECK).
"""

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from sqs_tasks import aws
from sqs_tasks.dynamo import Update, from_item, to_item
from sqs_tasks.limits.options import Concurrency, Rate

# A refused task looks again after this long at most: places free when attempts end,
# which no one announces.
CONCURRENCY_RECHECK = 5.0


@dataclass(frozen=True, slots=True)
class Admitted:
    pass


@dataclass(frozen=True, slots=True)
class Reserved:
    """A start counted now for later: the task may start at `at` (epoch seconds) without
    asking again (limits/gate.py)."""

    at: float


@dataclass(frozen=True, slots=True)
class Refused:
    wait: float  # seconds until it may start, as far as the limit knows
    reason: str


class Counters:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._last_tat: dict[str, float] = {}  # per rate item: this process's last view

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    # -- rates --------------------------------------------------------------------------

    def take(
        self, item_id: str, rate: Rate, now: float | None = None, *, reserve_within: float = 0.0
    ) -> "Admitted | Reserved | Refused":
        """One start under `rate` now; or, when the next free start is at most
        `reserve_within` seconds away, that start reserved (counted now, to be used then);
        or how long until one is allowed."""
        now = time.time() if now is None else now
        tolerance = (rate.burst - 1) * rate.interval
        latest = tolerance + reserve_within
        busy = self._last_tat.get(item_id, 0.0) >= now
        for attempt in range(2):
            update = self._busy(rate, now, latest) if busy else self._idle(rate, now)
            done, old = self._write(item_id, update)
            if done and not busy:
                self._last_tat[item_id] = now + rate.interval
                return Admitted()
            if done:
                self._last_tat[item_id] = float(old) + rate.interval
                start = float(old) - tolerance
                return Admitted() if start <= now else Reserved(start)
            tat = float(old) if old is not None else 0.0
            self._last_tat[item_id] = tat
            if tat < now:  # idle after all: the other branch
                busy = False
            elif tat - now <= latest:
                busy = True
            else:
                return Refused(tat - now - latest, f"rate limit {rate.limit}/{rate.per}")
            if attempt:
                break
        return Refused(rate.interval, f"rate limit {rate.limit}/{rate.per} (contended)")

    def looks_busy(self, item_id: str, rate: Rate, at: float) -> bool:
        """Whether, as this process last saw the rate, a start at `at` would have to wait."""
        return self._last_tat.get(item_id, 0.0) > at + (rate.burst - 1) * rate.interval

    def pause(
        self, item_id: str, seconds: float, now: float | None = None, rate: Rate | None = None
    ) -> None:
        """No start under this rate for `seconds`, for everyone: one write when it can
        (no crash between the two halves), tat past the burst's tolerance."""
        until = (time.time() if now is None else now) + seconds
        tat = until + ((rate.burst - 1) * rate.interval if rate else 0.0)
        both = (
            Update()
            .set("paused_until", until)
            .set("tat", tat)
            .when("attribute_not_exists(#paused_until) OR #paused_until < :until", until=until)
            .when("attribute_not_exists(#tat) OR #tat < :tat", tat=tat)
        )
        if self._write(item_id, both)[0]:
            return
        for name, value in (("tat", tat), ("paused_until", until)):
            update = (
                Update()
                .set(name, value)
                .when(f"attribute_not_exists(#{name}) OR #{name} < :v", v=value)
            )
            self._write(item_id, update)

    def paused_until(self, item_id: str) -> float:
        """Until when starts under this rate are paused (0 if never): a strong read."""
        response = self._db.get_item(
            TableName=self.table_name,
            Key={"id": {"S": item_id}},
            ConsistentRead=True,
            ProjectionExpression="paused_until",
        )
        return float(from_item(response.get("Item") or {}).get("paused_until", 0.0))

    @staticmethod
    def _idle(rate: Rate, now: float) -> Update:
        return (
            Update()
            .set("tat", now + rate.interval)
            .when("attribute_not_exists(#tat) OR #tat < :now", now=now)
        )

    @staticmethod
    def _busy(rate: Rate, now: float, ahead: float) -> Update:
        return (
            Update()
            .set_expression("tat", "#tat + :interval", interval=rate.interval)
            .when("#tat >= :now AND #tat <= :latest", now=now, latest=now + ahead)
        )

    def _write(self, item_id: str, update: Update) -> tuple[bool, Any]:
        """(done, tat as it was)."""
        db = self._db
        try:
            response = db.update_item(
                TableName=self.table_name,
                Key={"id": {"S": item_id}},
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **update.request(),
            )
        except db.exceptions.ConditionalCheckFailedException as error:
            old = from_item(error.response.get("Item") or {})
            return False, old.get("tat")
        return True, from_item(response.get("Attributes") or {}).get("tat", 0.0)

    # -- concurrency --------------------------------------------------------------------

    def acquire(
        self, item_id: str, limit: Concurrency, task_id: str, until: float
    ) -> tuple[Admitted | Refused, bool]:
        """A place for `task_id` until `until`; (outcome, whether it held one already)."""
        for _ in range(2):
            now = time.time()
            held, old = self._hold(item_id, limit.limit, task_id, until, now)
            if held is not None:
                return Admitted(), held
            holders = {tid: float(lease) for tid, lease in old["holders"].items()}
            expired = {tid: lease for tid, lease in holders.items() if lease < now}
            if not expired:
                return Refused(
                    _recheck(old, holders, now), f"concurrency limit {limit.limit}"
                ), False
            self._evict(item_id, expired)
        return Refused(CONCURRENCY_RECHECK, f"concurrency limit {limit.limit}"), False

    def release_update(self, task_id: str, ran_for: float | None = None) -> Update:
        """The write that gives a place back (results.py makes it with the outcome's), with
        how long the attempt ran, for the next waiters' guesses."""
        update = Update().remove_path("holders", task_id)
        if ran_for is not None:
            update.add("busy_seconds", round(max(0.0, ran_for), 3)).add("releases", 1)
        return update

    def release(self, item_id: str, task_id: str) -> None:
        update = self.release_update(task_id)
        self._db.update_item(
            TableName=self.table_name, Key={"id": {"S": item_id}}, **update.request()
        )

    def _hold(
        self, item_id: str, limit: int, task_id: str, until: float, now: float
    ) -> tuple[bool | None, dict[str, Any]]:
        """(held before, the item as it was): held before is None when refused."""
        db = self._db
        update = (
            Update()
            .set_path("holders", task_id, round(until, 3))
            .set("last_taken", round(now, 3))
            .when(
                # No counter yet (the first place ever): the SET fails; _create makes it.
                "attribute_not_exists(#holders) OR size(#holders) < :limit "
                "OR attribute_exists(#holders.#task)",
                names={"task": task_id},
                limit=limit,
            )
        )
        for _ in range(2):
            try:
                response = db.update_item(
                    TableName=self.table_name,
                    Key={"id": {"S": item_id}},
                    ReturnValues="UPDATED_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **update.request(),
                )
            except db.exceptions.ConditionalCheckFailedException as error:
                old = from_item(error.response.get("Item") or {})
                if "holders" in old:
                    return None, old
            except db.exceptions.ClientError as error:
                if "document path" not in str(error):
                    raise
            else:
                holders = from_item(response.get("Attributes") or {}).get("holders") or {}
                return task_id in holders, {}
            # No counter yet (the first place ever taken under this key): make it, holding
            # this place, unless another worker made it first (then take a place in it).
            if self._create(item_id, task_id, until, now):
                return False, {}
        raise RuntimeError(f"could not take a place under {item_id}")

    def _create(self, item_id: str, task_id: str, until: float, now: float) -> bool:
        """Make the counter with this one place in it; False if it exists already."""
        db = self._db
        try:
            db.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {
                        "id": item_id,
                        "holders": {task_id: round(until, 3)},
                        "last_taken": round(now, 3),
                    }
                ),
                ConditionExpression="attribute_not_exists(id)",
            )
        except db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _evict(self, item_id: str, expired: dict[str, float]) -> None:
        """Take back places whose leases ended, if they still hold the lease we read."""
        update = Update()
        for number, (task_id, lease) in enumerate(expired.items()):
            update.remove_path("holders", task_id)
            update.when(
                f"#holders.#evict = :lease{number}",
                names={"evict": task_id},
                **{f"lease{number}": lease},
            )
        db = self._db
        # A holder renewed, or another worker evicted first: the caller reads again.
        with contextlib.suppress(db.exceptions.ConditionalCheckFailedException):
            db.update_item(
                TableName=self.table_name, Key={"id": {"S": item_id}}, **update.request()
            )


def _recheck(old: dict[str, Any], holders: dict[str, float], now: float) -> float:
    """How long a refused task waits before it looks again (see the module's docstring)."""
    wait = min(CONCURRENCY_RECHECK, min(holders.values(), default=now) - now)
    releases = float(old.get("releases", 0))
    if releases and "last_taken" in old:
        average = float(old.get("busy_seconds", 0)) / releases
        expected = float(old["last_taken"]) + average - now
        if expected > 0:  # not yet overdue (an overdue holder's end is anyone's guess)
            wait = min(wait, expected)
    return max(1.0, wait)
