"""`manage.py periodic_tasks [--check]`: the periodic tasks, when they run next, and
whether template.yaml schedules exactly them (`--check` exits non-zero on any drift)."""

from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sqs_tasks.management.base import table
from sqs_tasks.periodic import PeriodicTask, periodic_tasks
from sqs_tasks.periodic.drift import find_drift
from sqs_tasks.periodic.template import declared_schedules, load_template


class Command(BaseCommand):
    help = "List periodic tasks and their next runs; --check compares them with template.yaml."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="fail when template.yaml and the code disagree"
        )
        parser.add_argument(
            "--template",
            type=Path,
            default=Path(settings.BASE_DIR) / "template.yaml",
            help="the SAM template to check against (default: the project's template.yaml)",
        )
        parser.add_argument("--next", type=int, default=3, help="how many next runs to show")

    def handle(self, *args: Any, **options: Any) -> None:
        tasks = periodic_tasks.all()
        now = timezone.now()
        self.stdout.write(self._table(tasks, now, options["next"]))
        if options["check"]:
            self._check(tasks, options["template"])

    def _table(self, tasks: list[PeriodicTask], now: datetime, count: int) -> str:
        rows = [
            {
                "name": p.name,
                "task": f"{p.task.module_path} [{p.task.queue_name}]",
                "schedule": p.schedule.describe(),
                "time_zone": p.timezone,
                "state": "enabled" if p.enabled else "DISABLED",
                "next_runs": ", ".join(
                    run.strftime("%Y-%m-%d %H:%M %Z") for run in p.next_runs(now, count)
                ),
            }
            for p in tasks
        ]
        summary = f"{len(tasks)} periodic task(s); next runs after {now:%Y-%m-%d %H:%M} UTC"
        return f"{summary}\n\n{table(rows, list(rows[0]) if rows else [])}"

    def _check(self, tasks: list[PeriodicTask], template_path: Path) -> None:
        if not template_path.is_file():
            raise CommandError(f"No template at {template_path}.")
        declared = declared_schedules(load_template(template_path))
        problems = find_drift(tasks, declared)
        if problems:
            listing = "\n".join(f"- {problem}" for problem in problems)
            raise CommandError(
                f"{template_path.name} and the code disagree ({len(problems)}):\n{listing}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"\n{template_path.name} schedules exactly these {len(tasks)} periodic task(s)."
            )
        )
