"""A task's item (or its unsent outbox entry) as Django's TaskResult, the shape
application code reads."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.base import TaskError

from sqs_tasks import declared
from sqs_tasks.claim_check import PayloadStore
from sqs_tasks.envelope import Envelope, decode_arguments
from sqs_tasks.errors import ErrorRecord
from sqs_tasks.item import StoredJSON, TaskItem


def resolve_task(path: str) -> Task:
    """The declared Task a module path names; ValueError when it names anything else."""
    task = declared.lookup(path)
    if task is None:
        raise ValueError(f"{path!r} is not a task this project declares")
    return task


def task_errors(errors: Iterable[ErrorRecord]) -> list[TaskError]:
    return [
        TaskError(exception_class_path=e.exception_class_path, traceback=e.traceback)
        for e in errors
    ]


def read_json(stored: StoredJSON, payloads: PayloadStore, *, task_id: str) -> str:
    if stored.ref is not None:
        return payloads.get(stored.ref, task_id=task_id)
    return stored.text or "null"


def to_task_result(item: TaskItem, payloads: PayloadStore) -> TaskResult:
    task = resolve_task(item.task_path)
    if item.run_after:
        task = task.using(run_after=item.run_after)
    args, kwargs = decode_arguments(read_json(item.arguments, payloads, task_id=item.id))
    result = TaskResult(
        task=task,
        id=item.id,
        status=TaskResultStatus(item.status),
        enqueued_at=item.enqueued_at,
        started_at=item.started_at,
        finished_at=item.finished_at,
        last_attempted_at=item.last_attempted_at,
        args=args,
        kwargs=kwargs,
        backend=item.backend,
        errors=task_errors(item.errors),
        worker_ids=list(item.worker_ids),
    )
    if item.status == TaskResultStatus.SUCCESSFUL and item.return_value is not None:
        value: Any = json.loads(read_json(item.return_value, payloads, task_id=item.id))
        object.__setattr__(result, "_return_value", value)
    return result


def pending_task_result(envelope: Envelope, payloads: PayloadStore) -> TaskResult:
    """A task committed to the outbox but not yet sent: READY, as it will be once sent."""
    task = resolve_task(envelope.task_path)
    if envelope.run_after:
        task = task.using(run_after=envelope.run_after)
    args, kwargs = decode_arguments(
        read_json(envelope.arguments, payloads, task_id=envelope.task_id)
    )
    return ready_result(
        task, envelope.task_id, args, kwargs, envelope.enqueued_at, backend=envelope.backend
    )


def ready_result(
    task: Task,
    task_id: str,
    args: list[Any],
    kwargs: dict[str, Any],
    enqueued_at: datetime,
    *,
    backend: str,
) -> TaskResult:
    """Django's view of a task that has not started: what `enqueue()` returns."""
    return TaskResult(
        task=task,
        id=task_id,
        status=TaskResultStatus.READY,
        enqueued_at=enqueued_at,
        started_at=None,
        finished_at=None,
        last_attempted_at=None,
        args=args,
        kwargs=kwargs,
        backend=backend,
        errors=[],
        worker_ids=[],
    )
