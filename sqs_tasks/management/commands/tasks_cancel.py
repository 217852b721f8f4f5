"""Cancel tasks that have not started."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from sqs_tasks.management.base import OperatorCommand
from sqs_tasks.operations.commands import cancel


class Command(OperatorCommand):
    help = (
        "Cancel tasks that have not started: FAILED with a cancellation error; workers skip them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("task_ids", nargs="+")
        parser.add_argument("--reason", default="cancelled by an operator")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = self.backend(options)
        outcome = {
            task_id: cancel(backend, task_id, options["reason"]) for task_id in options["task_ids"]
        }
        lines = [
            f"{task_id}: {'cancelled' if done else 'not cancelled (unknown, or already started)'}"
            for task_id, done in outcome.items()
        ]
        self.emit(outcome, options, "\n".join(lines))
        if not all(outcome.values()):
            raise CommandError("Some tasks were not cancelled.")
