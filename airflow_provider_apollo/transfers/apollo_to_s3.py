"""ApolloSearchToS3Operator: stream every contact of an Apollo search into one S3 object, complete or not at all."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowException, Context

from airflow_provider_apollo._compat import log_info_with_fields
from airflow_provider_apollo.arguments import is_resolved_later
from airflow_provider_apollo.assets import export_asset, record_export
from airflow_provider_apollo.core import (
    CREATED_SORT_FIELD,
    MAX_SEARCH_CONCURRENCY,
    UPDATED_SORT_FIELD,
    ExportPlan,
    QuotaExhausted,
    check_int_range,
    export_file_format,
    parse_timestamp,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloRateLimitError
from airflow_provider_apollo.extras import s3_hook_class
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.links import ApolloExportS3Link
from airflow_provider_apollo.operators.base import ApolloLongJobOperator
from airflow_provider_apollo.transfers._staging import PART_SIZE, MultipartUpload, staging_prefix
from airflow_provider_apollo.transfers._writers import (
    CONTACT_COLUMN_NAMES,
    FILE_FORMATS,
    FORMAT_PARQUET,
    WRITE_COMPRESSIONS,
    FileRange,
    IdsWriter,
    PartSpool,
    join_parquet,
    open_writer,
    require_pyarrow,
)

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

__all__ = [
    "CONTACT_COLUMN_NAMES",
    "CREATED_SORT_FIELD",
    "DEFAULT_MAX_RETURNED_IDS",
    "UPDATED_SORT_FIELD",
    "ApolloSearchToS3Operator",
    "parse_timestamp",
]

# Parts uploaded at once by boto's managed transfer (the Parquet file, the ids object). Its default
# of 10 holds ~25 MiB of buffers for a 100 MB file; 4 keeps that near 10 MiB and still fills a
# worker's uplink. The connection's ``service_config.s3.transfer_config_args`` overrides it.
UPLOAD_MAX_CONCURRENCY = 4
# Input dataset name in lineage: the records this operator reads.
LINEAGE_INPUT_NAME = "contacts"
# The most ids ``push_contact_ids=True`` returns by default: about 270 KB of XCom. A search matching
# more fails on its first page and says where the ids can go instead (``ids_key``).
DEFAULT_MAX_RETURNED_IDS = 10_000
# XCom key of the ids object's URI, pushed when ``ids_key`` is set.
IDS_URI_XCOM_KEY = "ids_uri"
# What to do when the ids do not fit the return value (about 27 bytes an id in the metadata database).
RETURNED_IDS_ADVICE = (
    "Leave push_contact_ids out (the default return value is a summary: s3_uri, record_count, ids_uri) "
    "and, if a downstream task needs the ids, pass ids_key='<key>.ids.txt' to write them to S3 "
    "(XCom ids_uri); or raise max_returned_ids."
)


class ApolloSearchToS3Operator(ApolloLongJobOperator):
    """
    Export every contact an Apollo search matches to one S3 object (JSON lines, CSV or Parquet).

    Pages are written to a local file as they arrive; once every page is read, JSON lines and CSV
    go up as an S3 multipart upload, 8 MiB parts one after another, and the object appears only
    when the upload completes; a failure part-way aborts it, so no partial object is ever visible
    at the key. Parquet (its footer comes last) is uploaded once complete. Memory stays flat
    whatever the size of the export (one page, one part; the one per-contact cost is the set of
    ids seen, about 100 bytes a contact, which removes duplicates when records shift between
    pages). Uploading parts in the background while reading was measured no faster and 50 MiB
    fatter (``docs/performance.md``).

    A long export outlasts Apollo's hourly and daily quotas (``wait_for_quota``): at an exhausted
    quota it stages what the worker holds beside the key (``<s3_key>.apollo-staging/<run>/``: the
    bytes not yet sent as a part, or the Parquet segment, and the ids exported so far), defers
    until the reset holding no worker slot, and resumes from the export plan's cursor. The result
    equals an uninterrupted run's; staged objects are removed on success and on failure.

    What to read is decided by the core's export plan
    (:class:`~airflow_provider_apollo.core.export.ExportPlan`, driven by
    :meth:`~airflow_provider_apollo.hooks.apollo.ApolloHook.export_contacts`): a search matching
    more than Apollo's 50,000-record cap is split by contact stage (one search a stage) so every
    contact is exported; if one stage still exceeds the cap, the task fails before anything is
    uploaded and says how to narrow the search.

    The return value (XCom) is a summary whose size does not depend on the export's:
    ``{"s3_uri": ..., "record_count": ..., "ids_uri": ...}`` (``ids_uri`` is ``None`` without
    ``ids_key``). ``ids_key`` writes every exported id, one a line, to an S3 object beside the
    export, for downstream tasks that read them at any scale. ``push_contact_ids=True`` returns the
    list of exported ids instead, up to ``max_returned_ids``: a search matching more fails on its
    first page, before anything is uploaded, saying what to do.

    :param s3_bucket: destination bucket (templated).
    :param s3_key: destination key (templated); its suffix names the format when ``file_format`` is
        not given (``.jsonl``, ``.ndjson``, ``.json``, ``.csv``, ``.parquet``, each optionally
        followed by ``.gz``); end it in ``.gz`` with ``compression="gzip"``.
    :param search: Apollo search filters (``q_keywords``, ``contact_stage_ids``, ``contact_label_ids``,
        ``sort_by_field`` ...); ``contact_stages`` takes stage names (or ids), resolved once per run
        (templated).
    :param file_format: ``"jsonl"`` (each contact exactly as Apollo returns it), ``"csv"`` or
        ``"parquet"`` (the fixed column set :data:`CONTACT_COLUMN_NAMES`; Parquet needs the
        ``parquet`` extra). ``None`` (default): the format ``s3_key``'s suffix names, or ``jsonl``
        when it names none. A format the key's suffix contradicts fails before any request (at
        construction, or at the start of ``execute`` when the key is templated).
    :param aws_conn_id: the Amazon connection; an ``endpoint_url`` in its extra points at any
        S3-compatible store.
    :param replace: overwrite an existing object; with ``False`` an existing object fails the task
        before any Apollo request.
    :param max_records: export at most this many contacts (a deliberate partial read).
    :param apollo_conn_id: the Apollo connection.
    :param compression: ``None`` or ``"gzip"`` (for Parquet: Parquet's internal gzip codec).
    :param updated_since: export only contacts updated at or after this time (ISO 8601 string or
        datetime; templated, typically ``"{{ data_interval_start }}"``). Reads newest-updated first
        and stops at the first older contact.
    :param updated_before: export only contacts updated before this time (exclusive; templated,
        typically ``"{{ data_interval_end }}"``). With ``updated_since`` an export holds exactly the
        contacts updated in ``[updated_since, updated_before)``, so re-running an old interval
        writes the same file (for contacts not updated since).
    :param push_contact_ids: return the list of exported ids as the XCom value instead of the
        summary (default ``False``).
    :param max_returned_ids: with ``push_contact_ids=True``, the most ids the return value may hold
        (default 10,000, about 270 KB). Checked against the search's total on its first page: a
        search matching more fails there, before anything is uploaded, naming this argument (with
        ``updated_since``/``updated_before`` the total is known only by reading, so the export
        fails once it passes the bound). ``None`` lifts the bound.
    :param ids_key: also write the exported ids, one a line in export order, to this key of
        ``s3_bucket`` (templated; e.g. the export's key plus ``.ids.txt``); pushes XCom ``ids_uri``.
    :param concurrency: search pages fetched at once (1 to 8).
    :param log_every_pages: log progress every this many pages.
    :param slice_by_stage: split a search above the 50,000 cap by contact stage; ``False`` fails instead.
    :param asset: the outlet Asset (an ``Asset`` or a URI); by default ``s3://bucket/key``, or the
        key's folder before its first template when the key is templated, or none when the bucket
        is templated. Its event's ``extra`` holds ``s3_uri`` and ``record_count``.
    :param wait_for_quota: at an exhausted hourly or daily quota, wait for the reset (deferred) and
        resume; ``False`` fails at once.
    :param max_quota_wait: the most the task waits for quotas in total (seconds or ``timedelta``,
        default 24 hours).
    """

    template_fields: Sequence[str] = (
        "s3_bucket",
        "s3_key",
        "search",
        "updated_since",
        "updated_before",
        "ids_key",
    )
    template_fields_renderers = {"search": "json"}
    ui_color = "#4f46e5"
    operator_extra_links = (ApolloExportS3Link(),)

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_key: str,
        search: dict[str, Any] | None = None,
        file_format: str | None = None,
        aws_conn_id: str | None = "aws_default",
        replace: bool = True,
        max_records: int | None = None,
        apollo_conn_id: str = ApolloHook.default_conn_name,
        compression: str | None = None,
        updated_since: str | datetime.datetime | None = None,
        updated_before: str | datetime.datetime | None = None,
        push_contact_ids: bool = False,
        max_returned_ids: int | None = DEFAULT_MAX_RETURNED_IDS,
        ids_key: str | None = None,
        concurrency: int = 1,
        log_every_pages: int = 50,
        slice_by_stage: bool = True,
        asset: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(apollo_conn_id=apollo_conn_id, **kwargs)
        # The outlet Asset (see airflow_provider_apollo.assets.export_asset): fixed at parse time.
        self.export_asset = export_asset(s3_bucket, s3_key, asset)
        if self.export_asset is not None and self.export_asset not in self.outlets:
            self.outlets = [*self.outlets, self.export_asset]
        if file_format is not None and file_format not in FILE_FORMATS:
            raise ApolloArgumentError(
                f"file_format must be one of {', '.join(FILE_FORMATS)} (or None to infer it from s3_key's "
                f"suffix), got {file_format!r}."
            )
        if isinstance(s3_key, str) and not is_resolved_later(s3_key):
            export_file_format(file_format, s3_key)  # a contradiction fails when the DAG is parsed
        if compression not in WRITE_COMPRESSIONS:
            raise ApolloArgumentError(f"compression must be None or 'gzip', got {compression!r}.")
        if max_records is not None and (
            isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 0
        ):
            raise ApolloArgumentError(
                f"max_records must be a non-negative integer or None, got {max_records!r}."
            )
        if max_returned_ids is not None and (
            isinstance(max_returned_ids, bool)
            or not isinstance(max_returned_ids, int)
            or max_returned_ids < 0
        ):
            raise ApolloArgumentError(
                f"max_returned_ids must be a non-negative integer or None, got {max_returned_ids!r}."
            )
        check_int_range(concurrency, "concurrency", 1, MAX_SEARCH_CONCURRENCY)
        if isinstance(log_every_pages, bool) or not isinstance(log_every_pages, int) or log_every_pages < 1:
            raise ApolloArgumentError(f"log_every_pages must be a positive integer, got {log_every_pages!r}.")
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.search = search
        self.file_format = file_format
        self.aws_conn_id = aws_conn_id
        self.replace = replace
        self.max_records = max_records
        self.compression = compression
        self.updated_since = updated_since
        self.updated_before = updated_before
        self.push_contact_ids = push_contact_ids
        self.max_returned_ids = max_returned_ids
        self.ids_key = ids_key
        self.concurrency = concurrency
        self.log_every_pages = log_every_pages
        self.slice_by_stage = slice_by_stage

    @cached_property
    def s3_hook(self) -> S3Hook:
        # The [amazon] extra, imported when the task runs (never at DAG parsing).
        hook_class = s3_hook_class(type(self).__name__)
        return hook_class(
            aws_conn_id=self.aws_conn_id, transfer_config_args={"max_concurrency": UPLOAD_MAX_CONCURRENCY}
        )

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.s3_bucket}/{self.s3_key}"

    # ------------------------------------------------------------------ execute

    def run_job(self, context: Context, checkpoint: Any) -> dict[str, Any] | list[str]:
        """
        Export from ``checkpoint`` (None at the start) to the end, or to an exhausted quota.

        Pages go to a local file; then JSON lines and CSV are sent as the parts of an S3 multipart
        upload, one after another, and Parquet (its footer comes last) as one file. At a quota stop
        the whole parts are sent, and the bytes short of a part and the ids exported so far are
        staged in S3 beside the key; the checkpoint names them. The object itself appears only
        when the export completes.
        """
        self._check_keys()
        file_format = export_file_format(self.file_format, self.s3_key)
        state = dict(checkpoint or {})
        fresh = not state
        if file_format == FORMAT_PARQUET:
            require_pyarrow()
        if fresh and not self.replace and self.s3_hook.check_for_key(self.s3_key, self.s3_bucket):
            raise AirflowException(
                f"{self.s3_uri} already exists and replace=False: delete it, choose another s3_key "
                "(e.g. one containing {{ ds }}), or pass replace=True."
            )
        started = time.monotonic()
        # A fresh export's search and bounds are checked (by building its plan) before any S3 call.
        plan = None if state else self._plan(state, [])
        staging = self._staging(state, file_format)
        try:
            return self._export(context, state, staging, started, plan, file_format)
        except QuotaExhausted:
            raise
        except BaseException:
            self._discard(staging)
            raise

    def _staging(self, state: dict[str, Any], file_format: str) -> MultipartUpload:
        client = self.s3_hook.get_conn()
        if state:
            return MultipartUpload(
                client, self.s3_bucket, self.s3_key, state.get("upload_id") or "", state["staging"]
            )
        prefix = staging_prefix(self.s3_key, uuid.uuid4().hex)
        if file_format == FORMAT_PARQUET:
            return MultipartUpload(client, self.s3_bucket, self.s3_key, "", prefix)
        return MultipartUpload.start(client, self.s3_bucket, self.s3_key, prefix)

    def _discard(self, staging: MultipartUpload) -> None:
        """After a failure: no object, no parts, no staged files (best effort; the task's error wins)."""
        with contextlib.suppress(Exception):
            if staging.upload_id:
                staging.abort()
        with contextlib.suppress(Exception):
            staging.remove_staged()

    def _plan(self, state: dict[str, Any], seen: list[str]) -> ExportPlan:
        """The export plan from the checkpoint's cursor; checks the rendered search and bounds."""
        return ExportPlan(
            self.search,
            updated_since=self.updated_since,
            updated_before=self.updated_before,
            max_records=self.max_records,
            concurrency=self.concurrency,
            slice_by_stage=self.slice_by_stage,
            log_every_pages=self.log_every_pages,
            log=self.log,
            cursor=state.get("plan"),
            seen_ids=seen,
            # Ids asked for: the search's total, on its first page, decides whether they fit.
            on_total=self._check_total if self.push_contact_ids else None,
        )

    def _export(
        self,
        context: Context,
        state: dict[str, Any],
        staging: MultipartUpload,
        started: float,
        plan: ExportPlan | None,
        file_format: str,
    ) -> dict[str, Any] | list[str]:
        segments = int(state.get("segments", 0))
        seen = self._staged_ids(staging, segments)
        if plan is None:
            plan = self._plan(state, seen)
        returned: list[str] | None = list(seen) if self.push_contact_ids else None
        if returned is not None:
            self._check_returned_ids(len(returned))
        with tempfile.TemporaryDirectory(prefix="apollo-export-") as workdir, contextlib.ExitStack() as files:
            ids_path = os.path.join(workdir, "ids.txt")
            parquet_path = os.path.join(workdir, "segment.parquet")
            spool: PartSpool | None = None
            if file_format == FORMAT_PARQUET:
                target: Any = parquet_path
            else:
                tail = staging.get_staged(f"tail-{segments - 1}") if segments else b""
                spool = PartSpool(os.path.join(workdir, "spool"), initial=tail)
                files.callback(spool.discard)
                target = spool
            try:
                with IdsWriter(ids_path) as ids:
                    writer = open_writer(target, file_format, self.compression, header=not segments)
                    try:
                        for contacts in self.hook.export_contacts(plan):
                            writer.write(contacts)
                            page_ids = [str(c["id"]) for c in contacts if c.get("id") is not None]
                            ids.write(page_ids)
                            if returned is not None:
                                returned.extend(page_ids)
                                self._check_returned_ids(len(returned))
                    finally:
                        writer.close()
            except ApolloRateLimitError as error:
                checkpoint = self._stage_segment(state, staging, spool, segments, ids_path, parquet_path)
                checkpoint["plan"] = plan.state()
                raise self.quota_stop(
                    error, lambda: checkpoint, f"{plan.written:,} contacts exported so far"
                ) from None
            read_seconds = time.monotonic() - started
            uploading = time.monotonic()
            self._finish(state, staging, spool, segments, ids_path, parquet_path, workdir)
            upload_seconds = time.monotonic() - uploading
        with contextlib.suppress(Exception):
            staging.remove_staged()
        # Airflow 3.0's logging.Logger takes no keyword fields: the helper passes them its way.
        log_info_with_fields(
            self.log,
            "Exported %d contacts to %s (%d pages, %d Apollo requests; read %.2f s, then uploaded in %.2f s)",
            plan.written,
            self.s3_uri,
            plan.pages_read,
            self.hook.request_count,
            read_seconds,
            upload_seconds,
            read_seconds=round(read_seconds, 3),
            upload_seconds=round(upload_seconds, 3),
        )
        ti = context["ti"]
        ti.xcom_push(key="s3_uri", value=self.s3_uri)
        ti.xcom_push(key="record_count", value=plan.written)
        record_export(self, context, s3_uri=self.s3_uri, record_count=plan.written)
        ids_uri = f"s3://{self.s3_bucket}/{self.ids_key}" if self.ids_key else None
        if ids_uri is not None:
            ti.xcom_push(key=IDS_URI_XCOM_KEY, value=ids_uri)
        if returned is not None:
            return returned
        return {"s3_uri": self.s3_uri, "record_count": plan.written, "ids_uri": ids_uri}

    def _staged_ids(self, staging: MultipartUpload, segments: int) -> list[str]:
        """The ids exported before the quota waits, in export order (read back from staging)."""
        ids: list[str] = []
        for segment in range(segments):
            ids.extend(staging.get_staged(f"ids-{segment}").decode().split())
        return ids

    def _stage_segment(
        self,
        state: dict[str, Any],
        staging: MultipartUpload,
        spool: PartSpool | None,
        segment: int,
        ids_path: str,
        parquet_path: str,
    ) -> dict[str, Any]:
        """At a quota stop: send the whole parts, stage the rest, and return the checkpoint that names it."""
        parts = list(state.get("parts") or [])
        if spool is not None:
            parts = self._upload_whole_parts(staging, spool, parts)
            staging.put_staged(f"tail-{segment}", spool.remainder(PART_SIZE))
        else:
            staging.upload_staged(f"segment-{segment}.parquet", parquet_path)
        staging.upload_staged(f"ids-{segment}", ids_path)
        return {
            "staging": staging.prefix,
            "upload_id": staging.upload_id,
            "parts": parts,
            "segments": segment + 1,
        }

    @staticmethod
    def _upload_whole_parts(
        staging: MultipartUpload, spool: PartSpool, parts: list[list[Any]]
    ) -> list[list[Any]]:
        """
        Send the spool's whole parts after ``parts`` (those sent before a quota wait), one after
        another, each read from the spool's file as it goes; every part's ``[number, etag]``.
        """
        parts = list(parts)
        for index in range(spool.whole_parts(PART_SIZE)):
            parts.append(send_part(staging, len(parts) + 1, spool.part(index, PART_SIZE)))
        return parts

    def _finish(
        self,
        state: dict[str, Any],
        staging: MultipartUpload,
        spool: PartSpool | None,
        segments: int,
        ids_path: str,
        parquet_path: str,
        workdir: str,
    ) -> None:
        """Make the object appear, whole: complete the multipart upload, or upload the Parquet file."""
        if self.ids_key:
            # The ids first: a reader who sees the export finds its ids already there.
            joined = os.path.join(workdir, "all-ids.txt")
            with open(joined, "wb") as out:
                for segment in range(segments):
                    out.write(staging.get_staged(f"ids-{segment}"))
                with open(ids_path, "rb") as current:
                    shutil.copyfileobj(current, out)
            self.s3_hook.load_file(joined, key=self.ids_key, bucket_name=self.s3_bucket, replace=True)
        if spool is not None:
            parts = self._upload_whole_parts(staging, spool, list(state.get("parts") or []))
            last = spool.part(spool.whole_parts(PART_SIZE), PART_SIZE)
            if len(last) or not parts:
                parts.append(send_part(staging, len(parts) + 1, last))
            else:
                last.close()
            staging.complete(parts)
            return
        path = parquet_path
        if segments:
            staged = []
            for segment in range(segments):
                local = os.path.join(workdir, f"staged-{segment}.parquet")
                staging.download_staged(f"segment-{segment}.parquet", local)
                staged.append(local)
            path = os.path.join(workdir, "joined.parquet")
            join_parquet([*staged, parquet_path], path, self.compression)
        self.s3_hook.load_file(path, key=self.s3_key, bucket_name=self.s3_bucket, replace=True)

    def _check_keys(self) -> None:
        """The rendered bucket and keys, checked before any request."""
        for name in ("s3_bucket", "s3_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ApolloArgumentError(f"{name} must be a non-empty string, got {value!r}.")
        if self.s3_key.startswith("s3://"):
            raise ApolloArgumentError(
                f"s3_key must be a key inside s3_bucket, not a URL: got {self.s3_key!r}."
            )
        if self.ids_key is not None:
            if (
                not isinstance(self.ids_key, str)
                or not self.ids_key.strip()
                or self.ids_key.startswith("s3://")
            ):
                raise ApolloArgumentError(
                    f"ids_key must be a key inside s3_bucket (or None), got {self.ids_key!r}."
                )
            if self.ids_key == self.s3_key:
                raise ApolloArgumentError(f"ids_key must differ from s3_key, got {self.ids_key!r} for both.")

    def _check_total(self, total: int) -> None:
        """With ``push_contact_ids``: the search's total, from its first page, within ``max_returned_ids``."""
        if self.max_returned_ids is None or total <= self.max_returned_ids:
            return
        raise ApolloArgumentError(
            f"push_contact_ids=True returns every exported id, and the search matches {total:,} contacts, "
            f"more than max_returned_ids={self.max_returned_ids:,}. The export stopped after the first "
            f"search page; nothing was uploaded. {RETURNED_IDS_ADVICE}"
        )

    def _check_returned_ids(self, count: int) -> None:
        """The ids read so far within the bound (when the total was not known up front: a bounded export)."""
        if self.max_returned_ids is None or count <= self.max_returned_ids:
            return
        raise ApolloArgumentError(
            f"push_contact_ids=True returns every exported id, and the export holds more than "
            f"max_returned_ids={self.max_returned_ids:,} contacts. Nothing was uploaded. {RETURNED_IDS_ADVICE}"
        )

    # ------------------------------------------------------------------ lineage

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """
        OpenLineage datasets: Apollo's contacts in, the S3 object out.

        Returns ``None`` when the OpenLineage provider is not installed.
        """
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        try:
            base_url = self.hook.config.base_url
        except Exception:  # lineage must never fail the task: fall back to Apollo's public host
            base_url = "https://api.apollo.io"
        host = urlsplit(base_url).netloc or "api.apollo.io"
        return OperatorLineage(
            inputs=[Dataset(namespace=f"apollo://{host}", name=LINEAGE_INPUT_NAME)],
            outputs=[Dataset(namespace=f"s3://{self.s3_bucket}", name=self.s3_key)],
        )


def send_part(staging: MultipartUpload, number: int, body: FileRange) -> list[Any]:
    """
    Upload one part from a stream and close it; its ``[number, etag]``.

    Through the client: ``MultipartUpload.upload_part`` takes bytes, which would hold the part
    (8 MiB) in memory, where boto3 reads a stream in chunks as it checksums and sends it.
    """
    with body:
        answer = staging.client.upload_part(
            Bucket=staging.bucket, Key=staging.key, UploadId=staging.upload_id, PartNumber=number, Body=body
        )
    return [number, str(answer["ETag"])]
