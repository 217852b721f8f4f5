"""Write a backup to a text stream: header, rows model by model, trailer (see __init__)."""

import datetime
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TextIO

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from django_app.maintenance.backups.snapshot import backed_up_models, consistent_reads

FORMAT = {"backup": "django-app", "version": 1}
CHUNK = 2000  # rows per query


class ExactEncoder(DjangoJSONEncoder):
    """Django's encoder keeps milliseconds only (as JavaScript does); a backup keeps every
    microsecond of its times."""

    def default(self, o: object) -> object:
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


def dump(stream: TextIO, using: str = "default") -> dict[str, int]:
    """Write every backed-up row to `stream`; returns the rows written per model."""
    chosen = backed_up_models()
    rows: Counter[str] = Counter()
    with consistent_reads(using):
        _line(stream, {**FORMAT, **_describe(chosen, using)})
        for model in chosen:
            serializers.serialize(
                "jsonl",
                _counted(_pages(model, using), rows, model._meta.label_lower),
                stream=stream,
                use_natural_foreign_keys=True,
                cls=ExactEncoder,
            )
    counts = {model._meta.label_lower: rows[model._meta.label_lower] for model in chosen}
    _line(stream, {"backup_complete": True, "rows": counts})
    return counts


def applied_migrations(using: str = "default") -> list[list[str]]:
    recorder = MigrationRecorder(connections[using])
    return sorted([app, name] for app, name in recorder.applied_migrations())


def _describe(chosen: list[type[models.Model]], using: str) -> dict[str, object]:
    return {
        "created_at": timezone.now().isoformat(),
        "engine": connections[using].vendor,
        "models": [model._meta.label_lower for model in chosen],
        "migrations": applied_migrations(using),
    }


def _pages(model: type[models.Model], using: str) -> Iterator[models.Model]:
    """Every row, in primary-key order, CHUNK rows per query (keyset pagination): memory
    holds one chunk, and unlike a server-side cursor it works through RDS Proxy or
    PgBouncer too. Inside the snapshot, the pages add up to one consistent table."""
    rows = model._base_manager.using(using).order_by("pk")
    page = list(rows[:CHUNK])
    while page:
        yield from page
        page = list(rows.filter(pk__gt=page[-1].pk)[:CHUNK]) if len(page) == CHUNK else []


def _counted(
    rows: Iterable[models.Model], counts: Counter[str], label: str
) -> Iterator[models.Model]:
    for row in rows:
        counts[label] += 1
        yield row


def _line(stream: TextIO, value: dict[str, object]) -> None:
    stream.write(json.dumps(value, cls=ExactEncoder) + "\n")
