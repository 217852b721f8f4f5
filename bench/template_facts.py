"""What template.yaml deploys, counted from the template itself: the fixed costs of the bill
(alarms, dashboards, secrets, queues polled by Lambda, schedules and their runs) and the
tasks table's indexes, so the figures follow the template when it changes."""

from dataclasses import dataclass
from functools import cache
from typing import Any

from bench.items import IndexShape
from sqs_tasks.periodic.cron import CronExpression
from sqs_tasks.periodic.expressions import parse_schedule
from sqs_tasks.periodic.template import declared_schedules
from stack.conditions import deployed
from stack.template import Template, load_template, resources_of_type

# A month of 30 days (November 2026): schedules are counted over it.
MONTH = (2026, 11)
DAYS_IN_MONTH = 30
TASKS_TABLE = "TasksTable"


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    runs_per_month: int


@dataclass(frozen=True)
class PolledQueue:
    """A queue an SQS event source mapping polls, and the function it invokes."""

    function: str
    memory_mb: int
    batch_size: int
    maximum_concurrency: bool  # set: Lambda cannot scale its idle pollers down to two


@cache
def template() -> Template:
    return load_template()


# The conditions a stage's defaults make true, beside having none: the bill prices prod.
STAGE_CONDITIONS = {"prod": {"IsProd"}, "dev": set()}


def count(resource_type: str, stage: str = "prod") -> int:
    """Resources of one type that a stage deploys with the template's defaults (no
    Condition, or one the stage alone makes true)."""
    found = resources_of_type(template(), resource_type)
    deployed = STAGE_CONDITIONS[stage]
    return sum(1 for resource in found.values() if resource.get("Condition", "") in {"", *deployed})


def alarms() -> int:
    return count("AWS::CloudWatch::Alarm")


def dashboards(stage: str = "prod") -> int:
    return count("AWS::CloudWatch::Dashboard", stage)


def secrets() -> int:
    return count("AWS::SecretsManager::Secret")


def function_memory(logical_id: str) -> int:
    properties = template()["Resources"][logical_id]["Properties"]
    return int(properties.get("MemorySize", template()["Globals"]["Function"]["MemorySize"]))


def polled_queues() -> list[PolledQueue]:
    found = []
    functions = resources_of_type(template(), "AWS::Serverless::Function")
    for logical_id, function in functions.items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            properties = event["Properties"]
            found.append(
                PolledQueue(
                    function=logical_id,
                    memory_mb=function_memory(logical_id),
                    batch_size=int(properties.get("BatchSize", 10)),
                    maximum_concurrency="MaximumConcurrency"
                    in (properties.get("ScalingConfig") or {}),
                )
            )
    return found


def schedules() -> list[Schedule]:
    """Every ScheduleV2 of the scheduler function, with its runs in a 30-day month."""
    found = []
    for declared in declared_schedules(template()):
        if declared.expression is None or declared.name is None or declared.enabled is False:
            continue
        expression = parse_schedule(declared.expression)
        if not isinstance(expression, CronExpression):
            raise ValueError(f"{declared.name}: only cron() schedules are counted here")
        year, month = MONTH
        days = [d for d in expression.day.days(year, month) if d <= DAYS_IN_MONTH]
        if month not in expression.months:
            days = []
        runs = len(days) * len(expression.hours) * len(expression.minutes)
        found.append(Schedule(declared.name, declared.expression, runs))
    return found


def tasks_table() -> dict[str, Any]:
    return template()["Resources"][TASKS_TABLE]["Properties"]


def tasks_table_indexes() -> tuple[IndexShape, ...]:
    shapes = []
    for index in tasks_table().get("GlobalSecondaryIndexes", []):
        projection = index.get("Projection", {})
        if projection.get("ProjectionType") != "INCLUDE":
            raise ValueError(f"index {index['IndexName']}: only INCLUDE projections are modelled")
        shapes.append(
            IndexShape(
                name=index["IndexName"],
                keys=tuple(key["AttributeName"] for key in index["KeySchema"]),
                projected=tuple(projection.get("NonKeyAttributes", ())),
            )
        )
    return tuple(shapes)


def point_in_time_recovery() -> bool:
    specification = tasks_table().get("PointInTimeRecoverySpecification") or {}
    return bool(specification.get("PointInTimeRecoveryEnabled"))


def interface_endpoints() -> int:
    """VPC interface endpoints (billed by the hour per AZ), deployed only inside a VPC."""
    found = resources_of_type(template(), "AWS::EC2::VPCEndpoint")
    return sum(
        1
        for resource in found.values()
        if resource["Properties"].get("VpcEndpointType") == "Interface"
    )


def maximum_concurrency(function: str, stage: str) -> int:
    """Batches in flight the function's SQS event source mapping allows in `stage`."""
    events = template()["Resources"][function]["Properties"].get("Events") or {}
    for event in events.values():
        if event.get("Type") == "SQS":
            value = event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
            if isinstance(value, dict):  # {"Fn::If": ["IsProd", prod, other]}
                _, prod, other = value["Fn::If"]
                value = prod if stage == "prod" else other
            return int(value)
    raise KeyError(f"{function} has no SQS event")


def batching_window(function: str) -> float:
    """Seconds the function's SQS event source mapping may wait to fill a batch."""
    events = template()["Resources"][function]["Properties"].get("Events") or {}
    for event in events.values():
        if event.get("Type") == "SQS":
            return float(event["Properties"].get("MaximumBatchingWindowInSeconds", 0))
    return 0.0


# -- TableCapacity=provisioned -------------------------------------------------------------
PROVISIONED = {"TableCapacity": "provisioned"}
# Application Auto Scaling's target tracking makes and owns four CloudWatch alarms a policy
# for DynamoDB (AlarmHigh, AlarmLow, ProvisionedCapacityHigh, ProvisionedCapacityLow).
ALARMS_PER_SCALING_POLICY = 4


@dataclass(frozen=True)
class ScaledCapacity:
    """One capacity auto scaling keeps: of the table or of an index, for writes or reads."""

    part: str  # "table", or the index's name
    writes: bool  # write capacity units, else read
    minimum: int  # units, the parameter's default


@dataclass(frozen=True)
class ProvisionedTable:
    capacities: tuple[ScaledCapacity, ...]
    target: float  # the share of provisioned capacity auto scaling keeps in use (0-1)
    scaling_policies: int


def provisioned_table() -> ProvisionedTable:
    """What TableCapacity=provisioned deploys with its other parameters' defaults."""
    rendered = deployed(template(), PROVISIONED)
    defaults = {name: value.get("Default") for name, value in rendered["Parameters"].items()}
    capacities = []
    for target in resources_of_type(
        rendered, "AWS::ApplicationAutoScaling::ScalableTarget"
    ).values():
        properties = target["Properties"]
        resource = properties["ResourceId"]["Fn::Sub"]
        part = resource.split("/index/")[1] if "/index/" in resource else "table"
        capacities.append(
            ScaledCapacity(
                part=part,
                writes=properties["ScalableDimension"].endswith("WriteCapacityUnits"),
                minimum=int(defaults[properties["MinCapacity"]["Ref"]]),
            )
        )
    policies = resources_of_type(rendered, "AWS::ApplicationAutoScaling::ScalingPolicy")
    targets = {
        int(
            defaults[
                policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"][
                    "Ref"
                ]
            ]
        )
        for policy in policies.values()
    }
    (target_percent,) = targets
    return ProvisionedTable(tuple(capacities), target_percent / 100, len(policies))
