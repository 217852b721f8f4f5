"""Logical backups of the application's data to S3, and restoring one.

A backup is one gzip-compressed JSON Lines object, `backups/<date>T<time>Z.jsonl.gz`:

    {"backup": "django-app", "version": 1, "created_at": ..., "engine": ..., "models": [...],
     "migrations": [[app, name], ...]}                       the header
    {"model": "auth.user", "pk": 1, "fields": {...}}          one line per row, Django's
    ...                                                       serialization, models in
                                                              dependency order
    {"backup_complete": true, "rows": {"auth.user": 1, ...}}  the trailer

Rows are read inside one transaction that sees a single snapshot (REPEATABLE READ on
PostgreSQL), model by model in pages of primary keys, and written through gzip straight
into an S3 multipart upload: memory holds one part, whatever the database's size. Foreign
keys to content types and permissions are written as natural keys, so a backup restores
into any freshly migrated database, of either engine. A restore without the trailer (a
truncated file) is refused and rolled back.
"""
