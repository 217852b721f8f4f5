"""What the operator commands share: the backend, filters, and output for people or scripts."""

import json
import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.tasks import task_backends

from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.operations.dead_letters import Selection

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """'90s', '30m', '6h', '2d'."""
    match = _DURATION.match(text.strip())
    if not match:
        raise CommandError(f"{text!r} is not a duration like 90s, 30m, 6h or 2d.")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


class OperatorCommand(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--backend", default="default", help="TASKS alias (default: default)")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def backend(self, options: dict[str, Any]) -> SQSBackend:
        backend = task_backends[options["backend"]]
        if not isinstance(backend, SQSBackend):
            raise CommandError(f"Backend {options['backend']!r} is not an SQSBackend.")
        return backend

    def queue(self, options: dict[str, Any]) -> str:
        """The --queue option, checked against the backend's queues ("" for all)."""
        backend = self.backend(options)
        if options["queue"] and options["queue"] not in backend.queues:
            raise CommandError(
                f"Unknown queue {options['queue']!r}; known: {sorted(backend.queues)}"
            )
        return options["queue"]

    def emit(self, data: Any, options: dict[str, Any], human: str) -> None:
        self.stdout.write(json.dumps(data, indent=2, default=str) if options["json"] else human)

    def progress(self, options: dict[str, Any], text: str) -> None:
        """Progress goes to stderr, so --json output on stdout stays parseable."""
        self.stderr.write(text, ending="\r" if not options["json"] else "\n")


class DeadLetterCommand(OperatorCommand):
    """Commands that select dead letters share these filters."""

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--queue", default="", help="only this task queue (e.g. heavy)")
        parser.add_argument("--task", default="", help="task path, or its function name")
        parser.add_argument("--exception", default="", help="exception class, path or name")
        parser.add_argument("--task-id", default="", help="only this task")
        parser.add_argument(
            "--older-than", type=duration, help="dead-lettered at least this long ago"
        )
        parser.add_argument(
            "--newer-than", type=duration, help="dead-lettered at most this long ago"
        )

    def selection(self, options: dict[str, Any]) -> Selection:
        return Selection(
            queue=self.queue(options),
            task=options["task"],
            exception=options["exception"],
            task_id=options["task_id"],
            older_than=options["older_than"],
            newer_than=options["newer_than"],
        )


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain text table, widths fitted to the content."""
    if not rows:
        return "(none)"
    cells = [[str(row.get(c, "") or "") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)
