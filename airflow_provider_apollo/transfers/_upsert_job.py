"""The upsert job shared by the S3 and SQL transfers: read the records, drive the core, write, resume.

The source classes only open their records. What to send (batches, creates and updates, bisecting
a refused batch) is the core's :class:`~airflow_provider_apollo.core.upsert.Upsert`, driven here
with the hook's ``call``; this module writes what it emits (the rejects file staged in parts and
completed in one upload, the created-ids object), checkpoints and applies the threshold, once for
both sources.

Checkpoints: at a quota stop, and (Airflow 3.3 and later) every ``checkpoint_interval`` while the
job works, what the batches applied so far produced (rejects, created ids) is staged in S3 as parts
beside the final objects, and the row-offset cursor naming those parts is saved. A new try resumes
from it: parts no checkpoint names (staged just before a kill) are deleted, every part is deleted
once the final objects are written, and a discarded checkpoint's parts go with it. The final
objects are written from parts only, after a checkpoint names them all, so a kill while they are
written resumes there; a last checkpoint marks the job finished before the parts are deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, Context

from airflow_provider_apollo.core import (
    PATH_BULK_CREATE,
    ApiRequest,
    Reject,
    Upsert,
    UpsertCursor,
    check_column_map,
    check_mapped_columns,
    check_max_rejects,
    describe_threshold,
    iter_steps,
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
# Checkpoint keys beside the cursor's: where the parts are, when it was saved, whether the job had
# finished writing its final objects (then a new try only cleans up and reports).
STAGED = "staged"
SAVED_AT_MS = "saved_at_ms"
FINISHED = "finished"


@dataclass(frozen=True)
class _Places:
    """Where the final objects go, and the prefixes their parts are staged under."""

    bucket: str
    rejects_key: str
    ids_bucket: str
    ids_key: str

    @property
    def rejects_prefix(self) -> str:
        return self.rejects_key + PARTS_SUFFIX

    @property
    def ids_prefix(self) -> str:
        return self.ids_key + PARTS_SUFFIX

    def to_json(self) -> dict[str, str]:
        return {
            "rejects_bucket": self.bucket,
            "rejects_prefix": self.rejects_prefix,
            "ids_bucket": self.ids_bucket,
            "ids_prefix": self.ids_prefix,
        }


def part_key(prefix: str, name: str) -> str:
    """A staged part's key: the checkpoint names a part by its name under the prefix (older
    checkpoints, by its whole key)."""
    return name if name.startswith(prefix) else prefix + name


class _Segment:
    """What this stretch of the job (since the last staging) adds: rejects and created ids on disk."""

    def __init__(self) -> None:
        self._open()

    def _open(self) -> None:
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

    def reset(self) -> None:
        """Staged: start the next stretch empty (in new files: an upload may have closed the old ones)."""
        self.close()
        self._open()

    def close(self) -> None:
        self.rejects.close()
        self.ids.close()


class _OwnCreates:
    """
    The hook's ``call`` for a try that resumes from a checkpoint saved at ``since_ms``: in a bulk
    create's answer, a contact created after that moment (by the try that was killed before it
    saved again) comes back as a dedupe match; the first time it is seen it counts as created, as
    an uninterrupted run counts it, not as unchanged. Apollo's ``created_at`` and the worker's
    clock are compared, so the two must agree to within the time a batch takes.
    """

    def __init__(self, call: Callable[[ApiRequest], Any], since_ms: float) -> None:
        self.call = call
        self.since_ms = since_ms
        self.seen: set[str] = set()
        self.claimed = 0

    def __call__(self, request: ApiRequest) -> Any:
        body = self.call(request)
        if request.path != PATH_BULK_CREATE or not isinstance(body, Mapping):
            return body
        created = [c for c in body.get("created_contacts") or [] if isinstance(c, Mapping)]
        self.seen.update(str(contact.get("id")) for contact in created)
        existing = []
        for contact in body.get("existing_contacts") or []:
            contact_id = str(contact.get("id")) if isinstance(contact, Mapping) else None
            stamp = _epoch_ms(contact.get("created_at")) if isinstance(contact, Mapping) else None
            if (
                contact_id is not None
                and contact_id not in self.seen
                and stamp is not None
                and stamp >= self.since_ms
            ):
                created.append(contact)
                self.seen.add(contact_id)
                self.claimed += 1
            else:
                existing.append(contact)
        return {**body, "created_contacts": created, "existing_contacts": existing}


def _epoch_ms(value: Any) -> float | None:
    """Apollo's ``2020-08-13T06:56:09.789Z`` as epoch milliseconds; None when it is not a time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() * 1000


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

    A new try resumes from the checkpoint an earlier one saved (Airflow 3.3 and later): no applied
    batch is sent again but those of the last ``checkpoint_interval``, whose contacts created by
    the killed try still count as created; the XCom value and the files are an uninterrupted run's.
    """

    ui_color = "#e8f0fe"
    crash_safe = True
    resume_arguments: ClassVar[Sequence[str]] = ("max_rejects", "aws_conn_id")
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
        from airflow_provider_apollo.arguments import check_native_argument

        value = self.column_map
        if isinstance(value, str):
            value = check_native_argument(value, "column_map", dict)
        return check_column_map(value)

    def _places(self) -> _Places:
        bucket, rejects_key = self.rejects_location()
        ids_bucket, ids_key = self.ids_location()
        return _Places(bucket, rejects_key, ids_bucket, ids_key)

    def describe_checkpoint(self, checkpoint: Any) -> str:
        cursor = UpsertCursor.from_json(checkpoint)
        finished = (
            " (final objects written)" if isinstance(checkpoint, Mapping) and checkpoint.get(FINISHED) else ""
        )
        return (
            f"records settled through {cursor.offset:,} ({_counts_text(cursor.counts)}; {cursor.calls:,} calls; "
            f"{len(cursor.rejects_parts) + len(cursor.ids_parts)} staged parts){finished}"
        )

    def discard_checkpoint(self, context: Context, checkpoint: Any) -> None:
        """The discarded run's staged parts, wherever its arguments put them."""
        staged = checkpoint.get(STAGED) if isinstance(checkpoint, Mapping) else None
        if not isinstance(staged, Mapping):
            return
        for bucket, prefix in (
            (staged.get("rejects_bucket"), staged.get("rejects_prefix")),
            (staged.get("ids_bucket"), staged.get("ids_prefix")),
        ):
            if isinstance(bucket, str) and isinstance(prefix, str) and prefix.endswith(PARTS_SUFFIX):
                self._delete_prefix(bucket, prefix)

    def run_job(self, context: Context, checkpoint: Any) -> dict[str, Any]:
        self.check_extra()
        column_map = self._column_map()
        places = self._places()
        state = checkpoint if isinstance(checkpoint, Mapping) else {}
        cursor = UpsertCursor.from_json(checkpoint)
        if state.get(FINISHED):
            return self._finished_earlier(context, cursor, state[FINISHED], places)
        if checkpoint is None:
            # A fresh try: pieces a failed earlier try left are not part of this run.
            self._delete_prefix(places.bucket, places.rejects_prefix)
            self._delete_prefix(places.ids_bucket, places.ids_prefix)
        else:
            self.log.info(
                "Resuming the upsert of %s after record %d (%s so far)",
                self.source_description(),
                cursor.offset,
                _counts_text(cursor.counts),
            )
            self._delete_unnamed_parts(cursor, places)
        upsert = Upsert(column_map, self.hook.lookups, cursor)
        since_ms = state.get(SAVED_AT_MS)
        call = _OwnCreates(self.hook.call, float(since_ms)) if isinstance(since_ms, (int, float)) else None
        segment = _Segment()
        batches_sent = 0

        def durable() -> dict[str, Any]:
            """Stage what was done since the last save; the checkpoint that names it."""
            cursor.offset = upsert.resume_offset()
            self._stage_segment(segment, cursor, places)
            return self._checkpoint(cursor, places)

        def at_quota_stop() -> dict[str, Any]:
            # The batch cut short by the 429 was not applied: nothing created since needs claiming.
            return {**durable(), SAVED_AT_MS: None}

        if checkpoint is None:
            # Before the first batch: a try killed before its first save still tells the next one
            # when it started, so the contacts it created count as created, not unchanged.
            self.save_progress(durable, force=True)

        try:
            with self.open_source(context) as records:
                check_mapped_columns(column_map, records.columns)
                try:
                    for emitted in iter_steps(
                        upsert.steps(_as_rejects(records.iterate(cursor.offset))), call or self.hook.call
                    ):
                        if isinstance(emitted, Reject):
                            segment.add_reject(emitted)
                            continue
                        for contact_id in emitted.created_ids:
                            segment.add_id(contact_id)
                        batches_sent += 1
                        if batches_sent % PROGRESS_EVERY_BATCHES == 0:
                            self._log_progress(cursor)
                        # Sending an upsert batch again changes nothing (dedupe; same values): on the interval.
                        self.save_progress(durable)
                except ApolloRateLimitError as error:
                    work_left = f"the records after {upsert.resume_offset():,} of {self.source_description()}"
                    raise self.quota_stop(error, at_quota_stop, work_left) from None
            if call is not None and call.claimed:
                self.log.info(
                    "%d contacts the interrupted try created before it stopped count as created", call.claimed
                )
            return self._finish(context, cursor, segment, places)
        finally:
            segment.close()

    def _checkpoint(self, cursor: UpsertCursor, places: _Places) -> dict[str, Any]:
        return {**cursor.to_json(), STAGED: places.to_json(), SAVED_AT_MS: time.time() * 1000}

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

    def _stage_segment(self, segment: _Segment, cursor: UpsertCursor, places: _Places) -> None:
        """This stretch's rejects and ids become staged parts (a new try, or the worker after a
        quota wait, finds them there); the cursor names them once both are uploaded."""
        token = uuid.uuid4().hex[:12]
        rejects_parts, ids_parts = list(cursor.rejects_parts), list(cursor.ids_parts)
        if segment.reject_count:
            name = f"{len(rejects_parts):05d}-{token}.jsonl"
            self._upload(segment.rejects, places.bucket, places.rejects_prefix + name)
            rejects_parts.append(name)
        if segment.id_count:
            name = f"{len(ids_parts):05d}-{token}.txt"
            self._upload(segment.ids, places.ids_bucket, places.ids_prefix + name)
            ids_parts.append(name)
        cursor.rejects_parts, cursor.ids_parts = rejects_parts, ids_parts
        segment.reset()

    def _upload(self, local: IO[bytes], bucket: str, key: str) -> None:
        local.flush()
        local.seek(0)
        self.s3.load_file_obj(local, key=key, bucket_name=bucket, replace=True)

    def _complete(self, parts: list[str], prefix: str, local: IO[bytes], bucket: str, key: str) -> None:
        """The staged parts and this stretch joined on disk, then uploaded as one object (all or nothing)."""
        with tempfile.NamedTemporaryFile("wb", delete=False, suffix=".jsonl") as joined:
            path = joined.name
            for part in parts:
                body = self.s3.get_key(part_key(prefix, part), bucket).get()["Body"]
                shutil.copyfileobj(body, joined, 1 << 20)
            local.flush()
            local.seek(0)
            shutil.copyfileobj(local, joined, 1 << 20)
        try:
            self.s3.load_file(path, key=key, bucket_name=bucket, replace=True)
        finally:
            os.unlink(path)

    def _finish(
        self, context: Context, cursor: UpsertCursor, segment: _Segment, places: _Places
    ) -> dict[str, Any]:
        if self.saves_checkpoints:
            # Everything the final objects hold is staged and named in a checkpoint first: a kill
            # while they are written resumes here, not at the last save, and sends nothing.
            cursor.offset = cursor.read_through

            def staged_all() -> dict[str, Any]:
                self._stage_segment(segment, cursor, places)
                return self._checkpoint(cursor, places)

            self.save_progress(staged_all, force=True)
        counts = cursor.counts
        rejects_uri: str | None = None
        if counts["rejected"]:
            self._complete(
                cursor.rejects_parts,
                places.rejects_prefix,
                segment.rejects,
                places.bucket,
                places.rejects_key,
            )
            rejects_uri = f"s3://{places.bucket}/{places.rejects_key}"
        elif self.s3.check_for_key(places.rejects_key, places.bucket):
            # A rejects file from an earlier run would describe records this run sent fine.
            self.s3.delete_objects(places.bucket, [places.rejects_key])
        ids_uri: str | None = None
        if cursor.ids_parts or segment.id_count:
            self._complete(
                cursor.ids_parts, places.ids_prefix, segment.ids, places.ids_bucket, places.ids_key
            )
            ids_uri = f"s3://{places.ids_bucket}/{places.ids_key}"
        finished = {"rejects_uri": rejects_uri, "ids_uri": ids_uri}
        # Written: a new try from here on only removes the parts and reports.
        self.save_progress(lambda: {**self._checkpoint(cursor, places), FINISHED: finished}, force=True)
        return self._wrap_up(context, cursor, finished, places)

    def _finished_earlier(
        self, context: Context, cursor: UpsertCursor, finished: Any, places: _Places
    ) -> dict[str, Any]:
        self.log.info(
            "The earlier try had written the rejects file and the created ids before it stopped: "
            "removing its staged parts and reporting, nothing sent to Apollo"
        )
        finished = dict(finished) if isinstance(finished, Mapping) else {}
        return self._wrap_up(
            context,
            cursor,
            {"rejects_uri": finished.get("rejects_uri"), "ids_uri": finished.get("ids_uri")},
            places,
        )

    def _wrap_up(
        self, context: Context, cursor: UpsertCursor, finished: dict[str, Any], places: _Places
    ) -> dict[str, Any]:
        """The final objects are written: remove every part (named or not), the checkpoint, then report."""
        self._delete_prefix(places.bucket, places.rejects_prefix)
        self._delete_prefix(places.ids_bucket, places.ids_prefix)
        self.forget_progress()
        rejects_uri, ids_uri = finished["rejects_uri"], finished["ids_uri"]
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key=CREATED_IDS_URI_KEY, value=ids_uri)
        counts = cursor.counts
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

    def _delete_unnamed_parts(self, cursor: UpsertCursor, places: _Places) -> None:
        """Parts staged by a try that stopped before a checkpoint named them: never read, so removed."""
        for bucket, prefix, named in (
            (places.bucket, places.rejects_prefix, cursor.rejects_parts),
            (places.ids_bucket, places.ids_prefix, cursor.ids_parts),
        ):
            keep = {part_key(prefix, part) for part in named}
            stale = [
                key for key in self.s3.list_keys(bucket_name=bucket, prefix=prefix) or [] if key not in keep
            ]
            if stale:
                self.log.info(
                    "Removing %d staged part(s) no checkpoint names under s3://%s/%s",
                    len(stale),
                    bucket,
                    prefix,
                )
                self.s3.delete_objects(bucket, stale)

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
