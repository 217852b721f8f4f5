"""`manage.py check --tag tasks` (sqs_tasks.checks): each rule against a template that breaks
it, and the project as it is, which breaks none."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from sqs_tasks import checks
from sqs_tasks.checks import RECEIVES_NOT_ATTEMPTS, TaskSettings, problems
from tests.periodic.test_drift import NIGHTLY


def write_template(
    folder: Path,
    *,
    visibility: object = 1200,
    timeout: object = 180,
    window: int = 2,
    max_receive: int = 10,
    dead_letter: bool = True,
    reports_failures: bool = True,
    worker: bool = True,
    schedule: bool = False,
) -> Path:
    """One task queue, `mail`, with its worker, in the template's own shape."""
    redrive = (
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["MailDeadLetterQueue", "Arn"]},
                "maxReceiveCount": max_receive,
            }
        }
        if dead_letter
        else {}
    )
    resources: dict = {
        "MailQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": {"Fn::Sub": "${AppName}-${Stage}-mail"},
                "VisibilityTimeout": visibility,
                **redrive,
            },
        },
        "MailDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": {"Fn::Sub": "${AppName}-${Stage}-mail-dlq"}},
        },
    }
    if worker:
        event = {
            "Queue": {"Fn::GetAtt": ["MailQueue", "Arn"]},
            "MaximumBatchingWindowInSeconds": window,
            **({"FunctionResponseTypes": ["ReportBatchItemFailures"]} if reports_failures else {}),
        }
        resources["MailWorker"] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Handler": "functions/worker.handler",
                "Timeout": timeout,
                "Events": {"Queue": {"Type": "SQS", "Properties": event}},
            },
        }
    if schedule:
        resources["SchedulerFunction"] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Handler": "functions/scheduler.handler", "Events": {}},
        }
    path = folder / "template.yaml"
    path.write_text(json.dumps({"Resources": resources}))  # JSON is YAML
    return path


def task(**changes) -> TaskSettings:
    values = {
        "path": "app.tasks.send",
        "queue_name": "mail",
        "timeout": 60.0,
        "max_attempts": 3,
        "deadline_margin": 5.0,
    }
    return TaskSettings(**{**values, **changes})


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_a_template_that_agrees_with_the_tasks_raises_nothing(tmp_path):
    assert problems(write_template(tmp_path), [task()], ["mail"]) == []


def test_e001_a_task_on_a_queue_the_template_does_not_declare(tmp_path):
    (found,) = problems(write_template(tmp_path), [task(queue_name="emails")], ["mail"])
    assert found.id == "tasks.E001" and found.obj == "app.tasks.send"
    assert "'emails'" in found.msg and "TaskQueues" in found.hint


def test_e002_and_w001_settings_and_template_list_other_queues(tmp_path):
    found = problems(write_template(tmp_path), [], ["mail", "reports"])
    assert ids(found) == ["tasks.E002"] and "'reports'" in found[0].msg
    found = problems(write_template(tmp_path), [], [])
    assert ids(found) == ["tasks.W001"] and "'mail'" in found[0].msg


def test_e003_a_task_timeout_longer_than_its_worker_allows(tmp_path):
    path = write_template(tmp_path, timeout=180)
    assert problems(path, [task(timeout=175)], ["mail"]) == []  # 180 - 5 fits exactly
    (found,) = problems(path, [task(timeout=176)], ["mail"])
    assert found.id == "tasks.E003" and "175s" in found.msg and "175s or less" in found.hint


def test_e004_attempts_need_room_under_max_receive_count(tmp_path):
    path = write_template(tmp_path, max_receive=10)
    fits = 10 - RECEIVES_NOT_ATTEMPTS
    assert problems(path, [task(max_attempts=fits)], ["mail"]) == []
    (found,) = problems(path, [task(max_attempts=fits + 1)], ["mail"])
    assert found.id == "tasks.E004"
    assert f"Lower max_attempts to {fits}" in found.hint and "at least 11" in found.hint


