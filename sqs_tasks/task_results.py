"""A results-table item as Django's TaskResult, the shape application code reads."""

import json
from datetime import datetime
from typing import Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.utils.module_loading import import_string

from sqs_tasks.claim_check import PayloadStore
from sqs_tasks.envelope import Envelope


def resolve_task(path: str) -> Task:
    """The Task a module path names; ValueError when it names anything else."""
    try:
        task = import_string(path)
    except ImportError as error:
        raise ValueError(f"{path!r} cannot be imported: {error}") from None
    if not isinstance(task, Task):
        raise ValueError(f"{path!r} is not a django.tasks.Task")
    return task


def task_errors(errors: list[dict[str, Any]]) -> list[TaskError]:
    return [
        TaskError(exception_class_path=e["exception_class_path"], traceback=e["traceback"])
        for e in errors
    ]


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def to_task_result(item: dict[str, Any], payloads: PayloadStore) -> TaskResult:
    task = resolve_task(item["task_path"])
    if item.get("run_after"):
        task = task.using(run_after=_moment(item["run_after"]))
    args, kwargs = item.get("args", []), item.get("kwargs", {})
    if "payload_ref" in item:  # arguments too large for the item live with the message
        envelope = Envelope.from_json(payloads.get(item["payload_ref"], task_id=item["id"]))
        args, kwargs = envelope.args, envelope.kwargs
    result = TaskResult(
        task=task,
        id=item["id"],
        status=TaskResultStatus(item["status"]),
        enqueued_at=_moment(item.get("enqueued_at")),
        started_at=_moment(item.get("started_at")),
        finished_at=_moment(item.get("finished_at")),
        last_attempted_at=_moment(item.get("last_attempted_at")),
        args=args,
        kwargs=kwargs,
        backend=item["backend"],
        errors=task_errors(item.get("errors", [])),
        worker_ids=list(item.get("worker_ids", [])),
    )
    if item["status"] == TaskResultStatus.SUCCESSFUL:
        value = item.get("return_value")
        if "return_value_ref" in item:
            value = json.loads(payloads.get(item["return_value_ref"], task_id=item["id"]))
        object.__setattr__(result, "_return_value", value)
    return result
