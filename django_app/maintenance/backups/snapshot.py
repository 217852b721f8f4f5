"""What a backup reads: which models, in which order, and one consistent view of them."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.db import connections, models, transaction


def backed_up_models() -> list[type[models.Model]]:
    """Every concrete model of the installed apps but BACKUP_EXCLUDE ("app" or
    "app.model"), dependencies first. By default content types and permissions are left
    out (migrate creates them, and rows point at them by natural key) and so are sessions
    (short-lived, and bearer credentials)."""
    excluded = {label.lower() for label in settings.BACKUP_EXCLUDE}
    chosen = [
        (config, [m for m in config.get_models() if _included(m, excluded)])
        for config in apps.get_app_configs()
        if config.label not in excluded
    ]
    return serializers.sort_dependencies([(c, ms) for c, ms in chosen if ms], allow_cycles=True)


def _included(model: type[models.Model], excluded: set[str]) -> bool:
    meta = model._meta
    return meta.managed and not meta.proxy and meta.label_lower not in excluded


@contextmanager
def consistent_reads(using: str = "default") -> Iterator[None]:
    """A transaction in which every read sees the database as of its first read.

    PostgreSQL: REPEATABLE READ, READ ONLY (a snapshot; no locks held against writers).
    SQLite: a transaction is already one snapshot of the file."""
    with transaction.atomic(using=using):
        connection = connections[using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
