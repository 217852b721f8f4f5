"""Run a maintenance job the way production does: the event its template.yaml schedule
delivers -> functions.scheduler.handler -> the task's queue -> functions.worker.handler."""

import json
from datetime import datetime
from functools import cache
from pathlib import Path

from django.conf import settings
from django.tasks import TaskResult, default_task_backend

from functions.scheduler import handler
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.periodic import periodic_tasks
from sqs_tasks.periodic.registry import tick_iso
from sqs_tasks.periodic.template import load_template
from sqs_tasks.periodic.ticks import PLACEHOLDER
from sqs_tasks.testing import drain_queue


@cache
def scheduler_inputs() -> dict[str, str]:
    """Schedule name -> the Input of its ScheduleV2 event in template.yaml."""
    template = load_template(Path(settings.BASE_DIR) / "template.yaml")
    inputs = {}
    for resource in template["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            if event.get("Type") == "ScheduleV2":
                raw = event["Properties"]["Input"]
                inputs[json.loads(raw)["schedule"]] = raw
    return inputs


def delivered_event(name: str, tick: datetime) -> dict:
    """What EventBridge Scheduler hands the function at `tick`: the Input, filled in."""
    return json.loads(scheduler_inputs()[name].replace(PLACEHOLDER, tick_iso(tick)))


def run_schedule(name: str, tick: datetime) -> TaskResult:
    answer = handler(delivered_event(name, tick), LambdaContext())
    assert answer["status"] == "enqueued", answer
    drain_queue(periodic_tasks.get(name).task.queue_name)
    return default_task_backend.get_result(answer["task_id"])
