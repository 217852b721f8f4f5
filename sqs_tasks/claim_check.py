"""Claim-check: large payloads live in S3 and the message carries a pointer.

SQS takes 1 MiB and DynamoDB items 400 KB; arguments and return values may be larger.
The pointer names the object and its SHA-256, and the pointer itself is what gets
signed, so a swapped S3 object is refused like a forged message.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqs_tasks import aws
from sqs_tasks.exceptions import MissingPayload

POINTER_KEY = "claim_check"


@dataclass(frozen=True, slots=True)
class PayloadStore:
    bucket: str

    def put(self, key: str, body: str) -> dict[str, str]:
        data = body.encode()
        aws.client("s3").put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        return {"bucket": self.bucket, "key": key, "sha256": hashlib.sha256(data).hexdigest()}

    def get(self, pointer: dict[str, Any], *, task_id: str = "") -> str:
        s3 = aws.client("s3")
        try:
            response = s3.get_object(Bucket=pointer["bucket"], Key=pointer["key"])
        except s3.exceptions.NoSuchKey:
            raise MissingPayload(
                f"claim-check object s3://{pointer['bucket']}/{pointer['key']} is missing",
                task_id=task_id,
            ) from None
        data = response["Body"].read()
        if hashlib.sha256(data).hexdigest() != pointer.get("sha256"):
            raise MissingPayload("claim-check object does not match its checksum", task_id=task_id)
        return data.decode()

    def delete(self, pointer: dict[str, Any]) -> None:
        aws.client("s3").delete_object(Bucket=pointer["bucket"], Key=pointer["key"])


def pointer_body(pointer: dict[str, str], **summary: Any) -> str:
    """The message body that stands for an offloaded payload; the summary keeps the
    task id and path readable in the console."""
    return json.dumps({"v": 1, POINTER_KEY: pointer, **summary}, separators=(",", ":"))
