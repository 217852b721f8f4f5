"""The task queues template.yaml declares, and the numbers of each that tasks must fit.

Read from the template as CloudFormation deploys it (`cfn.load_expanded`), before the SAM
transform: a task queue is an AWS::SQS::Queue named `${AppName}-${Stage}-<name>` that a
worker consumes (an SQS event of an AWS::Serverless::Function) or that redrives to a
dead-letter queue. A value that is not a literal (an intrinsic CloudFormation resolves at
deploy time) is read as None: whoever checks it says it cannot.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqs_tasks.infra.cfn import Template, load_expanded

QUEUE_NAME_PREFIX = "${AppName}-${Stage}-"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SQS_QUEUE = "AWS::SQS::Queue"
# SAM's defaults where the template says nothing (AWS::Serverless::Function, SQS event).
DEFAULT_FUNCTION_TIMEOUT = 3
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_BATCHING_WINDOW = 0


@dataclass(frozen=True, slots=True)
class Worker:
    """The function an SQS event source mapping feeds from a queue."""

    logical_id: str
    handler: str | None
    timeout: int | None  # seconds
    batching_window: int | None  # seconds
    reports_item_failures: bool


@dataclass(frozen=True, slots=True)
class TaskQueue:
    name: str  # the Django queue name (settings.TASKS QUEUES, @task(queue_name=...))
    logical_id: str
    visibility_timeout: int | None  # seconds
    dead_letter_queue: str | None  # the logical id RedrivePolicy names, if any
    max_receive_count: int | None
    workers: tuple[Worker, ...]


def load_queues(path: Path) -> list[TaskQueue]:
    return task_queues(load_expanded(path))


def task_queues(template: Template) -> list[TaskQueue]:
    resources = template.get("Resources") or {}
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    consumers = _consumers(resources, globals_)
    found = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != SQS_QUEUE:
            continue
        properties = resource.get("Properties") or {}
        name = _queue_name(properties.get("QueueName"))
        redrive = properties.get("RedrivePolicy")
        if name is None or (logical_id not in consumers and not redrive):
            continue
        found.append(
            TaskQueue(
                name=name,
                logical_id=logical_id,
                visibility_timeout=_integer(
                    properties.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT)
                ),
                dead_letter_queue=_target(redrive.get("deadLetterTargetArn")) if redrive else None,
                max_receive_count=_integer(redrive.get("maxReceiveCount")) if redrive else None,
                workers=tuple(consumers.get(logical_id, ())),
            )
        )
    return found


def _consumers(resources: dict[str, Any], globals_: dict[str, Any]) -> dict[str, list[Worker]]:
    """Queue logical id -> the functions its SQS events feed."""
    consumers: dict[str, list[Worker]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        properties = {**globals_, **(resource.get("Properties") or {})}
        for event in (properties.get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            source = event.get("Properties") or {}
            queue = _target(source.get("Queue"))
            if queue is None:
                continue
            consumers.setdefault(queue, []).append(
                Worker(
                    logical_id=logical_id,
                    handler=properties.get("Handler"),
                    timeout=_integer(properties.get("Timeout", DEFAULT_FUNCTION_TIMEOUT)),
                    batching_window=_integer(
                        source.get("MaximumBatchingWindowInSeconds", DEFAULT_BATCHING_WINDOW)
                    ),
                    reports_item_failures="ReportBatchItemFailures"
                    in (source.get("FunctionResponseTypes") or []),
                )
            )
    return consumers


def _queue_name(value: Any) -> str | None:
    text = value.get("Fn::Sub") if isinstance(value, dict) else None
    if isinstance(text, str) and text.startswith(QUEUE_NAME_PREFIX):
        return text.removeprefix(QUEUE_NAME_PREFIX)
    return None


def _target(reference: Any) -> str | None:
    """The logical id a !GetAtt X.Arn or !Ref X names."""
    if not isinstance(reference, dict):
        return None
    if isinstance(reference.get("Ref"), str):
        return reference["Ref"]
    attribute = reference.get("Fn::GetAtt")
    if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
        return attribute[0]
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def queue_names(path: Path) -> list[str]:
    """The task queues' names, for settings where TASK_QUEUES is not set (a checkout: the
    tests, manage.py, the local system). Deployed functions get TASK_QUEUES from the
    template, and the web package from its build (stack.web_package)."""
    if not path.is_file():
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"Set TASK_QUEUES (the task queues, comma-separated): there is no {path} to read "
            "them from."
        )
    return [queue.name for queue in load_queues(path)]
