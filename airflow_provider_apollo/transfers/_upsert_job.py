"""The upsert job shared by the S3 and SQL transfers: read the records, drive the core, write, resume.

The source classes only open their records. What to send (batches, creates and updates, bisecting
a refused batch) is the core's :class:`~airflow_provider_apollo.core.upsert.Upsert`, driven here
with the hook's ``call``; this module writes what it emits (the rejects file staged in parts and
completed in one upload, the created-ids object), checkpoints at a quota stop and applies the
threshold, once for both sources.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, Context

from airflow_provider_apollo.core.endpoints import PATH_BULK_CREATE
from airflow_provider_apollo.core.lifecycle import iter_steps
from airflow_provider_apollo.core.upsert import (
    Reject,
    Upsert,
    UpsertCursor,
    check_column_map,
    check_mapped_columns,
    check_max_rejects,
    describe_threshold,
    rejects_exceed,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloRateLimitError
from airflow_provider_apollo.extras import EXTRA_AMAZON, s3_hook_class
from airflow_provider_apollo.operators.base import ApolloLongJobOperator
from airflow_provider_apollo.transfers._readers import BadRecord, Records

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

REJECTS_SUFFIX = ".rejects.jsonl"
CREATED_IDS_SUFFIX = ".created_ids.jsonl"
# Staged pieces live beside the final object until it is complete, then are deleted.
PARTS_SUFFIX = ".parts/"
# XCom key holding the created-ids object's URI (the ids themselves never go to XCom).
CREATED_IDS_URI_KEY = "created_ids_uri"
PROGRESS_EVERY_BATCHES = 10


class _Segment:
    """What this stretch of the job (up to the end, or to a quota stop) adds: rejects and created ids on disk."""

    def __init__(self) -> None:
        self.rejects: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.ids: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.reject_count = 0
        self.id_count = 0

    def add_reject(self, reject: Reject) -> None:
        self.rejects.write(reject.to_json_line().encode("utf-8"))
        self.reject_count += 1

    def add_id(self, contact_id: str) -> None:
        self.ids.write(contact_id.encode("utf-8") + b"\n")
        self.id_count += 1

    def close(self) -> None:
        self.rejects.close()
        self.ids.close()


class WarehouseToApolloOperator(ApolloLongJobOperator):
    """
    Upsert warehouse records as Apollo contacts (the base of ``S3ToApolloOperator`` and
    ``SqlToApolloOperator``; subclasses open the source and say where the rejects go).

    :param column_map: ``{source column: Apollo field}``; ``id`` makes the record an update of that
        contact, ``custom_fields.<label>`` fills a custom field (picklists by their text), and
        ``owner_id`` takes a user id or the user's email. Omitted: every column is sent under its
        own name. Templated.
    :param max_rejects: fail the task (after every good record is sent and the rejects file is
        written) when more records than this are rejected: a count (``0``: any reject fails), or
        a share below 1 (``0.01``: more than 1% of the records). None (default): never fail for rejects.
    :param created_ids_key: where to write the created contacts' ids (one per line), in the
        rejects file's bucket; default beside the rejects file. Templated.
    :param aws_conn_id: the Amazon connection for the rejects file (and the S3 source).
    """

    ui_color = "#e8f0fe"
    # The extra that installs what the job needs (the Amazon provider for the S3 files), named
    # in the error when it is missing.
    required_extra = EXTRA_AMAZON

    def __init__(
        self,
        *,
        column_map: dict[str, str] | str | None = None,
        max_rejects: int | float | None = None,
        created_ids_key: str | None = None,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.column_map = column_map
        self.max_rejects = check_max_rejects(max_rejects)
        self.created_ids_key = created_ids_key
        self.aws_conn_id = aws_conn_id
        if not isinstance(column_map, str):
            check_column_map(column_map)

    # -------------------------------------------------------------- what subclasses provide

    def open_source(self, context: Context) -> contextlib.AbstractContextManager[Records]:
        raise NotImplementedError

    def rejects_location(self) -> tuple[str, str]:
        """The rejects file's (bucket, key)."""
        raise NotImplementedError

    def source_description(self) -> str:
        raise NotImplementedError

    # -------------------------------------------------------------- the job

    def check_extra(self) -> None:
        """Fail before any I/O when the providers the job imports are not installed, naming the extra."""
        s3_hook_class(type(self).__name__, self.required_extra)

    @cached_property
    def s3(self) -> S3Hook:
        # Imported when the task runs (never at DAG parsing): a missing extra fails the task only.
        hook_class = s3_hook_class(type(self).__name__, self.required_extra)
        return hook_class(aws_conn_id=self.aws_conn_id)

    def ids_location(self) -> tuple[str, str]:
        bucket, rejects_key = self.rejects_location()
        if self.created_ids_key:
            return bucket, self.created_ids_key
        base = rejects_key.removesuffix(REJECTS_SUFFIX)
        return bucket, base + CREATED_IDS_SUFFIX

    def _column_map(self) -> dict[str, str] | None:
        from airflow_provider_apollo.arguments import native_value

        value = self.column_map
        if isinstance(value, str):
            value = native_value(value, "column_map", dict)
        return check_column_map(value)

    def run_job(self, context: Context, checkpoint: Any) -> dict[str, Any]:
        self.check_extra()
        column_map = self._column_map()
        bucket, rejects_key = self.rejects_location()
        ids_bucket, ids_key = self.ids_location()
        cursor = UpsertCursor.from_json(checkpoint)
        if checkpoint is None:
            # A fresh try: pieces a failed earlier try left are not part of this run.
            self._delete_prefix(bucket, rejects_key + PARTS_SUFFIX)
            self._delete_prefix(ids_bucket, ids_key + PARTS_SUFFIX)
        else:
            self.log.info(
                "Resuming the upsert of %s after record %d (%s so far)",
                self.source_description(),
                cursor.offset,
                _counts_text(cursor.counts),
            )
        upsert = Upsert(column_map, self.hook.lookups, cursor)
        segment = _Segment()
        batches_sent = 0
        try:
            with self.open_source(context) as records:
                check_mapped_columns(column_map, records.columns)
                try:
                    for emitted in iter_steps(
                        upsert.steps(_as_rejects(records.iterate(cursor.offset))), self.hook.call
                    ):
                        if isinstance(emitted, Reject):
                            segment.add_reject(emitted)
                            continue
                        for contact_id in emitted.created_ids:
                            segment.add_id(contact_id)
                        batches_sent += 1
                        if batches_sent % PROGRESS_EVERY_BATCHES == 0:
                            self._log_progress(cursor)
                except ApolloRateLimitError as error:
                    stop = self.stopped_at(error, None, "")
                    if stop is error:
                        raise
                    cursor.offset = upsert.resume_offset()
                    self._stage_segment(segment, cursor, bucket, rejects_key, ids_bucket, ids_key)
                    raise self.stopped_at(
                        error,
                        cursor.to_json(),
                        f"the records after {cursor.offset:,} of {self.source_description()}",
                    ) from None
            return self._finish(context, cursor, segment, bucket, rejects_key, ids_bucket, ids_key)
        finally:
            segment.close()

    def _log_progress(self, cursor: UpsertCursor) -> None:
        usage = self.hook.quota_usage(PATH_BULK_CREATE)
        hour = usage.get("hour")
        self.log.info(
            "Progress: %d records read; %s; %d calls%s",
            cursor.read_through,
            _counts_text(cursor.counts),
            cursor.calls,
            f"; {hour.left} left in this hour's quota of {PATH_BULK_CREATE}"
            if hour is not None and hour.left is not None
            else "",
        )

    # -------------------------------------------------------------- staging and the final objects

    def _stage_segment(
        self,
        segment: _Segment,
        cursor: UpsertCursor,
        bucket: str,
        rejects_key: str,
        ids_bucket: str,
        ids_key: str,
    ) -> None:
        """Before a quota wait: this stretch's rejects and ids become staged parts (the worker may change)."""
        token = uuid.uuid4().hex[:12]
        if segment.reject_count:
            part = f"{rejects_key}{PARTS_SUFFIX}{len(cursor.rejects_parts):05d}-{token}.jsonl"
            self._upload(segment.rejects, bucket, part)
            cursor.rejects_parts.append(part)
        if segment.id_count:
            part = f"{ids_key}{PARTS_SUFFIX}{len(cursor.ids_parts):05d}-{token}.txt"
            self._upload(segment.ids, ids_bucket, part)
            cursor.ids_parts.append(part)

    def _upload(self, local: IO[bytes], bucket: str, key: str) -> None:
        local.flush()
        local.seek(0)
        self.s3.load_file_obj(local, key=key, bucket_name=bucket, replace=True)

    def _complete(self, parts: list[str], local: IO[bytes], bucket: str, key: str) -> None:
        """The staged parts and this stretch joined on disk, then uploaded as one object (all or nothing)."""
        with tempfile.NamedTemporaryFile("wb", delete=False, suffix=".jsonl") as joined:
            path = joined.name
            for part in parts:
                body = self.s3.get_key(part, bucket).get()["Body"]
                shutil.copyfileobj(body, joined, 1 << 20)
            local.flush()
            local.seek(0)
            shutil.copyfileobj(local, joined, 1 << 20)
        try:
            self.s3.load_file(path, key=key, bucket_name=bucket, replace=True)
        finally:
            os.unlink(path)
        if parts:
            self.s3.delete_objects(bucket, parts)

    def _finish(
        self,
        context: Context,
        cursor: UpsertCursor,
        segment: _Segment,
        bucket: str,
        rejects_key: str,
        ids_bucket: str,
        ids_key: str,
    ) -> dict[str, Any]:
        counts = cursor.counts
        rejects_uri: str | None = None
        if counts["rejected"]:
            self._complete(cursor.rejects_parts, segment.rejects, bucket, rejects_key)
            rejects_uri = f"s3://{bucket}/{rejects_key}"
        elif self.s3.check_for_key(rejects_key, bucket):
            # A rejects file from an earlier run would describe records this run sent fine.
            self.s3.delete_objects(bucket, [rejects_key])
        ids_uri: str | None = None
        if cursor.ids_parts or segment.id_count:
            self._complete(cursor.ids_parts, segment.ids, ids_bucket, ids_key)
            ids_uri = f"s3://{ids_bucket}/{ids_key}"
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key=CREATED_IDS_URI_KEY, value=ids_uri)
        total = cursor.read_through
        self.log.info(
            "Upserted %s: %d records; %s; %d calls to Apollo%s",
            self.source_description(),
            total,
            _counts_text(counts),
            cursor.calls,
            f"; rejects in {rejects_uri}" if rejects_uri else "",
        )
        if counts["rejected"]:
            self.log.warning("%d of %d records were rejected; see %s", counts["rejected"], total, rejects_uri)
        if rejects_exceed(self.max_rejects, counts["rejected"], total):
            assert self.max_rejects is not None
            raise AirflowException(
                f"{counts['rejected']:,} of {total:,} records were rejected, more than "
                f"{describe_threshold(self.max_rejects)}. Every other record was sent ({_counts_text(counts)}); "
                f"the rejects and their reasons are in {rejects_uri}."
            )
        return {
            **{name: counts[name] for name in ("created", "updated", "unchanged", "rejected")},
            "rejects_uri": rejects_uri,
        }

    def _delete_prefix(self, bucket: str, prefix: str) -> None:
        keys = self.s3.list_keys(bucket_name=bucket, prefix=prefix)
        if keys:
            self.s3.delete_objects(bucket, keys)


def _as_rejects(records: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """The records as read, one the reader could not parse as the reject the core takes it for."""
    for row, record in records:
        yield row, Reject(row, record.raw, record.reason) if isinstance(record, BadRecord) else record


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(
        f"{counts.get(name, 0):,} {name}" for name in ("created", "updated", "unchanged", "rejected")
    )


def check_key(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApolloArgumentError(f"{argument} must be a non-empty string, got {value!r}.")
    return value.strip()


__all__ = ["CREATED_IDS_URI_KEY", "WarehouseToApolloOperator"]
