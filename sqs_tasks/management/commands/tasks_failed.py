"""List tasks that failed for good, newest first."""

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from sqs_tasks.management.base import OperatorCommand, duration, table


class Command(OperatorCommand):
    help = "List failed tasks, newest first, filtered by task, queue and time."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--task", default="", help="task path, or its function name")
        parser.add_argument("--queue", default="")
        parser.add_argument("--since", type=duration, help="failed within this long (e.g. 1h)")
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument(
            "--expected", action="store_true", help="include expected failures and cancellations"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backend = self.backend(options)
        queue = self.queue(options)
        since = timezone.now() - options["since"] if options["since"] else None
        rows = []
        queues = [queue] if queue else sorted(backend.queues)
        for entry in backend.results.failed(queues=queues, since=since):
            if entry.expected and not options["expected"]:
                continue
            path = entry.task_path
            if options["task"] and options["task"] not in (path, path.rsplit(".", 1)[-1]):
                continue
            rows.append(
                {
                    "id": entry.task_id,
                    "task": path,
                    "queue": entry.queue,
                    "failed_at": entry.failed_at.isoformat(),
                    "attempts": entry.attempts,
                    "error": entry.exception_class,
                    "message": entry.message[:80],
                }
            )
            if len(rows) >= options["limit"]:
                break
        columns = ["id", "task", "queue", "failed_at", "attempts", "error", "message"]
        self.emit(rows, options, table(rows, columns))
