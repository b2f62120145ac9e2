"""S3ToApolloOperator: upsert the records of an S3 file (JSON lines, CSV, Parquet; gzip too) as Apollo contacts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import Context

from airflow_provider_apollo.transfers._readers import (
    COMPRESSION_INFER,
    FORMAT_PARQUET,
    Records,
    check_compression,
    check_file_format,
    open_records,
    ranged_reader,
)
from airflow_provider_apollo.transfers._upsert_job import (
    CREATED_IDS_SUFFIX,
    CREATED_IDS_URI_KEY,
    REJECTS_SUFFIX,
    WarehouseToApolloOperator,
    check_key,
)

__all__ = ["CREATED_IDS_URI_KEY", "S3ToApolloOperator"]


class S3ToApolloOperator(WarehouseToApolloOperator):
    """
    Upsert every record of ``s3://s3_bucket/s3_key`` as an Apollo contact, streaming the file.

    A record with an ``id`` updates that contact (bulk update, 100 a call); a record without one is
    created through bulk create (100 a call) with Apollo's dedupe on, so a re-run or a retry
    matches the contacts it created instead of creating them again (such matches count as
    ``unchanged``: bulk create leaves a matched contact as it is). A record that cannot be sent
    (no email and no name; a malformed email; an unknown custom field, picklist value or owner)
    or that Apollo refuses goes to the rejects file with its position, the record as read and the
    reason; the good records of the same batch still go through.

    XCom return value: ``{"created", "updated", "unchanged", "rejected", "rejects_uri"}``; key
    ``created_ids_uri``: an S3 object with the created contacts' ids, one per line (None when
    nothing was created). At an exhausted hourly or daily quota the task defers and resumes after
    the last applied batch; a new try after a killed worker resumes from the last checkpoint
    (Airflow 3.3 and later), unless the file changed in between (its ETag is checked).

    :param s3_bucket: the source's bucket. Templated.
    :param s3_key: the source's key. Templated.
    :param file_format: ``jsonl``, ``csv`` or ``parquet``; None (default) reads it from the key's suffix.
    :param compression: ``infer`` (default: gzip when the key ends in ``.gz``), ``gzip`` or None.
    :param column_map: ``{file column: Apollo field}`` (see the module docs); identity when omitted.
    :param rejects_key: the rejects file's key in the same bucket; default ``<s3_key>.rejects.jsonl``. Templated.
    :param max_rejects: a count, or a share below 1, of rejected records past which the task fails
        (after sending every good record and writing the rejects file). None: never.
    :param created_ids_key: the created ids' key; default ``<s3_key>.created_ids.jsonl``. Templated.
    :param aws_conn_id: the Amazon connection (``S3Hook``).
    :param apollo_conn_id: the Apollo connection.
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_key", "rejects_key", "created_ids_key", "column_map")
    resume_arguments: ClassVar[Sequence[str]] = ("file_format", "compression", "max_rejects", "aws_conn_id")

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_key: str,
        file_format: str | None = None,
        compression: str | None = COMPRESSION_INFER,
        rejects_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.file_format = file_format
        self.compression = compression
        self.rejects_key = rejects_key
        check_key(s3_bucket, "s3_bucket")
        check_key(s3_key, "s3_key")
        if "{{" not in s3_key:
            check_file_format(file_format, s3_key)
            check_compression(compression, s3_key)
        elif file_format is not None:
            check_file_format(file_format, "")

    def source_description(self) -> str:
        return f"s3://{self.s3_bucket}/{self.s3_key}"

    def checkpoint_arguments(self, context: Context) -> dict[str, Any]:
        """The arguments, and the source object's ETag: a checkpoint counts rows of one version of the file."""
        bucket, key = check_key(self.s3_bucket, "s3_bucket"), check_key(self.s3_key, "s3_key")
        head = self.s3.head_object(key, bucket) or {}
        return {**super().checkpoint_arguments(context), "source_etag": head.get("ETag")}

    def rejects_location(self) -> tuple[str, str]:
        key = check_key(self.s3_key, "s3_key")
        return check_key(self.s3_bucket, "s3_bucket"), self.rejects_key or key + REJECTS_SUFFIX

    def ids_location(self) -> tuple[str, str]:
        bucket, _ = self.rejects_location()
        return bucket, self.created_ids_key or check_key(self.s3_key, "s3_key") + CREATED_IDS_SUFFIX

    @contextlib.contextmanager
    def open_source(self, context: Context) -> Iterator[Records]:
        bucket, key = check_key(self.s3_bucket, "s3_bucket"), check_key(self.s3_key, "s3_key")
        file_format = check_file_format(self.file_format, key)
        compression = check_compression(self.compression, key)
        source = self.s3.get_key(key, bucket)
        body = source.get()["Body"]
        try:
            seekable = None
            if file_format == FORMAT_PARQUET and compression is None:

                def fetch(start: int, end: int) -> bytes:
                    return bytes(source.get(Range=f"bytes={start}-{end}")["Body"].read())

                seekable = ranged_reader(int(source.content_length), fetch)
            self.log.info(
                "Reading s3://%s/%s (%s%s)", bucket, key, file_format, ", gzip" if compression else ""
            )
            yield open_records(body, file_format, compression, seekable=seekable)
        finally:
            body.close()
