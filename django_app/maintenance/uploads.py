"""Remove uploads older than the retention period from the bucket's `uploads/` prefix.

Chosen by key prefix and age alone, so it works whatever the app that wrote them keeps
about them; such an app can listen to `uploads_removed` to forget the keys too.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.dispatch import Signal

from sqs_tasks import aws

PREFIX = "uploads/"

# Sent after each batch is deleted: sender=None, bucket=str, keys=list[str].
uploads_removed = Signal()

logger = logging.getLogger(__name__)


class UploadsNotRemoved(Exception):
    """S3 refused to delete some stale uploads (they are listed in the log)."""


@dataclass(frozen=True, slots=True)
class UploadsReport:
    removed: int
    kept: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def remove_stale(bucket: str, older_than: datetime, *, prefix: str = PREFIX) -> UploadsReport:
    """Delete every object under `prefix` last modified before `older_than`."""
    s3 = aws.client("s3")
    removed = kept = 0
    refused: list[dict[str, Any]] = []
    # A listing page holds at most 1000 keys, DeleteObjects takes at most 1000: one each.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        contents = page.get("Contents", [])
        stale = [entry["Key"] for entry in contents if entry["LastModified"] < older_than]
        kept += len(contents) - len(stale)
        if not stale:
            continue
        response = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in stale], "Quiet": True}
        )
        errors = response.get("Errors", [])
        failed = {error["Key"] for error in errors}
        deleted = [key for key in stale if key not in failed]
        removed += len(deleted)
        refused += errors
        if deleted:
            uploads_removed.send(sender=None, bucket=bucket, keys=deleted)
    if refused:
        logger.error("S3 refused to delete stale uploads", extra={"errors": refused[:20]})
        raise UploadsNotRemoved(f"S3 refused to delete {len(refused)} stale upload(s)")
    return UploadsReport(removed=removed, kept=kept)
