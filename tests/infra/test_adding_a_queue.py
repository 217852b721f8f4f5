"""Issue 18: a task queue is one declaration. In a copy of the project, declare a queue
`emails` the way the README says (its name in TaskQueues, its settings in
TaskQueueSettings) and nothing else; then the translated template, the moto deploy, the
local system's topology, settings, the checks, the Makefile and the infrastructure tests all
see it."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stack.template import ROOT

NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".venv", ".git", "build", "staticfiles", "var", "__pycache__", "*.zip", ".*_cache"
)
EMAILS_SETTINGS = """    emails:
      Timeout: 120
      VisibilityTimeout: 800
      BatchSize: 5
      DevConcurrency: 3
"""


def declare_queue(template: str, name: str, settings: str) -> str:
    """The README's two steps: the name in TaskQueues, the settings in TaskQueueSettings."""
    template, named = re.subn(
        r"(  TaskQueues:\n    Type: CommaDelimitedList\n    Default: )(\S+)",
        rf"\g<1>\g<2>,{name}",
        template,
    )
    template, mapped = re.subn(r"(  TaskQueueSettings:\n)", rf"\g<1>{settings}", template)
    assert named == mapped == 1, "template.yaml's declaration block moved"
    return template


@pytest.fixture(scope="module")
def project_with_emails(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("emails") / "project"
    shutil.copytree(ROOT, project, ignore=NOT_IN_A_CLONE)
    template = project / "template.yaml"
    template.write_text(declare_queue(template.read_text(), "emails", EMAILS_SETTINGS))
    return project


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project)}
    env.pop("TASK_QUEUES", None)
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def seen(project_with_emails) -> dict:
    process = run(project_with_emails, "-m", "tests.infra.queue_probe", "emails")
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_only_the_declaration_changed(project_with_emails):
    ours, theirs = (
        (ROOT / "template.yaml").read_text(),
        (project_with_emails / "template.yaml").read_text(),
    )
    added = [line for line in theirs.splitlines() if line not in ours.splitlines()]
    declared = "    Default: default,heavy,default-express,emails"
    assert added == [declared, *EMAILS_SETTINGS.splitlines()]


def test_settings_list_it(seen):
    assert seen["settings_queues"] == ["default", "heavy", "emails"]


def test_the_translated_template_has_everything_a_queue_needs(seen):
    resources = seen["translated"]["resources"]
    for logical_id, kind in {
        "Queueemails": "AWS::SQS::Queue",
        "DeadLetterQueueemails": "AWS::SQS::Queue",
        "WorkerRoleemails": "AWS::IAM::Role",
        "WorkerFunctionemails": "AWS::Lambda::Function",
        "WorkerFunctionemailsAliaslive": "AWS::Lambda::Alias",
        "WorkerFunctionemailsQueue": "AWS::Lambda::EventSourceMapping",
        "Enqueueemails": "AWS::IAM::Policy",
        "UseemailsFromWorkerdefault": "AWS::IAM::Policy",
        "UsedefaultFromWorkeremails": "AWS::IAM::Policy",
        "CountDeadLettersemails": "AWS::IAM::Policy",
        "DeadLetterAlarmemails": "AWS::CloudWatch::Alarm",
        "BacklogAlarmemails": "AWS::CloudWatch::Alarm",
        "WorkerErrorsAlarmemails": "AWS::CloudWatch::Alarm",
        "WorkerThrottlesAlarmemails": "AWS::CloudWatch::Alarm",
    }.items():
        assert resources.get(logical_id) == kind, logical_id
    assert seen["translated"]["mapping"] == {
        "FunctionName": {"Ref": "WorkerFunctionemailsAliaslive"},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    assert seen["translated"]["queries_read_workers"]
    assert seen["translated"]["outputs"] == ["DeadLetterQueueUrlemails", "QueueUrlemails"]


def test_moto_deploys_it_and_the_local_system_would_poll_it(seen):
    deployed = seen["deployed"]
    assert deployed["task_queue_names"] == "default,heavy,default-express,emails"
    assert deployed["redrive"]["maxReceiveCount"] == 10
    assert deployed["redrive"]["deadLetterTargetArn"].endswith(":app-dev-emails-dlq")
    assert deployed["retention"] == str(14 * 24 * 3600)
    assert deployed["topology"] == {
        "function": "app-dev-worker-emails",
        "timeout": 120.0,
        "batch_size": 5,
        "batching_window": 2.0,
        "max_concurrency": 3,
        "reports_item_failures": True,
        "TASK_QUEUES": "default,heavy,default-express,emails",
    }
    assert deployed["policies_naming_it"] == {
        "app-dev-web": ["count-emails-dead-letters", "enqueue-emails"],
        "app-dev-scheduler": ["enqueue-emails"],
        "app-dev-worker-default": ["use-emails-queue"],
    }


def test_the_checks_and_the_makefile_see_it(seen):
    assert seen["checks"]["registered_check"] == []
    assert seen["checks"]["a_task_too_long_for_its_worker"] == ["tasks.E003"]
    assert seen["checks"]["make_target"] == 0


def test_the_copys_own_infrastructure_tests_pass_with_it(project_with_emails):
    process = run(
        project_with_emails,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/infra/test_template_invariants.py",
        "tests/infra/test_console.py",
        "tests/infra/test_stack_deploy.py::test_each_queue_feeds_its_worker_with_partial_batch_responses",
    )
    assert process.returncode == 0, process.stdout[-3000:]
