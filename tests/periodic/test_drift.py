"""Code vs template.yaml: drift in either direction fails, and the real template agrees."""

import json

import pytest
from django.core.management import CommandError, call_command

from sqs_tasks.periodic.drift import find_drift
from sqs_tasks.periodic.registry import declare
from sqs_tasks.periodic.template import declared_schedules, load_template
from tests.periodic import tasks

NIGHTLY = declare("nightly", tasks.echo_tick, schedule="cron(0 3 * * ? *)", timezone="Europe/Paris")
HOURLY = declare("hourly", tasks.no_arguments, schedule="rate(1 hour)", enabled=False)


def schedule_v2(name, expression, timezone=None, state=None, **extra):
    properties = {
        "Name": {"Fn::Sub": f"${{AppName}}-${{Stage}}-{name}"},
        "ScheduleExpression": expression,
        "Input": json.dumps({"schedule": name, "scheduled_time": "<aws.scheduler.scheduled-time>"}),
        **extra,
    }
    if timezone:
        properties["ScheduleExpressionTimezone"] = timezone
    if state:
        properties["State"] = state
    return {"Type": "ScheduleV2", "Properties": properties}


def template(events, handler="functions/scheduler.handler"):
    return {
        "Resources": {
            "SchedulerFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": handler, "Events": events},
            },
            "WorkerFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "functions/worker.handler", "Events": {}},
            },
        }
    }


def drift(events, tasks=(NIGHTLY, HOURLY)):
    return find_drift(list(tasks), declared_schedules(template(events)))


AGREEING = {
    "Nightly": schedule_v2("nightly", "cron(0 3 * * ? *)", "Europe/Paris"),
    "Hourly": schedule_v2("hourly", "rate(1 hour)", state="DISABLED"),
}


def test_agreement_is_no_drift():
    assert drift(AGREEING) == []


def test_a_task_without_a_schedule_says_what_to_add():
    (problem,) = drift({"Nightly": AGREEING["Nightly"]})
    assert problem.startswith(
        "periodic task 'hourly' (tests.periodic.tasks.no_arguments) has no schedule"
    )
    assert "Type: ScheduleV2" in problem and "ScheduleExpression: rate(1 hour)" in problem
    assert "State: DISABLED" in problem


def test_a_schedule_without_a_task():
    events = {**AGREEING, "Weekly": schedule_v2("weekly", "cron(0 4 ? * MON *)")}
    assert drift(events) == [
        "SchedulerFunction.Events.Weekly: schedule 'weekly' names no registered periodic task"
    ]


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (
            schedule_v2("nightly", "cron(0 4 * * ? *)", "Europe/Paris"),
            "expression 'cron(0 4 * * ? *)' differs from the code's 'cron(0 3 * * ? *)'",
        ),
        (
            schedule_v2("nightly", "cron(0 3 * * ? *)"),
            "time zone 'UTC' differs from the code's 'Europe/Paris'",
        ),
        (
            schedule_v2("nightly", "cron(0 3 * * ? *)", "Europe/Paris", "DISABLED"),
            "disabled in the template, enabled in the code",
        ),
        (
            schedule_v2("nightly", "cron(0 3 * * * *)", "Europe/Paris"),
            "exactly one of day-of-month and day-of-week must be '?'",
        ),
    ],
)
def test_a_differing_schedule(changed, expected):
    problems = drift({**AGREEING, "Nightly": changed})
    assert problems and all(p.startswith("SchedulerFunction.Events.Nightly") for p in problems)
    assert any(expected in p for p in problems), problems


def test_spacing_is_not_drift():
    events = {**AGREEING, "Nightly": schedule_v2("nightly", "cron(0  3 * * ? *)", "Europe/Paris")}
    assert drift(events) == []


def test_the_same_name_twice():
    events = {**AGREEING, "Again": AGREEING["Hourly"]}
    assert any("'hourly' is declared more than once" in p for p in drift(events))


def test_an_input_without_the_tick_is_reported():
    event = schedule_v2("hourly", "rate(1 hour)", state="DISABLED")
    event["Properties"]["Input"] = json.dumps({"schedule": "hourly"})
    (problem,) = drift({**AGREEING, "Hourly": event})
    assert '"scheduled_time": "<aws.scheduler.scheduled-time>"' in problem


def test_values_it_cannot_read_are_reported_not_guessed():
    event = schedule_v2("hourly", "rate(1 hour)", state={"Fn::If": ["IsProd", "ENABLED", "X"]})
    (problem,) = drift({**AGREEING, "Hourly": event})
    assert "State is not a literal" in problem


def test_a_rule_schedule_is_read_by_its_name():
    rule = {
        "Type": "Schedule",
        "Properties": {
            "Name": {"Fn::Sub": "${AppName}-${Stage}-hourly"},
            "Schedule": "rate(1 hour)",
            "Enabled": False,
        },
    }
    assert drift({**AGREEING, "Hourly": rule}) == []


def test_events_on_other_functions_do_not_count():
    assert len(drift({}, tasks=())) == 0
    other = template(AGREEING, handler="functions/worker.handler")
    assert declared_schedules(other) == []


def test_load_template_reads_short_form_intrinsics(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n"
        "  SchedulerFunction:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Handler: functions/scheduler.handler\n"
        "      Events:\n"
        "        Nightly:\n"
        "          Type: ScheduleV2\n"
        "          Properties:\n"
        "            Name: !Sub ${AppName}-${Stage}-nightly\n"
        "            ScheduleExpression: cron(0 3 * * ? *)\n"
        "            ScheduleExpressionTimezone: Europe/Paris\n"
        "            RoleArn: !GetAtt ScheduleInvokeRole.Arn\n"
        '            Input: \'{"schedule": "nightly", "scheduled_time": '
        '"<aws.scheduler.scheduled-time>"}\'\n'
    )
    declared = declared_schedules(load_template(path))
    assert find_drift([NIGHTLY], declared) == []


def test_the_command_fails_on_drift(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("Resources: {}\n")
    with pytest.raises(CommandError, match=r"template\.yaml and the code disagree"):
        call_command("periodic_tasks", "--check", "--template", str(path))


def test_the_real_template_schedules_exactly_the_periodic_tasks(capsys):
    """The suite's drift check: template.yaml and the code's declarations agree."""
    call_command("periodic_tasks", "--check")
    assert "schedules exactly these" in capsys.readouterr().out


def test_the_listing_shows_schedules_and_next_runs(capsys, scheduled):
    call_command("periodic_tasks", "--next", "2")
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("echo-tick")]
    assert "tests.periodic.tasks.echo_tick [default]" in line
    assert "cron(0 3 * * ? *)" in line and "UTC" in line and "enabled" in line
    assert line.count(" 03:00 UTC") == 2
    (quiet,) = [line for line in out.splitlines() if line.startswith("quiet")]
    assert "every 1 hour from deployment" in quiet and "DISABLED" in quiet
