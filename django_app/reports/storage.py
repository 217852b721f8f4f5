"""Uploads and reports in S3: the only module here that talks to S3.

Upload keys are `uploads/<owner id>/<random uuid>/data.csv`. The presigned POST fixes
the whole key in its policy, so a form can write only the one key it was made for: keys
cannot be guessed, and one user's form can never overwrite another user's file. The
browser sends the file straight to S3 (API Gateway caps request bodies at 10 MB), with
size and type limits S3 itself enforces.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import unquote

from django.conf import settings

from django_app.jobs.errors import UserFacingError
from sqs_tasks import api, aws
from sqs_tasks.exceptions import ExpectedFailure

CSV_TYPE = "text/csv"
UPLOAD_NAME = "data.csv"
HEAD_BYTES = 64 * 1024  # enough of a file to read its header and a preview
_UPLOAD_KEY = re.compile(r"uploads/(?P<owner>\d+)/[0-9a-f]{32}/" + re.escape(UPLOAD_NAME))
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


class UploadMissing(UserFacingError, ExpectedFailure):
    """The uploaded file is no longer in S3 (expected: nothing to fix or redrive)."""


@dataclass(frozen=True, slots=True)
class UploadForm:
    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int


@dataclass(frozen=True, slots=True)
class StoredUpload:
    key: str
    size: int
    content_type: str
    filename: str


def bucket() -> str:
    return api.bucket_name()


def upload_form(owner_id: int, redirect_url: str | None) -> UploadForm:
    """A presigned POST for one new key. With `redirect_url`, S3 redirects the browser
    there (with ?bucket=&key=&etag=) once the file is stored: the form posted as a page.
    Without, S3 answers 204: a script posts it, one of several files sent at once."""
    key = f"uploads/{owner_id}/{uuid.uuid4().hex}/{UPLOAD_NAME}"
    max_bytes = settings.REPORTS_MAX_UPLOAD_BYTES
    done = (
        {"success_action_redirect": redirect_url}
        if redirect_url
        else {"success_action_status": "204"}
    )
    fields = {"Content-Type": CSV_TYPE, **done}
    conditions: list[Any] = [
        {"Content-Type": CSV_TYPE},
        done,
        ["content-length-range", 1, max_bytes],
        # The original file name, which the page's script fills in (percent-encoded).
        ["starts-with", "$x-amz-meta-filename", ""],
    ]
    post = aws.client("s3").generate_presigned_post(
        bucket(),
        key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=settings.REPORTS_UPLOAD_FORM_EXPIRY,
    )
    return UploadForm(post["url"], post["fields"], key, max_bytes)


def is_upload_key_of(owner_id: int, key: str) -> bool:
    match = _UPLOAD_KEY.fullmatch(key)
    return bool(match) and int(match["owner"]) == owner_id


def _head(key: str) -> dict[str, Any] | None:
    """S3's HEAD of `key`, or None when nothing is stored there."""
    s3 = aws.client("s3")
    try:
        return s3.head_object(Bucket=bucket(), Key=key)
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def stored_upload(key: str) -> StoredUpload | None:
    """What S3 holds at `key`, or None when nothing does."""
    head = _head(key)
    if head is None:
        return None
    return StoredUpload(
        key=key,
        size=head["ContentLength"],
        content_type=head.get("ContentType", ""),
        filename=clean_filename(head.get("Metadata", {}).get("filename", "")),
    )


def clean_filename(raw: str) -> str:
    """The browser's file name: decoded, without paths or control characters."""
    name = _UNSAFE.sub("", unquote(raw)).strip()[:200]
    return name or "upload.csv"


def read_start(key: str) -> bytes:
    """The first HEAD_BYTES of an upload: a Range GET, so the web never reads it all.
    An empty object has no byte 0, so S3 refuses any range of it: that is b""."""
    s3 = aws.client("s3")
    try:
        response = s3.get_object(Bucket=bucket(), Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "InvalidRange":
            return b""
        raise
    return response["Body"].read()


def missing(keys: list[str]) -> list[str]:
    """The keys S3 holds nothing at (removed by a lifecycle rule, or by a restart of the
    local system, whose emulator starts empty)."""
    return [key for key in keys if _head(key) is None]


def open_upload(key: str) -> tuple[BinaryIO, int]:
    """The whole upload as a stream, and its size in bytes."""
    s3 = aws.client("s3")
    try:
        response = s3.get_object(Bucket=bucket(), Key=key)
    except s3.exceptions.NoSuchKey:
        raise UploadMissing("The uploaded file is gone. Please upload it again.") from None
    return response["Body"], response["ContentLength"]


def report_key(owner_id: int, token: uuid.UUID, name: str) -> str:
    return f"reports/{owner_id}/{token.hex}/{name}"


def read_report_file(key: str) -> bytes:
    """A file a report's build wrote (a summary one step hands the next)."""
    return aws.client("s3").get_object(Bucket=bucket(), Key=key)["Body"].read()


def save_report_file(key: str, body: bytes, content_type: str) -> None:
    aws.client("s3").put_object(
        Bucket=bucket(),
        Key=key,
        Body=body,
        ContentType=content_type,
        ServerSideEncryption="AES256",
    )


def download_url(key: str, *, filename: str, attachment: bool, expires: int) -> str:
    """A presigned GET. It lives at most `expires` seconds, and no longer than the
    credentials that signed it (on Lambda, the role's session: hours, not days)."""
    disposition = "attachment" if attachment else "inline"
    return aws.client("s3").generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket(),
            "Key": key,
            "ResponseContentDisposition": f'{disposition}; filename="{filename}"',
        },
        ExpiresIn=expires,
    )