def test_e005_visibility_below_six_timeouts_and_the_window(tmp_path):
    assert problems(write_template(tmp_path, visibility=1082), [], ["mail"]) == []
    (found,) = problems(write_template(tmp_path, visibility=1081), [], ["mail"])
    assert found.id == "tasks.E005" and "at least 1082" in found.hint


def test_e006_a_worker_without_report_batch_item_failures(tmp_path):
    found = problems(write_template(tmp_path, reports_failures=False), [], ["mail"])
    assert ids(found) == ["tasks.E006"]


def test_e007_a_queue_without_a_dead_letter_queue(tmp_path):
    found = problems(write_template(tmp_path, dead_letter=False), [task()], ["mail"])
    assert ids(found) == ["tasks.E007"]


def test_e008_a_queue_no_worker_consumes(tmp_path):
    found = problems(write_template(tmp_path, worker=False), [task()], ["mail"])
    assert ids(found) == ["tasks.E008"]


def test_e009_periodic_tasks_and_schedules_disagree(tmp_path):
    """The drift check of sqs_tasks.periodic, reported as check errors."""
    path = write_template(tmp_path, schedule=True)
    (found,) = problems(path, [], ["mail"], [NIGHTLY])
    assert found.id == "tasks.E009" and "has no schedule in template.yaml" in found.msg


@pytest.mark.parametrize("text", ["Resources: [unclosed\n", "- a list\n", "Resources: 3\n"])
def test_e010_a_template_that_cannot_be_read(tmp_path, text):
    path = tmp_path / "template.yaml"
    path.write_text(text)
    (found,) = problems(path, [], ["mail"])
    assert found.id == "tasks.E010"


def test_w002_values_that_are_not_literals_are_not_guessed(tmp_path):
    path = write_template(tmp_path, visibility={"Ref": "Visibility"}, timeout={"Ref": "T"})
    found = problems(path, [task()], ["mail"])
    assert ids(found) == ["tasks.W002", "tasks.W002"]


def test_the_project_passes_its_own_check(capsys):
    call_command("check", "--tag", "tasks", "--fail-level", "WARNING")
    assert "no issues" in capsys.readouterr().out


def test_the_project_tasks_are_all_seen():
    seen = {task.path: task for task in checks.declared_tasks()}
    backup = seen["django_app.maintenance.tasks.back_up_database"]
    assert (backup.queue_name, backup.timeout, backup.max_attempts) == ("heavy", 840.0, 2)
    assert "tests.sample_tasks.always_flaky" not in seen  # not an installed app's


def test_without_template_yaml_the_check_says_nothing(tmp_path):
    """A deployed Lambda function ships no template.yaml."""
    with override_settings(BASE_DIR=tmp_path):
        assert checks.check_tasks_against_template() == []


def test_the_registered_check_reads_the_template_beside_the_project(tmp_path):
    write_template(tmp_path, visibility=10)
    with override_settings(BASE_DIR=tmp_path):
        found = checks.check_tasks_against_template()
    assert "tasks.E005" in ids(found) and "tasks.E001" in ids(found)  # default, heavy, ...


@pytest.mark.parametrize("rule", ["E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008"])
def test_every_error_says_what_to_do(rule, tmp_path):
    broken = {
        "E001": (dict(), [task(queue_name="x")], ["mail"]),
        "E002": (dict(), [], ["mail", "x"]),
        "E003": (dict(), [task(timeout=999)], ["mail"]),
        "E004": (dict(), [task(max_attempts=99)], ["mail"]),
        "E005": (dict(visibility=1), [], ["mail"]),
        "E006": (dict(reports_failures=False), [], ["mail"]),
        "E007": (dict(dead_letter=False), [], ["mail"]),
        "E008": (dict(worker=False), [], ["mail"]),
    }
    template, tasks, names = broken[rule]
    (found,) = [m for m in problems(write_template(tmp_path, **template), tasks, names)]
    assert found.id == f"tasks.{rule}" and found.hint and found.is_serious()
