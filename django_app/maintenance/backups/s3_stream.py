"""A write-only file whose bytes go to S3 as a multipart upload, one part at a time.

Memory holds at most one part (8 MiB by default; S3's minimum part is 5 MiB, the last part
excepted). An object that ends within the first part is sent with one PutObject instead.
Leaving the `upload` block by an exception aborts the multipart upload, so no half-written
backup ever appears under its key (the bucket's lifecycle rule aborts any left behind).
"""

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqs_tasks import aws

PART_SIZE = 8 * 1024 * 1024


class MultipartWriter(io.RawIOBase):
    def __init__(self, bucket: str, key: str, *, part_size: int = PART_SIZE) -> None:
        super().__init__()
        self.bucket, self.key, self.part_size = bucket, key, part_size
        self.size = 0
        self.sha256 = hashlib.sha256()
        self._s3 = aws.client("s3")
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = memoryview(data).cast("B")
        self._buffer += chunk
        self.size += len(chunk)
        self.sha256.update(chunk)
        while len(self._buffer) >= self.part_size:
            self._send_part(bytes(self._buffer[: self.part_size]))
            del self._buffer[: self.part_size]
        return len(chunk)

    def finish(self) -> None:
        """Send what is left and make the object appear under its key."""
        if self._upload_id is None:
            self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer))
        else:
            if self._buffer:
                self._send_part(bytes(self._buffer))
            self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer.clear()
        self.close()

    def abort(self) -> None:
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
            )
        self._buffer.clear()
        self.close()

    @property
    def parts(self) -> int:
        return len(self._parts)

    def _send_part(self, body: bytes) -> None:
        if self._upload_id is None:
            started = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        answer = self._s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})


@contextmanager
def upload(bucket: str, key: str, *, part_size: int = PART_SIZE) -> Iterator[MultipartWriter]:
    """Write into the yielded file; the object exists once the block ends without error."""
    writer = MultipartWriter(bucket, key, part_size=part_size)
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
    writer.finish()
