"""Everything about one task: its result, every error with traceback, its dead letters."""

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from sqs_tasks.item import StoredJSON, TaskItem
from sqs_tasks.management.base import OperatorCommand, table
from sqs_tasks.operations.commands import dead_letters_of


class Command(OperatorCommand):
    help = "Show one task: its result, each error with traceback, and its dead-letter messages."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("task_id")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = self.backend(options)
        item = backend.results.get(options["task_id"])
        if item is None:
            raise CommandError(f"No task {options['task_id']!r} in {backend.results.table_name}.")
        letters = dead_letters_of(backend, item.id)
        data = {"result": summary(item), "dead_letters": letters}
        self.emit(data, options, self._human(item, letters))

    @staticmethod
    def _human(item: TaskItem, letters: list[dict[str, Any]]) -> str:
        lines = [
            f"{name:>13}: {value}" for name, value in summary(item).items() if name != "errors"
        ]
        for number, error in enumerate(item.errors, start=1):
            lines += [
                "",
                f"error {number} at {error.at.isoformat()}: {error.exception_class_path}: "
                f"{error.message}",
                error.traceback.rstrip(),
            ]
        lines += [
            "",
            "dead-letter messages:",
            table(letters, ["message_id", "queue", "exception_class", "dead_lettered_at"]),
        ]
        return "\n".join(lines)


def _stored(value: StoredJSON | None) -> Any:
    if value is None:
        return None
    if value.ref is not None:
        return f"s3://{value.ref.bucket}/{value.ref.key}"
    return json.loads(value.text or "null")


def summary(item: TaskItem) -> dict[str, Any]:
    """The item as an operator reads it; `attempts` counts the attempts allowed since it
    was enqueued or last redriven, as `tasks_failed` does."""
    return {
        "id": item.id,
        "task_path": item.task_path,
        "queue": item.queue,
        "status": item.status,
        "attempts": item.attempts,
        "max_attempts": item.max_attempts,
        "enqueued_at": item.enqueued_at.isoformat(),
        "started_at": item.started_at.isoformat() if item.started_at else "",
        "finished_at": item.finished_at.isoformat() if item.finished_at else "",
        "request_id": item.request_id or "",
        "workers": ", ".join(item.worker_ids),
        "progress": item.progress.as_dict() if item.progress else "",
        "copy": item.copy,
        "return_value": _stored(item.return_value),
        "dead_letter": (
            ("sent" if item.dead_letter.sent else "owed") if item.dead_letter else "none"
        ),
        "redriven": "yes" if item.redriven_from is not None else "no",
        "workflow": f"{item.workflow.id} (step {item.workflow.node})" if item.workflow else "",
        "errors": [error.to_dict() for error in item.errors],
    }
