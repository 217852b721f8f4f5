"""Delete selected dead letters for good, after a confirmation."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from sqs_tasks.management.base import DeadLetterCommand, table
from sqs_tasks.operations.dead_letters import delete, scan


class Command(DeadLetterCommand):
    help = "Purge dead-letter messages, filtered, after a confirmation prompt."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = self.backend(options)
        with scan(backend, self.selection(options)) as letters:
            chosen = list(letters)  # held out of sight until we delete or release them
            summaries = [letter.summary() for letter in chosen]
            if chosen and not options["yes"]:
                self.stdout.write(
                    table(summaries, ["task_id", "task_path", "queue", "exception_class"])
                )
                answer = input(f"Delete these {len(chosen)} message(s) for good? [y/N] ")
                if answer.strip().lower() not in {"y", "yes"}:
                    raise CommandError("Nothing deleted.")
            for number, letter in enumerate(chosen, start=1):
                delete(letter)
                self.progress(options, f"purged {number}/{len(chosen)}")
        self.emit({"purged": summaries}, options, f"purged {len(chosen)} message(s)")
