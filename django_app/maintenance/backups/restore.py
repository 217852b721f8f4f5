"""Restore a backup (see __init__) into an empty, migrated database."""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from django.core import serializers
from django.core.management.color import no_style
from django.db import connections, transaction

from django_app.maintenance.backups.dump import FORMAT, applied_migrations
from django_app.maintenance.backups.snapshot import backed_up_models


class RestoreRefused(Exception):
    """The backup cannot be restored here; nothing was written."""


def populated_models(using: str = "default") -> list[str]:
    """The backed-up models that already have rows in the database."""
    return [
        model._meta.label_lower
        for model in backed_up_models()
        if model._base_manager.using(using).exists()
    ]


def restore(lines: Iterable[str], using: str = "default") -> dict[str, int]:
    """Load every row of the backup in one transaction; returns the rows per model.

    Refused, before anything is written, when the database has rows already or lacks a
    migration the backup's database had; rolled back when the backup is truncated."""
    if populated := populated_models(using):
        raise RestoreRefused(f"the database is not empty: {', '.join(populated)} have rows")
    reader = _Reader(iter(lines))
    missing = {tuple(m) for m in reader.header["migrations"]} - {
        tuple(m) for m in applied_migrations(using)
    }
    if missing:
        raise RestoreRefused(
            f"the database lacks {len(missing)} migration(s) the backup had "
            f"(e.g. {sorted(missing)[0]}): migrate first"
        )
    connection = connections[using]
    with transaction.atomic(using=using), connection.constraint_checks_disabled():
        loaded = _load(reader.objects(), using)
        if reader.trailer is None:
            raise RestoreRefused("the backup ends early (no trailer): it is incomplete")
        if loaded != Counter(reader.trailer["rows"]):
            raise RestoreRefused(f"loaded {dict(loaded)}, the backup says {reader.trailer['rows']}")
        models = [m for m in backed_up_models() if loaded[m._meta.label_lower]]
        connection.check_constraints(table_names=[m._meta.db_table for m in models])
        _reset_sequences(using, models)
    return {m._meta.label_lower: loaded[m._meta.label_lower] for m in backed_up_models()}


def _load(objects: Iterator[dict[str, Any]], using: str) -> Counter[str]:
    loaded: Counter[str] = Counter()
    deferred = []
    for row in serializers.deserialize(
        "python", objects, using=using, handle_forward_references=True
    ):
        row.save(using=using)
        loaded[row.object._meta.label_lower] += 1
        if row.deferred_fields:
            deferred.append(row)
    for row in deferred:
        row.save_deferred_fields(using=using)
    return loaded


def _reset_sequences(using: str, models: list) -> None:
    """Rows came with their primary keys: move each table's sequence past them."""
    connection = connections[using]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


class _Reader:
    """Splits the lines into header, row objects and trailer, reading lazily."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.trailer: dict[str, Any] | None = None
        first = json.loads(next(lines, "{}") or "{}")
        if {key: first.get(key) for key in FORMAT} != FORMAT:
            raise RestoreRefused("not a backup of this app (unknown header)")
        self.header = first

    def objects(self) -> Iterator[dict[str, Any]]:
        for line in self._lines:
            if not line.strip():
                continue
            value = json.loads(line)
            if value.get("backup_complete"):
                self.trailer = value
                return
            yield value
