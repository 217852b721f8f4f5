"""Claim-check: JSON too large for a message or an item lives in S3, and they carry a pointer.

The pointer names the object and its SHA-256, and is itself covered by the message's
signature (or held in the result item), so a swapped object is refused like a forged one.

How long an object lives follows its task, not a fixed number of days: each object is put
under a retention tier, `payloads/d<days>/` or `results/d<days>/`, whose S3 lifecycle rule
(template.yaml) expires it after that many days. The tier is the shortest that outlives
everything the task may still do: wait for its `run_after`, then keep its result for the
result TTL. A task that would outlive the longest tier is refused at enqueue.

Arguments are content-addressed (`payloads/d45/<sha256>.json`): writing the same arguments
again writes the same bytes to the same key, so a re-enqueue can never change what a
pending task reads; it only makes the object younger.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqs_tasks import aws
from sqs_tasks.exceptions import MissingPayload
from sqs_tasks.item import PayloadRef

# Days, shortest first; each has a lifecycle rule in template.yaml (tests/infra check it).
RETENTION_TIERS = (45, 120, 400)
# What a task may spend beyond its wait and result TTL: retries, backoffs, a redrive.
RETENTION_SLACK = timedelta(days=7)


class PayloadTooLongLived(ValueError):
    """No retention tier is long enough for the object's task."""


def retention_tier(lifetime: timedelta) -> int:
    """The shortest tier, in days, that keeps an object `lifetime` (plus slack)."""
    needed = lifetime + RETENTION_SLACK
    for days in RETENTION_TIERS:
        if timedelta(days=days) >= needed:
            return days
    raise PayloadTooLongLived(
        f"a claim-checked object must live {needed.days} days, more than the longest "
        f"retention tier ({RETENTION_TIERS[-1]} days)"
    )


@dataclass(frozen=True, slots=True)
class PayloadStore:
    bucket: str

    def put_arguments(self, text: str, lifetime: timedelta) -> PayloadRef:
        """Store a call's arguments under their own hash, for at least `lifetime`."""
        data = text.encode()
        digest = hashlib.sha256(data).hexdigest()
        return self._put(f"payloads/d{retention_tier(lifetime)}/{digest}.json", data, digest)

    def put_result(self, task_id: str, text: str, lifetime: timedelta) -> PayloadRef:
        data = text.encode()
        digest = hashlib.sha256(data).hexdigest()
        return self._put(f"results/d{retention_tier(lifetime)}/{task_id}.json", data, digest)

    def _put(self, key: str, data: bytes, digest: str) -> PayloadRef:
        aws.client("s3").put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        return PayloadRef(bucket=self.bucket, key=key, sha256=digest)

    def get(self, ref: PayloadRef, *, task_id: str = "") -> str:
        s3 = aws.client("s3")
        try:
            response = s3.get_object(Bucket=ref.bucket, Key=ref.key)
        except s3.exceptions.NoSuchKey:
            raise MissingPayload(
                f"claim-check object s3://{ref.bucket}/{ref.key} is missing", task_id=task_id
            ) from None
        data = response["Body"].read()
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise MissingPayload("claim-check object does not match its checksum", task_id=task_id)
        return data.decode()
