"""Everything about one task: its result, every error with traceback, its dead letters."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

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
        letters = dead_letters_of(backend, item["id"])
        data = {"result": item, "dead_letters": letters}
        self.emit(data, options, self._human(item, letters))

    @staticmethod
    def _human(item: dict[str, Any], letters: list[dict[str, Any]]) -> str:
        fields = [
            "id",
            "task_path",
            "queue_name",
            "status",
            "attempts",
            "max_attempts",
            "enqueued_at",
            "started_at",
            "finished_at",
            "updated_at",
            "request_id",
        ]
        lines = [f"{name:>13}: {item.get(name, '')}" for name in fields]
        lines.append(f"{'workers':>13}: {', '.join(item.get('worker_ids', []))}")
        if progress := item.get("progress"):
            lines.append(f"{'progress':>13}: {progress}")
        if "args" in item:
            lines.append(f"{'arguments':>13}: args={item['args']} kwargs={item.get('kwargs')}")
        for number, error in enumerate(item.get("errors", []), start=1):
            lines += [
                "",
                f"error {number} at {error.get('at')}: {error['exception_class_path']}: "
                f"{error.get('message', '')}",
                error.get("traceback", "").rstrip(),
            ]
        lines += [
            "",
            "dead-letter messages:",
            table(letters, ["message_id", "queue", "exception_class", "dead_lettered_at"]),
        ]
        return "\n".join(lines)
