"""Turning counted AWS usage into dollars per million tasks, at public on-demand prices.

Prices: us-east-1, public price pages as read on 2026-11-23 (PRICES_DATE). They are
constants here so the report is reproducible; check them before quoting the dollars.
Free tiers are ignored (they are per account, not per task).
"""

import math
from dataclasses import dataclass, field
from typing import Any

PRICES_DATE = "2026-11-23"
PRICES = {
    # SQS standard queue: per million requests, each 64 KB chunk of a payload one request.
    "sqs_request": 0.40 / 1e6,
    # DynamoDB on-demand (the November 2024 price cut): per write / read request unit.
    # A WRU writes 1 KB; an RRU reads 4 KB strongly consistent, or twice eventually.
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    # Lambda: per invocation, and per GB-second on arm64 (x86_64 is $0.0000166667).
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000133334,
}
PRICE_SOURCES = (
    "SQS: aws.amazon.com/sqs/pricing ($0.40 per million standard requests, 64 KB chunks); "
    "DynamoDB: aws.amazon.com/dynamodb/pricing/on-demand ($0.625 per million WRU, "
    "$0.125 per million RRU since the November 2024 on-demand price cut); "
    "Lambda: aws.amazon.com/lambda/pricing ($0.20 per million requests, "
    "$0.0000133334 per GB-second arm64)"
)
# Lambda bills each invocation's duration rounded up to the millisecond.
BILLING_GRANULARITY = 0.001
# moto answers in-process in well under a millisecond; a real in-region call does not.
# Each AWS call made inside a function adds this much to its billed duration.
ASSUMED_ROUND_TRIP = 0.008
WRU_BYTES, RRU_BYTES = 1024, 4096


@dataclass
class Usage:
    """What running `tasks` tasks cost in billable units, as counted."""

    system: str
    tasks: int
    sqs_requests: int = 0  # billed chunks
    dynamodb_writes: int = 0  # items written
    dynamodb_index_writes: int = 0  # items written to global secondary indexes
    dynamodb_reads: float = 0.0  # items read (eventually consistent counts half)
    item_bytes: int = 0  # largest item, for units per write and read
    lambda_invocations: int = 0
    lambda_billed_seconds: float = 0.0  # summed, each invocation rounded up to 1 ms
    lambda_memory_mb: int = 512
    notes: list[str] = field(default_factory=list)

    def add_invocation(self, seconds: float, aws_calls: int) -> None:
        """One invocation that ran `seconds` against moto and made `aws_calls` calls."""
        billed = seconds + aws_calls * ASSUMED_ROUND_TRIP
        self.lambda_invocations += 1
        self.lambda_billed_seconds += math.ceil(billed / BILLING_GRANULARITY) * BILLING_GRANULARITY

    @property
    def wru(self) -> float:
        per_item = max(1, math.ceil(self.item_bytes / WRU_BYTES))
        return (self.dynamodb_writes + self.dynamodb_index_writes) * per_item

    @property
    def rru(self) -> float:
        return self.dynamodb_reads * max(1, math.ceil(self.item_bytes / RRU_BYTES))

    def dollars_per_million(self) -> dict[str, float]:
        scale = 1e6 / self.tasks
        gb_seconds = self.lambda_billed_seconds * self.lambda_memory_mb / 1024
        return {
            "SQS": self.sqs_requests * PRICES["sqs_request"] * scale,
            "DynamoDB writes": self.wru * PRICES["dynamodb_wru"] * scale,
            "DynamoDB reads": self.rru * PRICES["dynamodb_rru"] * scale,
            "Lambda requests": self.lambda_invocations * PRICES["lambda_request"] * scale,
            "Lambda duration": gb_seconds * PRICES["lambda_gb_second"] * scale,
        }

    def total_per_million(self) -> float:
        return sum(self.dollars_per_million().values())


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item in AttributeValue form (names plus values, as its docs
    count them: strings and binaries by length, numbers about 1 byte per 2 digits plus 1,
    lists and maps 3 bytes plus 1 per element)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    (kind, data), *_ = value.items()
    if kind in ("S", "B"):
        return len(data.encode() if isinstance(data, str) else data)
    if kind == "N":
        return math.ceil(len(data.lstrip("-").replace(".", "")) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_bytes(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_bytes(v) for k, v in data.items())
    return sum(len(str(v)) for v in data)  # sets: close enough for a no-op task's items
