"""`manage.py refresh_task_overview`: compute the staff overview now and cache it, as its
periodic task does every fifteen minutes, but at once and in this process.

The local system runs it at every start, before it serves the web app: the emulator (and
so the metrics and queues the overview counts) starts empty, while the database cache
the overview sits in is kept in var/local, so the previous run's counts would otherwise
be shown for up to a quarter of an hour. Staff may run it too, to see now's counts.
"""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from django_app.jobs import overview


class Command(BaseCommand):
    help = "Compute the staff overview of the task queues now and cache it."

    def handle(self, *args: Any, **options: Any) -> None:
        # Gone first: should computing fail, pages compute their own rather than show the
        # old counts.
        overview.forget()
        fresh = overview.refresh(timezone.now())
        self.stdout.write(
            f"task overview: {len(fresh.queues)} queue(s), as of {fresh.computed_at[:19]} UTC"
        )
