"""Enqueue a task by its path, from the command line."""

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.tasks.exceptions import InvalidTask
from django.utils import timezone

from sqs_tasks.management.base import OperatorCommand, duration
from sqs_tasks.task_results import resolve_task


def json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise CommandError(f"{text!r} is not JSON: {error}") from None


class Command(OperatorCommand):
    help = "Enqueue a task: tasks_enqueue app.tasks.send_digest --args '[1]' --kwargs '{}'"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("task_path")
        parser.add_argument(
            "--args", dest="task_args", type=json_value, default=[], help="a JSON list"
        )
        parser.add_argument(
            "--kwargs", dest="task_kwargs", type=json_value, default={}, help="a JSON object"
        )
        parser.add_argument("--queue", help="another of the backend's queues")
        parser.add_argument("--delay", type=duration, help="run no earlier than this from now")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            task = resolve_task(options["task_path"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        if not isinstance(options["task_args"], list) or not isinstance(
            options["task_kwargs"], dict
        ):
            raise CommandError("--args takes a JSON list and --kwargs a JSON object.")
        delay: timedelta | None = options["delay"]
        try:
            task = task.using(
                queue_name=options["queue"],
                run_after=timezone.now() + delay if delay else None,
            )
            result = task.enqueue(*options["task_args"], **options["task_kwargs"])
        except InvalidTask as error:
            raise CommandError(str(error)) from None
        data = {"id": result.id, "task": task.module_path, "queue": task.queue_name}
        self.emit(data, options, result.id)
