"""manage.py restore_backup: load a backup from the bucket into an empty database.

    manage.py restore_backup --list
    manage.py restore_backup latest                 (or a key, or its date: 2026-11-23)
    manage.py restore_backup backups/2026-11-23T034500Z.jsonl.gz --database restore

The database must be migrated and empty (migrate's own rows, content types and
permissions, do not count). Run it where the database is reachable with the stage's
settings, like the tasks_* commands.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_app.maintenance.backups import restore, store


class Command(BaseCommand):
    help = "Restore a backup from the backups bucket into an empty database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", nargs="?", help="a key, a date (YYYY-MM-DD), or latest")
        parser.add_argument("--list", action="store_true", help="list the backups and stop")
        parser.add_argument("--database", default="default", help="the database alias")
        parser.add_argument("--bucket", help="default: BACKUP_BUCKET, this stage's backups")

    def handle(self, *args: Any, **options: Any) -> None:
        bucket = options["bucket"] or settings.BACKUP_BUCKET
        available = store.backups(bucket)
        if options["list"]:
            for moment, key, size in available:
                self.stdout.write(f"{moment.isoformat()}  {size:>12,}  {key}")
            return
        key = choose(options["backup"], [key for _, key, _ in available])
        try:
            with store.opened(bucket, key) as lines:
                rows = restore.restore(lines, using=options["database"])
        except restore.RestoreRefused as refused:
            raise CommandError(f"{key}: {refused}") from None
        self.stdout.write(f"restored {key}: {sum(rows.values())} rows")
        for label, count in rows.items():
            if count:
                self.stdout.write(f"  {label}: {count}")


def choose(wanted: str | None, keys: list[str]) -> str:
    """The key for `latest`, a key, or a date (the last backup of that day)."""
    if not wanted:
        raise CommandError("Name a backup (a key, a date, or latest); --list shows them.")
    if not keys:
        raise CommandError("There are no backups in the bucket.")
    if wanted == "latest":
        return keys[-1]
    matching = [key for key in keys if key == wanted or key.startswith(f"{store.PREFIX}{wanted}")]
    if not matching:
        raise CommandError(f"No backup {wanted!r}; --list shows them.")
    return matching[-1]
