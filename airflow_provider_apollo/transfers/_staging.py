"""S3 staging for exports: parts uploaded while the export reads, a durable place across quota waits.

An export writes into a :class:`PartStream`, which hands every full part (8 MiB) to a background
upload of an S3 multipart upload while the export goes on reading Apollo. The object appears only
when the upload is completed, so readers never see a partial export; a failure aborts the upload.
Across a quota wait the worker's files are gone, so what must survive lives under a staging prefix
beside the key (the unsent tail of the stream, the ids exported so far); it is removed on success
and on failure.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# S3's smallest part is 5 MiB (but the last); 8 MiB parts keep a 50,000-contact export in ~20 parts.
PART_SIZE = 8 * 1024 * 1024
# Parts uploading at once: memory stays at (1 + this) parts whatever the export's size.
UPLOADS_IN_FLIGHT = 2
STAGING_SUFFIX = ".apollo-staging"


def staging_prefix(key: str, token: str) -> str:
    """Where a run's staged objects live: beside the key, unique to the run."""
    return f"{key}{STAGING_SUFFIX}/{token}/"


class PartStream(io.RawIOBase):
    """
    A write-only binary stream that uploads each full part in the background, in order.

    ``upload(part_number, data)`` sends one part and returns its ETag. Writes block while
    :data:`UPLOADS_IN_FLIGHT` parts are uploading (memory stays flat). :meth:`close` does nothing,
    so a text or gzip wrapper can be closed (ending its stream) without ending this one;
    :meth:`finish` returns the unsent remainder and every part's number and ETag.
    """

    def __init__(
        self,
        upload: Callable[[int, bytes], str],
        *,
        first_part: int = 1,
        initial: bytes = b"",
        part_size: int = PART_SIZE,
    ) -> None:
        super().__init__()
        self._upload = upload
        self._next_part = first_part
        self._buffer = bytearray(initial)
        self._part_size = part_size
        self._written = len(initial)
        self._pool = ThreadPoolExecutor(max_workers=UPLOADS_IN_FLIGHT, thread_name_prefix="apollo-s3-part")
        self._pending: deque[tuple[int, Future[str]]] = deque()
        self._done: list[list[Any]] = []

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._buffer.extend(chunk)
        self._written += len(chunk)
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            self._send(part)
        return len(chunk)

    def _send(self, part: bytes) -> None:
        while len(self._pending) >= UPLOADS_IN_FLIGHT:
            self._collect_oldest()
        self._pending.append((self._next_part, self._pool.submit(self._upload, self._next_part, part)))
        self._next_part += 1

    def _collect_oldest(self) -> None:
        number, future = self._pending.popleft()
        self._done.append([number, future.result()])

    def close(self) -> None:
        """Closing a wrapper must not end the stream: see :meth:`finish`."""

    def finish(self) -> tuple[bytes, list[list[Any]]]:
        """Wait for the uploads; the bytes not yet sent (less than a part) and ``[[part, etag], ...]``."""
        try:
            while self._pending:
                self._collect_oldest()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        remainder = bytes(self._buffer)
        self._buffer.clear()
        return remainder, list(self._done)

    def abandon(self) -> None:
        """Stop uploading (after a failure): pending parts are cancelled or left to finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def next_part(self) -> int:
        return self._next_part


class MultipartUpload:
    """One S3 multipart upload and the run's staging prefix, through a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.prefix = prefix

    @classmethod
    def start(cls, client: Any, bucket: str, key: str, prefix: str) -> MultipartUpload:
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        return cls(client, bucket, key, upload_id, prefix)

    def upload_part(self, number: int, data: bytes) -> str:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        return str(answer["ETag"])

    def complete(self, parts: list[list[Any]]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": int(n), "ETag": etag} for n, etag in sorted(parts)]},
        )

    def abort(self) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)

    # ------------------------------------------------------------------ staged objects

    def put_staged(self, name: str, data: bytes) -> str:
        key = self.prefix + name
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key

    def get_staged(self, name: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"].read())

    def download_staged(self, name: str, path: str) -> None:
        self.client.download_file(self.bucket, self.prefix + name, path)

    def upload_staged(self, name: str, path: str) -> None:
        self.client.upload_file(path, self.bucket, self.prefix + name)

    def remove_staged(self) -> None:
        """Delete everything under the run's staging prefix."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents") or []]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
