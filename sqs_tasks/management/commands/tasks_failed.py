"""List tasks that failed for good, newest first."""

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from sqs_tasks.management.base import OperatorCommand, duration, table
from sqs_tasks.results import FAILED


class Command(OperatorCommand):
    help = "List failed tasks, newest first, filtered by task, queue and time."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--task", default="", help="task path, or its function name")
        parser.add_argument("--queue", default="")
        parser.add_argument("--since", type=duration, help="failed within this long (e.g. 1h)")
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args: Any, **options: Any) -> None:
        backend = self.backend(options)
        since = (timezone.now() - options["since"]).isoformat() if options["since"] else "0"
        rows = []
        for item in backend.results.by_status(FAILED, since=since):
            path = item.get("task_path", "")
            if options["task"] and options["task"] not in (path, path.rsplit(".", 1)[-1]):
                continue
            if options["queue"] and item.get("queue_name") != options["queue"]:
                continue
            last = (item.get("errors") or [{}])[-1]
            rows.append(
                {
                    "id": item["id"],
                    "task": path,
                    "queue": item.get("queue_name"),
                    "failed_at": item.get("updated_at"),
                    "attempts": len(item.get("worker_ids", [])),
                    "error": last.get("exception_class_path", ""),
                    "message": (last.get("message") or "")[:80],
                }
            )
            if len(rows) >= options["limit"]:
                break
        columns = ["id", "task", "queue", "failed_at", "attempts", "error", "message"]
        self.emit(rows, options, table(rows, columns))
