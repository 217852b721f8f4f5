"""The database cache's table, created by `migrate` wherever it runs (deploys, the local
system, tests), so that no deploy step can forget `createcachetable`. It creates the
tables of every DatabaseCache in CACHES and does nothing for other backends; after
pointing CACHES at a new database cache, run `manage.py createcachetable` once."""

from typing import Any

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps: Any, schema_editor: Any) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
