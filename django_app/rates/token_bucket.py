"""A token bucket in DynamoDB: one rate limit shared by every concurrent worker.

Each Lambda worker is its own process, so a limit kept in memory would multiply by the
concurrency. The bucket is one item (`id` = the bucket's name) holding the tokens left,
when they were counted, and how long the API asked everyone to pause. A worker reads
it, refills by the time passed, and takes a token with a write conditioned on the
version it read: of two workers racing for the last token, one write fails, and that
worker reads again. No locks, no lease to expire, one read and one write per call.
"""

import random
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from django_app.rates.errors import RateLimited
from sqs_tasks import aws
from sqs_tasks.dynamo import from_item, to_attribute


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time: workers on different machines must agree on it (they use NTP)."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class _State:
    tokens: float
    updated_at: float
    paused_until: float
    version: int


class TokenBucket:
    def __init__(
        self,
        table: str,
        name: str,
        *,
        capacity: float,
        per_second: float,
        clock: Clock | None = None,
    ) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("A bucket needs capacity >= 1 and a positive refill rate.")
        self.table = table
        self.name = name
        self.capacity = float(capacity)
        self.per_second = float(per_second)
        self.clock = clock or SystemClock()

    def acquire(self, *, max_wait: float) -> float:
        """Take one token, sleeping for it if that takes at most `max_wait` seconds in
        all; else raise RateLimited saying how long the wait would be. Returns the
        seconds slept."""
        slept = 0.0
        while (wait := self._try_take()) > 0:
            if slept + wait > max_wait:
                raise RateLimited(
                    "Too many calls to the exchange-rate service; waiting for our turn.",
                    retry_after=wait,
                )
            self.clock.sleep(wait)
            slept += wait
        return slept

    def pause(self, seconds: float) -> None:
        """Make every worker wait `seconds` before its next token (a Retry-After)."""
        until = self.clock.now() + seconds
        db = aws.client("dynamodb")
        # A failed condition means someone paused for longer already.
        with suppress(db.exceptions.ConditionalCheckFailedException):
            db.update_item(
                TableName=self.table,
                Key={"id": {"S": self.name}},
                UpdateExpression="SET paused_until = :until ADD version :one",
                ConditionExpression="attribute_not_exists(paused_until) OR paused_until < :until",
                ExpressionAttributeValues={":until": to_attribute(until), ":one": {"N": "1"}},
            )

    def _try_take(self) -> float:
        """0 when a token was taken, else the seconds until one is due."""
        while True:
            now = self.clock.now()
            state = self._read(now)
            if state.paused_until > now:
                return state.paused_until - now
            elapsed = max(0.0, now - state.updated_at)  # a clock behind ours adds nothing
            tokens = min(self.capacity, state.tokens + elapsed * self.per_second)
            if tokens < 1:
                return (1 - tokens) / self.per_second
            if self._write(tokens - 1, now, state):
                return 0.0
            # Another worker took a token between our read and write: read again, after
            # a moment of jitter so racing workers do not collide in lockstep.
            self.clock.sleep(random.uniform(0, 0.01))

    def _read(self, now: float) -> _State:
        response = aws.client("dynamodb").get_item(
            TableName=self.table, Key={"id": {"S": self.name}}, ConsistentRead=True
        )
        if "Item" not in response:
            return _State(self.capacity, now, 0.0, 0)
        item: dict[str, Any] = from_item(response["Item"])
        return _State(
            tokens=float(item.get("tokens", self.capacity)),
            updated_at=float(item.get("updated_at", now)),
            paused_until=float(item.get("paused_until", 0)),
            version=int(item.get("version", 0)),
        )

    def _write(self, tokens: float, now: float, read: _State) -> bool:
        """Store the new count, only if nobody wrote since `read`."""
        db = aws.client("dynamodb")
        try:
            db.update_item(
                TableName=self.table,
                Key={"id": {"S": self.name}},
                UpdateExpression="SET tokens = :tokens, updated_at = :now, version = :next",
                ConditionExpression="attribute_not_exists(version) OR version = :read",
                ExpressionAttributeValues={
                    ":tokens": to_attribute(tokens),
                    ":now": to_attribute(now),
                    ":read": to_attribute(read.version),
                    ":next": to_attribute(read.version + 1),
                },
            )
        except db.exceptions.ConditionalCheckFailedException:
            return False
        return True
