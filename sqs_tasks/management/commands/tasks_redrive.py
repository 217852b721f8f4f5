"""Send selected dead letters back to their source queues."""

from typing import Any

from django.core.management.base import CommandParser

from sqs_tasks.management.base import DeadLetterCommand, table
from sqs_tasks.operations.redrive import redrive


class Command(DeadLetterCommand):
    help = (
        "Redrive dead-letter messages to their source queue, filtered, rate-limited; "
        "results go back to READY with their history kept. Safe to rerun after an interruption."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="show what would be redriven")
        parser.add_argument("--rate", type=float, default=10, help="messages per second (10)")
        parser.add_argument("--limit", type=int, help="redrive at most this many")

    def handle(self, *args: Any, **options: Any) -> None:
        report = redrive(
            self.backend(options),
            self.selection(options),
            dry_run=options["dry_run"],
            per_second=options["rate"],
            limit=options["limit"],
            progress=lambda done: self.progress(options, f"redriven {done}"),
        )
        verb = "would redrive" if options["dry_run"] else "redrove"
        columns = ["task_id", "task_path", "queue", "exception_class"]
        human = (
            f"{verb} {len(report.redriven)} message(s)\n{table(report.redriven, columns)}"
            f"\n\nskipped {len(report.skipped)}\n{table(report.skipped, [*columns, 'reason'])}"
        )
        self.emit({"dry_run": options["dry_run"], **report.as_dict()}, options, human)
