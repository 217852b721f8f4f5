"""The schedule convention (template.yaml, above SchedulerFunction): every ScheduleV2 event
goes through ScheduleInvokeRole, retries, dead-letters to the schedules DLQ, and carries
{"schedule", "scheduled_time"}. Which schedules exist, and that they match the periodic
tasks in code, is tests/periodic/test_drift.py's business."""

import copy
import json
import re

from stack.template import TEMPLATE, Template, parse_yaml, resources_of_type

from .conftest import translate_offline

SCHEDULES_DLQ = {"Fn::GetAtt": ["SchedulesDeadLetterQueue", "Arn"]}
INVOKE_ROLE = {"Fn::GetAtt": ["ScheduleInvokeRole", "Arn"]}


def schedule_events(template: Template) -> dict[str, dict]:
    return {
        f"{logical_id}.{name}": event["Properties"]
        for logical_id, function in resources_of_type(template, "AWS::Serverless::Function").items()
        for name, event in function["Properties"].get("Events", {}).items()
        if event["Type"] in ("ScheduleV2", "Schedule")
    }


def convention_problems(where: str, properties: dict) -> list[str]:
    payload = json.loads(properties.get("Input", "{}"))
    name = payload.get("schedule")
    expected = {
        "RoleArn": INVOKE_ROLE,
        "DeadLetterConfig": {"Arn": SCHEDULES_DLQ},
        "Name": {"Fn::Sub": f"${{AppName}}-${{Stage}}-{name}"},
    }
    problems = [
        f"{where}: {key} should be {value}"
        for key, value in expected.items()
        if properties.get(key) != value
    ]
    if properties.get("RetryPolicy", {}).get("MaximumRetryAttempts", 0) < 1:
        problems.append(f"{where}: RetryPolicy.MaximumRetryAttempts should be at least 1")
    if payload.get("scheduled_time") != "<aws.scheduler.scheduled-time>":
        problems.append(f"{where}: Input should carry <aws.scheduler.scheduled-time>")
    return problems


def documented_example() -> dict:
    """The Events block shown in the comment above SchedulerFunction, parsed."""
    text = TEMPLATE.read_text()
    block = re.search(r"^  #   Events:\n((?:  #  .*\n)+)", text, flags=re.MULTILINE)
    assert block, "the schedule example comment is missing"
    lines = [line.removeprefix("  #   ") for line in block.group(1).splitlines()]
    return parse_yaml("\n".join(lines))


def with_example_schedule(template: Template) -> Template:
    changed = copy.deepcopy(template)
    events = changed["Resources"]["SchedulerFunction"]["Properties"].setdefault("Events", {})
    events.update(documented_example())
    return changed


def test_every_schedule_follows_the_convention(template):
    problems = [
        problem
        for where, properties in schedule_events(template).items()
        for problem in convention_problems(where, properties)
    ]
    assert problems == []


def test_the_documented_example_follows_the_convention(template):
    events = schedule_events(with_example_schedule(template))
    example = events["SchedulerFunction.NightlyCleanup"]
    assert convention_problems("example", example) == []
    assert convention_problems("broken", {**example, "Input": '{"schedule": "x"}'}) == [
        "broken: Name should be {'Fn::Sub': '${AppName}-${Stage}-x'}",
        "broken: Input should carry <aws.scheduler.scheduled-time>",
    ]


def test_the_documented_example_becomes_a_scheduler_schedule_that_invokes_the_scheduler(
    template, translated
):
    with_schedule = translate_offline(with_example_schedule(template))
    schedules = resources_of_type(with_schedule, "AWS::Scheduler::Schedule")
    existing = resources_of_type(translated, "AWS::Scheduler::Schedule")
    (schedule,) = [s for logical_id, s in schedules.items() if logical_id not in existing]
    target = schedule["Properties"]["Target"]
    # The alias AutoPublishAlias makes: SnapStart restores published versions only.
    assert target["Arn"] == {"Ref": "SchedulerFunctionAliaslive"}
    assert target["RoleArn"] == INVOKE_ROLE
    assert target["DeadLetterConfig"] == {"Arn": SCHEDULES_DLQ}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert json.loads(target["Input"]) == {
        "schedule": "nightly-cleanup",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    assert schedule["Properties"]["ScheduleExpressionTimezone"] == "UTC"
    # SAM makes no role of its own for it: ScheduleInvokeRole is the one.
    roles = set(resources_of_type(translated, "AWS::IAM::Role"))
    assert set(resources_of_type(with_schedule, "AWS::IAM::Role")) == roles
