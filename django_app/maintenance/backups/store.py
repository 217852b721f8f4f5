"""Backups in the bucket: named by their time under `backups/`, written compressed and
streamed, listed, pruned by age, and opened for reading."""

import gzip
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from django_app.maintenance.backups import s3_stream
from django_app.maintenance.backups.dump import dump
from sqs_tasks import aws

PREFIX = "backups/"
SUFFIX = ".jsonl.gz"
_NAME = re.compile(rf"^{PREFIX}(\d{{4}}-\d\d-\d\dT\d{{6}}Z){re.escape(SUFFIX)}$")
_STAMP = "%Y-%m-%dT%H%M%SZ"


@dataclass(frozen=True, slots=True)
class BackupReport:
    key: str
    bytes: int  # compressed, as stored
    sha256: str
    rows: dict[str, int]  # per model
    total_rows: int
    pruned: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_for(moment: datetime) -> str:
    """The backup's name: its time (UTC). A retry of the same tick writes the same key."""
    return f"{PREFIX}{moment.astimezone(UTC).strftime(_STAMP)}{SUFFIX}"


def taken_at(key: str) -> datetime | None:
    """The time a backup's key names, or None for anything else under the prefix."""
    match = _NAME.match(key)
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC) if match else None


def back_up(bucket: str, moment: datetime, *, using: str = "default") -> BackupReport:
    """Write a backup of the database named for `moment`."""
    key = key_for(moment)
    with (
        s3_stream.upload(bucket, key) as stored,
        gzip.GzipFile(fileobj=stored, mode="wb", mtime=0) as compressed,
    ):
        text = io.TextIOWrapper(compressed, encoding="utf-8")
        rows = dump(text, using)
        text.flush()
        text.detach()  # gzip, then the upload, close themselves in that order
    return BackupReport(
        key=key,
        bytes=stored.size,
        sha256=stored.sha256.hexdigest(),
        rows=rows,
        total_rows=sum(rows.values()),
    )


def backups(bucket: str) -> list[tuple[datetime, str, int]]:
    """(time, key, size) of every backup in the bucket, oldest first."""
    found = []
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX)
    for page in pages:
        for entry in page.get("Contents", []):
            if moment := taken_at(entry["Key"]):
                found.append((moment, entry["Key"], entry["Size"]))
    return sorted(found)


def prune(bucket: str, now: datetime, *, retention_days: int, keep: str) -> list[str]:
    """Delete backups older than the retention, never `keep` (the one just written)."""
    cutoff = now - timedelta(days=retention_days)
    old = [key for moment, key, _ in backups(bucket) if moment < cutoff and key != keep]
    s3 = aws.client("s3")
    for start in range(0, len(old), 1000):  # DeleteObjects takes 1000 keys at most
        batch = old[start : start + 1000]
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
        )
        if answer.get("Errors"):
            raise RuntimeError(f"S3 refused to delete {len(answer['Errors'])} old backup(s)")
    return old


@contextmanager
def opened(bucket: str, key: str) -> Iterator[TextIO]:
    """The backup as text, decompressed as it streams from S3."""
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with gzip.GzipFile(fileobj=body, mode="rb") as compressed:
            yield io.TextIOWrapper(compressed, encoding="utf-8")
    finally:
        body.close()
