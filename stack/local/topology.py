"""What was deployed, read back from the emulator: functions, their SQS event source
mappings, and the schedules of the translated template (moto cannot create schedules).

Reading the deployed stack rather than keeping a second list means the local run checks
template.yaml every time.
"""

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from stack.local.runtime import FunctionSpec
from stack.template import Template, resources_of_type


@dataclass(frozen=True, slots=True)
class QueueMapping:
    function: FunctionSpec
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window: float
    max_concurrency: int
    reports_item_failures: bool


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str  # the schedule's logical id
    expression: str  # cron(...) or rate(...)
    timezone: str
    enabled: bool
    function: FunctionSpec
    input_template: str  # JSON with <aws.scheduler.scheduled-time> (or "" for none)

    def event(self, scheduled_time: str) -> dict[str, Any]:
        if not self.input_template:
            return {"time": scheduled_time, "detail-type": "Scheduled Event", "detail": {}}
        return json.loads(
            self.input_template.replace("<aws.scheduler.scheduled-time>", scheduled_time)
        )


def functions(
    session: Any, endpoint_url: str, overrides: dict[str, str], snap_start: Collection[str] = ()
) -> dict[str, FunctionSpec]:
    """Function ARN -> spec, with the local environment laid over the function's own;
    those named in snap_start start from a (simulated) SnapStart snapshot."""
    client = session.client("lambda", endpoint_url=endpoint_url)
    specs = {}
    for page in client.get_paginator("list_functions").paginate():
        for config in page["Functions"]:
            specs[config["FunctionArn"]] = FunctionSpec(
                name=config["FunctionName"],
                handler=config["Handler"],
                timeout=float(config.get("Timeout", 3)),
                environment={**config.get("Environment", {}).get("Variables", {}), **overrides},
                snap_start=config["FunctionName"] in snap_start,
            )
    return specs


def snap_start_functions(translated: Template, physical_ids: dict[str, str]) -> set[str]:
    """The names of the functions whose published versions SnapStart snapshots (moto's
    Lambda does not keep the setting, so it is read from the template)."""
    return {
        physical_ids[logical_id]
        for logical_id, function in resources_of_type(translated, "AWS::Lambda::Function").items()
        if (function["Properties"].get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions"
    }


def unqualified(function_arn: str) -> str:
    """A function's ARN without the version or alias a mapping invokes (SnapStart: live)."""
    parts = function_arn.split(":")
    return ":".join(parts[:7])


def queue_mappings(
    session: Any, endpoint_url: str, specs: dict[str, FunctionSpec]
) -> list[QueueMapping]:
    client = session.client("lambda", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    mappings = []
    for page in client.get_paginator("list_event_source_mappings").paginate():
        for mapping in page["EventSourceMappings"]:
            arn = mapping["EventSourceArn"]
            if ":sqs:" not in arn:
                continue
            _, _, _, _, account, name = arn.split(":")
            mappings.append(
                QueueMapping(
                    function=specs[unqualified(mapping["FunctionArn"])],
                    queue_arn=arn,
                    queue_url=sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                        "QueueUrl"
                    ],
                    batch_size=int(mapping.get("BatchSize") or 10),
                    batching_window=float(mapping.get("MaximumBatchingWindowInSeconds") or 0),
                    max_concurrency=int(
                        (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency") or 2
                    ),
                    reports_item_failures="ReportBatchItemFailures"
                    in (mapping.get("FunctionResponseTypes") or []),
                )
            )
    return mappings


def schedules(
    translated: Template, physical_ids: dict[str, str], specs: dict[str, FunctionSpec]
) -> list[Schedule]:
    """The template's EventBridge Scheduler schedules, each tied to its target function."""
    by_name = {spec.name: spec for spec in specs.values()}
    found = []
    for logical_id, resource in resources_of_type(translated, "AWS::Scheduler::Schedule").items():
        properties = resource["Properties"]
        target = properties["Target"]
        function_logical_id = _invoked_function(translated, target["Arn"])
        found.append(
            Schedule(
                name=_schedule_name(logical_id, properties),
                expression=properties["ScheduleExpression"],
                timezone=properties.get("ScheduleExpressionTimezone", "UTC"),
                enabled=properties.get("State", "ENABLED") == "ENABLED",
                function=by_name[physical_ids[function_logical_id]],
                input_template=target.get("Input", ""),
            )
        )
    return found


def _invoked_function(translated: Template, arn: dict[str, Any]) -> str:
    """The logical id of the function a target invokes: `!GetAtt F.Arn`, or an alias of it
    (`!Ref FAliaslive`, what SAM targets when the function publishes versions)."""
    if "Fn::GetAtt" in arn:
        return arn["Fn::GetAtt"][0]
    alias = translated["Resources"][arn["Ref"]]
    return alias["Properties"]["FunctionName"]["Ref"]


def _schedule_name(logical_id: str, properties: dict[str, Any]) -> str:
    """The periodic task's name from the Input (our ScheduleV2 convention), else a literal
    Name, else the logical id."""
    try:
        payload = json.loads(properties["Target"].get("Input", ""))
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("schedule"), str):
        return payload["schedule"]
    name = properties.get("Name")
    return name if isinstance(name, str) else logical_id
