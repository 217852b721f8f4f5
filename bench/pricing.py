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
    # Write units as measured item by item (bench.items), when known: table and indexes.
    write_units: int | None = None
    index_write_units: int = 0  # of which to indexes
    dynamodb_reads: float = 0.0  # items read (eventually consistent counts half)
    item_bytes: int = 0  # largest item, for units per write and read
    largest_by_status: dict[str, int] = field(default_factory=dict)  # bytes, when measured
    lambda_invocations: int = 0
    lambda_billed_seconds: float = 0.0  # summed, each invocation rounded up to 1 ms
    lambda_memory_mb: int = 512
    notes: list[str] = field(default_factory=list)

    def add_invocation(self, seconds: float, aws_calls: int, seconds_in_calls: float) -> None:
        """One invocation that ran `seconds` against moto, `seconds_in_calls` of them inside
        its `aws_calls` calls: those are replaced by an in-region round trip each."""
        billed = max(0.0, seconds - seconds_in_calls) + aws_calls * ASSUMED_ROUND_TRIP
        self.lambda_invocations += 1
        self.lambda_billed_seconds += math.ceil(billed / BILLING_GRANULARITY) * BILLING_GRANULARITY

    @property
    def wru(self) -> float:
        if self.write_units is not None:
            return self.write_units
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


# -- the monthly bill (bench.bill): fixed and per-month prices, us-east-1 ------------------
# No internet here. Where a stored copy of a public page said the price, it is named in
# BILL_SOURCES; the others are AWS's long-standing published prices, from memory, and say
# so. Check both before quoting dollars.
BILL_PRICES_DATE = "2026-12-01"
HOURS_PER_MONTH = 720  # a 30-day month, as the schedules are counted
BILL = {
    "lambda_gb_second_x86": 0.0000166667,
    "sqs_free_requests": 1_000_000,  # per month, per account
    "lambda_free_requests": 1_000_000,
    "lambda_free_gb_seconds": 400_000,
    "dynamodb_storage_gb_month": 0.25,  # first 25 GB free
    "dynamodb_free_storage_gb": 25,
    "dynamodb_pitr_gb_month": 0.20,
    "dynamodb_provisioned_wcu_hour": 0.00065,
    "dynamodb_provisioned_rcu_hour": 0.00013,
    "dynamodb_free_wcu": 25,  # provisioned capacity, per account and region, every month
    "dynamodb_free_rcu": 25,
    "dynamodb_item_overhead_bytes": 100,  # storage counts 100 bytes per item besides its data
    "logs_ingestion_gb": 0.50,  # first 5 GB free
    "logs_storage_gb_month": 0.03,
    "logs_free_gb": 5,
    "alarm_month": 0.10,  # standard resolution; first 10 free
    "free_alarms": 10,
    "dashboard_month": 3.00,  # first 3 free
    "free_dashboards": 3,
    "custom_metric_month": 0.30,  # prorated by the hour a metric is emitted; first 10 free
    "free_custom_metrics": 10,
    "get_metric_data_per_metric": 0.01 / 1000,  # no free tier
    "scheduler_invocation": 1.00 / 1e6,  # first 14 million a month free
    "scheduler_free_invocations": 14_000_000,
    "secrets_manager_secret_month": 0.40,
    "ssm_standard_parameter_month": 0.0,
    "s3_put_list": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "interface_endpoint_hour": 0.01,  # per AZ
    "ec2_public_ipv4_hour": 0.005,
    "ebs_gp3_gb_month": 0.08,
}
# t4g (Graviton, burstable), Linux on-demand: $/hour, vCPUs, GiB, baseline share per vCPU.
EC2_T4G = {
    "t4g.nano": (0.0042, 2, 0.5, 0.05),
    "t4g.micro": (0.0084, 2, 1.0, 0.10),
    "t4g.small": (0.0168, 2, 2.0, 0.20),
    "t4g.medium": (0.0336, 2, 4.0, 0.20),
    "t4g.large": (0.0672, 2, 8.0, 0.30),
}
BILL_SOURCES = (
    "CloudWatch (alarms $0.10, dashboards $3, custom metrics $0.30, GetMetricData $0.01 per "
    "1,000 metrics, logs $0.50/GB ingested and $0.03/GB-month stored, the free tier of 10 "
    "alarms, 3 dashboards, 10 metrics and 5 GB of logs): aws.amazon.com/cloudwatch/pricing, "
    "as stored copies of cloudburn.io/blog/amazon-cloudwatch-pricing (February 2026) and "
    "c3x.dev quote it; EventBridge Scheduler ($1.00 per million after 14 million free a "
    "month): aws.amazon.com/eventbridge/pricing, as cloudburn.io/blog/amazon-eventbridge-pricing "
    "(March 2026) quotes it; DynamoDB point-in-time recovery ($0.20/GB-month) as "
    "finops.com.py quotes aws.amazon.com/dynamodb/pricing/on-demand; table storage ($0.25 "
    "per GB-month, 25 GB free, 100 bytes of overhead per item), DynamoDB provisioned "
    "capacity ($0.00065 per WCU-hour, $0.00013 per RCU-hour, 25 WCU and 25 RCU free), "
    "Secrets Manager ($0.40 a secret), SSM Parameter Store (standard parameters free), "
    "EC2 t4g on-demand, EBS gp3 "
    "($0.08/GB-month), public IPv4 addresses ($0.005/hour, since February 2024), VPC "
    "interface endpoints ($0.01/hour per AZ), S3 requests, Lambda x86_64 ($0.0000166667 per "
    "GB-second) and the free tiers of SQS (1 million requests) and Lambda (1 million "
    "requests, 400,000 GB-seconds): AWS's published prices, not re-read here"
)
