"""The schedules template.yaml declares for the scheduler function, as plain values.

Only events on functions whose handler is `functions/scheduler.handler` count. SAM
`ScheduleV2` (EventBridge Scheduler: time zones, retries, a dead-letter queue) is the
convention; a legacy `Schedule` (EventBridge rule, always UTC) is read too, since the
handler accepts its Scheduled Event. What cannot be read as a literal is reported, not
guessed at: a check that cannot see a value cannot vouch for it.

Reading YAML needs PyYAML, a development tool: this module is
for `manage.py periodic_tasks` and the tests, never for a Lambda function.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqs_tasks.periodic.ticks import PLACEHOLDER

SCHEDULER_HANDLER = "functions/scheduler.handler"
PREFIX_SUB = "${AppName}-${Stage}-"


@dataclass(frozen=True, slots=True)
class DeclaredSchedule:
    """One schedule event in the template; `problems` lists what is wrong with its shape."""

    where: str  # e.g. SchedulerFunction.Events.PurgeExpiredResults
    name: str | None
    expression: str | None
    timezone: str | None
    enabled: bool | None
    problems: tuple[str, ...] = ()


def load_template(path: Path) -> dict[str, Any]:
    """The template as CloudFormation deploys it: short-form intrinsics (!Sub ...) in their
    long form, its language extensions (the task queue loop) expanded."""
    from sqs_tasks.infra.cfn import load_expanded

    return load_expanded(path)


def scheduler_functions(template: dict[str, Any]) -> list[str]:
    return [
        logical_id
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and (resource.get("Properties") or {}).get("Handler") == SCHEDULER_HANDLER
    ]


def declared_schedules(template: dict[str, Any]) -> list[DeclaredSchedule]:
    declared = []
    for logical_id in scheduler_functions(template):
        events = template["Resources"][logical_id]["Properties"].get("Events") or {}
        for event_id, event in events.items():
            where = f"{logical_id}.Events.{event_id}"
            properties = event.get("Properties") or {}
            if event.get("Type") == "ScheduleV2":
                declared.append(_schedule_v2(where, properties))
            elif event.get("Type") == "Schedule":
                declared.append(_rule_schedule(where, properties))
    return declared


class _Reading:
    """Collects what could not be read while one event's values are picked out."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def literal(self, value: Any, what: str, kinds: type | tuple[type, ...] = str) -> Any:
        if value is None or isinstance(value, kinds):
            return value
        self.problems.append(f"{what} is not a literal ({json.dumps(value)}): cannot check it")
        return None

    def input_object(self, raw: Any) -> dict[str, Any]:
        text = self.literal(raw, "Input")
        try:
            value = json.loads(text) if text is not None else {}
        except ValueError:
            value = None
        if not isinstance(value, dict):
            self.problems.append(f"Input {text!r} is not a JSON object")
            return {}
        return value


def _schedule_v2(where: str, properties: dict[str, Any]) -> DeclaredSchedule:
    reading = _Reading()
    payload = reading.input_object(properties.get("Input"))
    if payload.get("scheduled_time") != PLACEHOLDER:
        reading.problems.append(
            f'Input must carry the tick, "scheduled_time": "{PLACEHOLDER}" (deduplication '
            "keys on it)"
        )
    state = reading.literal(properties.get("State", "ENABLED"), "State")
    if state not in (None, "ENABLED", "DISABLED"):
        reading.problems.append(f"State {state!r} is neither ENABLED nor DISABLED")
    return DeclaredSchedule(
        where=where,
        name=_name(reading, payload.get("schedule"), "Input's schedule"),
        expression=reading.literal(properties.get("ScheduleExpression"), "ScheduleExpression"),
        timezone=reading.literal(
            properties.get("ScheduleExpressionTimezone", "UTC"), "ScheduleExpressionTimezone"
        ),
        enabled=None if state not in ("ENABLED", "DISABLED") else state == "ENABLED",
        problems=tuple(reading.problems),
    )


def _rule_schedule(where: str, properties: dict[str, Any]) -> DeclaredSchedule:
    """A rule's Scheduled Event carries its time; its name comes from the rule's Name."""
    reading = _Reading()
    if "Input" in properties:
        reading.problems.append(
            "a rule's Input replaces the Scheduled Event and its time: drop Input, or use "
            "ScheduleV2"
        )
    name = properties.get("Name")
    if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
        name = name["Fn::Sub"]
    if not isinstance(name, str) or not name.startswith(PREFIX_SUB):
        reading.problems.append(f"Name must be !Sub {PREFIX_SUB}<schedule name>")
        name = None
    enabled = reading.literal(properties.get("Enabled", True), "Enabled", bool)
    return DeclaredSchedule(
        where=where,
        name=name.removeprefix(PREFIX_SUB) if name else None,
        expression=reading.literal(properties.get("Schedule"), "Schedule"),
        timezone="UTC",
        enabled=enabled,
        problems=tuple(reading.problems),
    )


def _name(reading: _Reading, value: Any, what: str) -> str | None:
    if isinstance(value, str) and value:
        return value
    reading.problems.append(f"{what} must name the periodic task")
    return None
