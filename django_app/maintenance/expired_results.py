"""Delete finished task results whose time is up, and the S3 objects they point to.

The table's TTL attribute (`expires_at`) is only a backstop: DynamoDB deletes expired items
up to days late (moto never does), and TTL leaves the claim-check objects a result points
to (`payload_ref`, `return_value_ref`) behind in S3.

Expired items are found by a Scan filtered on `expires_at`. A Scan reads the whole table,
but the table only holds what TTL keeps (RESULT_TTL, 30 days by default) and this runs
once a day; the `by-status` index is keyed on `updated_at`, which a claim moves without
moving `expires_at`, so it cannot find expired items exactly. Each delete is conditional on
the item still being expired, and its S3 objects are deleted only after it: a crash leaves
an orphaned object (which the bucket's lifecycle rules expire), never a dangling pointer.

Only finished results (SUCCESSFUL, FAILED) are purged. An unfinished one past its expiry is
either running (a claim does not move `expires_at`) or waiting for a `run_after` beyond
RESULT_TTL: deleting it would lose a live task's record. TTL remains the backstop for
unfinished items lost for good.
"""

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqs_tasks.backends.sqs import SQSBackend

POINTERS = ("payload_ref", "return_value_ref")


@dataclass(frozen=True, slots=True)
class PurgeReport:
    results: int  # items deleted
    objects: int  # S3 objects deleted
    complete: bool  # False when the time budget ran out first; the next run goes on

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def purge(backend: SQSBackend, now: datetime, *, budget_seconds: float) -> PurgeReport:
    """Delete every finished result with `expires_at` before `now`, within `budget_seconds`."""
    stop_at = time.monotonic() + budget_seconds
    results = objects = 0
    for item in backend.results.expired_finished(now):
        if backend.results.delete_if_expired(item["id"], now):  # else written again since
            results += 1
            for pointer in filter(None, (item.get(name) for name in POINTERS)):
                backend.payloads.delete(pointer)
                objects += 1
        if time.monotonic() > stop_at:  # checked after an item: every run makes progress
            return PurgeReport(results, objects, complete=False)
    return PurgeReport(results, objects, complete=True)
