"""functions/scheduler.handler (contract 4): from a schedule's event to one enqueued run."""

import json
import logging
from pathlib import Path

import pytest
from django.tasks import TaskResultStatus, default_task_backend

from functions.scheduler import handler
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.testing import drain_queue
from tests.core.test_project import PRODUCTION_ENV, run_python
from tests.helpers import count

FIXTURE = Path(__file__).parent.parent / "fixtures" / "aws-events" / "scheduled-event.json"
TICK = "2026-11-24T03:00:00Z"


def scheduler_input(name, scheduled_time=TICK):
    """What EventBridge Scheduler delivers for our ScheduleV2 Input."""
    return {"schedule": name, "scheduled_time": scheduled_time}


def rule_event(rule_name, time=TICK):
    """What an EventBridge rule without Input delivers."""
    event = json.loads(FIXTURE.read_text())
    event["resources"] = [f"arn:aws:events:us-east-1:123456789012:rule/{rule_name}"]
    event["time"] = time
    return event


def test_enqueues_the_named_task_and_the_worker_runs_it(aws, scheduled):
    answer = handler(scheduler_input("echo-tick"), LambdaContext(aws_request_id="sched-1"))

    assert answer["status"] == "enqueued"
    assert answer["schedule"] == "echo-tick" and answer["scheduled_time"] == TICK
    item = default_task_backend.results.get(answer["task_id"])
    assert item.task_path == "tests.periodic.tasks.echo_tick"
    assert item.request_id == "sched-1"  # the trail back to this invocation
    drain_queue("default")
    result = default_task_backend.get_result(answer["task_id"])
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == TICK  # the task received the tick it runs for


def test_two_deliveries_of_one_tick_enqueue_one_run(aws, scheduled):
    first = handler(scheduler_input("echo-tick"), LambdaContext())
    again = handler(scheduler_input("echo-tick", "2026-11-24T03:00:00+00:00"), LambdaContext())
    assert first["task_id"] == again["task_id"]
    assert count(aws["default"]) == 1
    later = handler(scheduler_input("echo-tick", "2026-11-25T03:00:00Z"), LambdaContext())
    assert later["task_id"] != first["task_id"]
    assert count(aws["default"]) == 2


def test_a_rules_scheduled_event_names_the_task_by_rule_name(aws, scheduled):
    answer = handler(rule_event("app-test-echo-tick"), LambdaContext())
    assert answer["status"] == "enqueued" and answer["scheduled_time"] == TICK
    assert handler(rule_event("app-test-echo-tick"), LambdaContext()) == answer


def test_an_unknown_name_is_refused_and_logged(aws, scheduled, caplog):
    caplog.set_level(logging.ERROR, logger="sqs_tasks.periodic")
    answer = handler(json.loads(FIXTURE.read_text()), LambdaContext())  # app-dev-nightly-cleanup
    assert answer["status"] == "refused"
    assert "'app-dev-nightly-cleanup' is not a registered periodic task" in answer["reason"]
    assert "echo-tick" in answer["reason"]  # it says what is known
    assert count(aws["default"]) == 0 and count(aws["heavy"]) == 0
    (record,) = caplog.records
    assert record.levelname == "ERROR" and "refused schedule event" in record.getMessage()


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, 'the event has no "schedule"'),
        ({"schedule": ""}, "is not a non-empty string"),
        ({"schedule": "echo-tick", "scheduled_time": "yesterday"}, "is not an ISO 8601 time"),
        ({"detail-type": "Scheduled Event", "resources": []}, "names no rule"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_unreadable_events_are_refused(aws, scheduled, event, reason):
    answer = handler(event, LambdaContext())
    assert answer["status"] == "refused" and reason in answer["reason"]
    assert count(aws["default"]) == 0


def test_a_task_disabled_in_code_is_skipped(aws, scheduled, caplog):
    caplog.set_level(logging.WARNING, logger="sqs_tasks.periodic")
    answer = handler(scheduler_input("quiet"), LambdaContext())
    assert answer == {
        "status": "skipped",
        "reason": "disabled",
        "schedule": "quiet",
        "scheduled_time": TICK,
    }
    assert count(aws["heavy"]) == 0
    assert "disabled" in caplog.records[0].getMessage()


@pytest.mark.parametrize("scheduled_time", [None, "<aws.scheduler.scheduled-time>"])
def test_invoked_by_hand_the_current_minute_is_the_tick(aws, scheduled, scheduled_time):
    event = {"schedule": "echo-tick"}
    if scheduled_time:
        event["scheduled_time"] = scheduled_time
    first = handler(event, LambdaContext())
    assert first["status"] == "enqueued" and first["scheduled_time"].endswith(":00Z")


def test_importing_the_scheduler_talks_to_no_aws():
    """Cold starts stay lean, and importing discovers the periodic tasks without AWS."""
    env = {
        **PRODUCTION_ENV,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    code = (
        "import json, functions.scheduler as s, sqs_tasks.aws as a;"
        "print(json.dumps({'clients': a._client.cache_info().currsize,"
        " 'tasks': len(s.periodic_tasks.all())}))"
    )
    process = run_python(code, env)
    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout.splitlines()[-1])
    assert result["clients"] == 0 and result["tasks"] > 0
