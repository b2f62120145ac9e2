"""ApolloSearchToS3Operator: stream every contact of an Apollo search into one S3 object, complete or not at all."""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pendulum
from airflow.providers.common.compat.sdk import AirflowException, BaseOperator, Context

from airflow_provider_apollo.core import SEARCH_PER_PAGE_MAX, SEARCH_RESULT_CAP, check_int_range
from airflow_provider_apollo.exceptions import ApolloSearchCapError
from airflow_provider_apollo.hooks.apollo import MAX_SEARCH_CONCURRENCY, ApolloHook, SearchPage
from airflow_provider_apollo.transfers._writers import (
    COMPRESSIONS,
    CONTACT_COLUMN_NAMES,
    FILE_FORMATS,
    FORMAT_PARQUET,
    open_writer,
    require_pyarrow,
)

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

__all__ = ["CONTACT_COLUMN_NAMES", "ApolloSearchToS3Operator"]

UPDATED_SORT_FIELD = "contact_updated_at"
CREATED_SORT_FIELD = "contact_created_at"
# Parts uploaded at once by boto's managed transfer. Its default of 10 holds ~25 MiB of buffers for
# a 100 MB file; 4 keeps that near 10 MiB and still fills a worker's uplink. The connection's
# ``service_config.s3.transfer_config_args`` overrides it.
UPLOAD_MAX_CONCURRENCY = 4
# Input dataset name in lineage: the records this operator reads.
LINEAGE_INPUT_NAME = "contacts"


@dataclass
class _Slice:
    """One search the export runs: the filters, and a name for logs and errors."""

    label: str
    filters: dict[str, Any]


class _WatermarkNotReached(Exception):
    """An incremental read used up the 50,000-record cap before reaching ``updated_since``."""

    def __init__(self, total_entries: int) -> None:
        super().__init__(total_entries)
        self.total_entries = total_entries


class ApolloSearchToS3Operator(BaseOperator):
    """
    Export every contact an Apollo search matches to one S3 object (JSON lines, CSV or Parquet).

    Contacts stream page by page into a local temporary file, which is uploaded once with
    ``S3Hook.load_file`` when the export is complete: a failure part-way leaves no object at the key,
    and the temporary file is always removed. Memory stays flat whatever the size of the export;
    the one per-contact cost is the set of ids seen (about 100 bytes a contact), which removes
    duplicates when records shift between pages and doubles as the XCom return value.

    A search matching more than Apollo's 50,000-record cap is split by contact stage (one search a
    stage) so every contact is exported; if one stage still exceeds the cap, the task fails before
    anything is uploaded and says how to narrow the search.

    :param s3_bucket: destination bucket (templated).
    :param s3_key: destination key (templated); end it in ``.gz`` with ``compression="gzip"``.
    :param search: Apollo search filters (``q_keywords``, ``contact_stage_ids``, ``contact_label_ids``,
        ``sort_by_field`` ...) (templated).
    :param file_format: ``"jsonl"`` (each contact exactly as Apollo returns it), ``"csv"`` or
        ``"parquet"`` (the fixed column set :data:`CONTACT_COLUMN_NAMES`; Parquet needs the
        ``parquet`` extra).
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
    :param push_contact_ids: return the exported ids as the XCom value; ``False`` returns ``None``
        (50,000 ids take about 1.3 MB in the metadata database).
    :param concurrency: search pages fetched at once (1 to 8).
    :param log_every_pages: log progress every this many pages.
    :param slice_by_stage: split a search above the 50,000 cap by contact stage; ``False`` fails instead.
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_key", "search", "updated_since")
    template_fields_renderers = {"search": "json"}
    ui_color = "#4f46e5"

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_key: str,
        search: dict[str, Any] | None = None,
        file_format: str = "jsonl",
        aws_conn_id: str | None = "aws_default",
        replace: bool = True,
        max_records: int | None = None,
        apollo_conn_id: str = ApolloHook.default_conn_name,
        compression: str | None = None,
        updated_since: str | datetime.datetime | None = None,
        push_contact_ids: bool = True,
        concurrency: int = 1,
        log_every_pages: int = 50,
        slice_by_stage: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if file_format not in FILE_FORMATS:
            raise ValueError(f"file_format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}.")
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be None or 'gzip', got {compression!r}.")
        if max_records is not None and (
            isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 0
        ):
            raise ValueError(f"max_records must be a non-negative integer or None, got {max_records!r}.")
        check_int_range(concurrency, "concurrency", 1, MAX_SEARCH_CONCURRENCY)
        if isinstance(log_every_pages, bool) or not isinstance(log_every_pages, int) or log_every_pages < 1:
            raise ValueError(f"log_every_pages must be a positive integer, got {log_every_pages!r}.")
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.search = search
        self.file_format = file_format
        self.aws_conn_id = aws_conn_id
        self.replace = replace
        self.max_records = max_records
        self.apollo_conn_id = apollo_conn_id
        self.compression = compression
        self.updated_since = updated_since
        self.push_contact_ids = push_contact_ids
        self.concurrency = concurrency
        self.log_every_pages = log_every_pages
        self.slice_by_stage = slice_by_stage

    @cached_property
    def hook(self) -> ApolloHook:
        return ApolloHook(apollo_conn_id=self.apollo_conn_id)

    @cached_property
    def s3_hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(
            aws_conn_id=self.aws_conn_id, transfer_config_args={"max_concurrency": UPLOAD_MAX_CONCURRENCY}
        )

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.s3_bucket}/{self.s3_key}"

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> list[str] | None:
        filters, watermark = self._checked_arguments()
        if self.file_format == FORMAT_PARQUET:
            require_pyarrow()
        if not self.replace and self.s3_hook.check_for_key(self.s3_key, self.s3_bucket):
            raise AirflowException(
                f"{self.s3_uri} already exists and replace=False: delete it, choose another s3_key "
                "(e.g. one containing {{ ds }}), or pass replace=True."
            )
        # The ids seen so far, in export order: the duplicate filter across pages and stage slices,
        # and the XCom value. A dict is an insertion-ordered set at the same ~100 bytes an entry.
        self._seen: dict[str, None] = {}
        self._written = 0
        self._pages_read = 0
        self._started = time.monotonic()
        # Phase timings, for the log and the benchmark.
        self.read_seconds = self.upload_seconds = 0.0
        with tempfile.TemporaryDirectory(prefix="apollo-export-") as workdir:
            path = os.path.join(workdir, "contacts." + self.file_format)
            with open_writer(path, self.file_format, self.compression) as writer:
                self._export(filters, watermark, writer)
            self.read_seconds = elapsed = time.monotonic() - self._started
            size = os.path.getsize(path)
            self.log.info(
                "Read %d contacts (%d pages, %d Apollo requests) in %.1f s; uploading %s bytes to %s",
                self._written,
                self._pages_read,
                self.hook.request_count,
                elapsed,
                f"{size:,}",
                self.s3_uri,
            )
            # One upload of a finished file: S3 shows an object only once its PUT (or multipart
            # upload) completes, so readers never see a partial export.
            uploading = time.monotonic()
            self.s3_hook.load_file(path, key=self.s3_key, bucket_name=self.s3_bucket, replace=self.replace)
            self.upload_seconds = time.monotonic() - uploading
        self.log.info(
            "Exported %d contacts to %s (upload %.1f s)", self._written, self.s3_uri, self.upload_seconds
        )
        ti = context["ti"]
        ti.xcom_push(key="s3_uri", value=self.s3_uri)
        ti.xcom_push(key="record_count", value=self._written)
        return list(self._seen) if self.push_contact_ids else None

    def _checked_arguments(self) -> tuple[dict[str, Any], pendulum.DateTime | None]:
        """The rendered templated arguments, checked before any request."""
        for name in ("s3_bucket", "s3_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}.")
        if self.s3_key.startswith("s3://"):
            raise ValueError(f"s3_key must be a key inside s3_bucket, not a URL: got {self.s3_key!r}.")
        search = self.search
        if search is None or search == "":
            search = {}
        if not isinstance(search, dict):
            raise ValueError(f"search must be a dict of Apollo search filters or None, got {search!r}.")
        filters = dict(search)
        watermark = parse_updated_since(self.updated_since)
        if watermark is not None:
            sort = filters.get("sort_by_field")
            if sort not in (None, UPDATED_SORT_FIELD) or filters.get("sort_ascending") not in (None, False):
                raise ValueError(
                    "updated_since reads contacts newest-updated first, so search must not set "
                    f"sort_by_field (other than {UPDATED_SORT_FIELD!r}) or sort_ascending=True; "
                    f"got sort_by_field={sort!r}, sort_ascending={filters.get('sort_ascending')!r}."
                )
            filters["sort_by_field"] = UPDATED_SORT_FIELD
            filters["sort_ascending"] = False
        elif "sort_by_field" not in filters:
            # Oldest first by creation time, which never changes: contacts created during the
            # export land after the pages read, and no contact jumps backwards past the reader.
            filters["sort_by_field"] = CREATED_SORT_FIELD
            filters["sort_ascending"] = True
        return filters, watermark

    def _export(self, filters: dict[str, Any], watermark: pendulum.DateTime | None, writer: Any) -> None:
        whole = _Slice("the search", filters)
        try:
            self._read_slice(whole, watermark, writer)
            return
        except ApolloSearchCapError as error:
            # Raised by the hook before its first record: nothing of this search was written.
            if not self.slice_by_stage:
                raise ApolloSearchCapError(
                    f"{error} (slice_by_stage=False, so the operator does not split it.)",
                    total_entries=error.total_entries,
                    cap=error.cap,
                ) from None
            total = error.total_entries
        except _WatermarkNotReached as reached:
            if not self.slice_by_stage:
                raise self._watermark_error(whole, reached.total_entries) from None
            total = reached.total_entries
        slices = self._stage_slices(filters, total, check_cap=watermark is None)
        for stage_slice in slices:
            if self._limit_reached():
                break
            try:
                self._read_slice(stage_slice, watermark, writer)
            except _WatermarkNotReached as reached:
                raise self._watermark_error(stage_slice, reached.total_entries) from None

    def _stage_slices(self, filters: dict[str, Any], total: int, *, check_cap: bool) -> list[_Slice]:
        """
        One search a contact stage; checks that every slice is within the cap and that they add up.

        Every contact has exactly one stage, so the slices' counts add up to the search's total; a
        shortfall (contacts without a stage, or a stage id the user gave that does not exist) would
        lose records, and fails the task instead.
        """
        stages = self.hook.list_contact_stages()
        wanted = filters.get("contact_stage_ids")
        stage_ids = [str(stage["id"]) for stage in stages]
        if wanted:
            wanted_ids = set(wanted) if isinstance(wanted, (list, tuple)) else {wanted}
            stage_ids = [stage_id for stage_id in stage_ids if stage_id in wanted_ids]
        self.log.info(
            "The search matches %s contacts, more than Apollo's %s per query: exporting it in %d "
            "slices, one per contact stage",
            f"{total:,}",
            f"{SEARCH_RESULT_CAP:,}",
            len(stage_ids),
        )
        slices: list[_Slice] = []
        counts: list[tuple[str, int]] = []
        for stage_id in stage_ids:
            name = self.hook.contact_stage_name(stage_id)
            stage_filters = {**filters, "contact_stage_ids": [stage_id]}
            count = self.hook.count_contacts(stage_filters)
            counts.append((name, count))
            if count:
                slices.append(_Slice(f"stage {name!r}", stage_filters))
        too_big = [(name, count) for name, count in counts if count > SEARCH_RESULT_CAP]
        if check_cap and too_big:
            listed = ", ".join(f"{name!r} ({count:,})" for name, count in too_big)
            raise ApolloSearchCapError(
                f"The search matches {total:,} contacts, and even one contact stage at a time some slices "
                f"exceed Apollo's {SEARCH_RESULT_CAP:,}-record cap: {listed}. Nothing was uploaded. "
                "Narrow the search so each stage has at most 50,000 contacts: add contact_label_ids or "
                "q_keywords to `search`, or split the export into several tasks (one per label or "
                "keyword) writing to different keys.",
                total_entries=total,
                cap=SEARCH_RESULT_CAP,
            )
        covered = sum(count for _, count in counts)
        if covered < total:
            raise AirflowException(
                f"The search matches {total:,} contacts but its contact-stage slices cover only "
                f"{covered:,}: {total - covered:,} contacts have no stage or a stage not in "
                f"{self.hook.config.base_url}/contact_stages, and slicing would miss them. Nothing was "
                "uploaded. Narrow the search below 50,000 contacts (contact_label_ids, q_keywords) or "
                "split it into several tasks."
            )
        if covered > total:
            self.log.info(
                "Stage slices count %s contacts against %s for the whole search: contacts were "
                "added while counting; they are exported too",
                f"{covered:,}",
                f"{total:,}",
            )
        return slices

    def _watermark_error(self, search_slice: _Slice, total: int) -> ApolloSearchCapError:
        return ApolloSearchCapError(
            f"Incremental export: {search_slice.label} matches {total:,} contacts and the "
            f"{SEARCH_RESULT_CAP:,} most recently updated were all updated after updated_since="
            f"{self.updated_since!s}, so Apollo's per-query cap hides the rest. Nothing was uploaded. "
            "Run the export more often, or narrow the search (contact_stage_ids, contact_label_ids, "
            "q_keywords) or split it into several tasks."
            + ("" if self.slice_by_stage else " slice_by_stage=True would split it by contact stage."),
            total_entries=total,
            cap=SEARCH_RESULT_CAP,
        )

    def _limit_reached(self) -> bool:
        return self.max_records is not None and self._written >= self.max_records

    def _read_slice(self, search_slice: _Slice, watermark: pendulum.DateTime | None, writer: Any) -> None:
        remaining = None if self.max_records is None else self.max_records - self._written
        # Incremental reads stop early, so the cap only matters if the watermark lies beyond it:
        # read at most the cap and check afterwards instead of refusing the search up front.
        limit = remaining
        if watermark is not None:
            limit = SEARCH_RESULT_CAP if remaining is None else min(remaining, SEARCH_RESULT_CAP)
        pages = self.hook.search_contact_pages(
            search_slice.filters,
            per_page=SEARCH_PER_PAGE_MAX,
            max_records=limit,
            concurrency=self.concurrency,
        )
        last_page: SearchPage | None = None
        try:
            for page in pages:
                last_page = page
                self._pages_read += 1
                fresh, watermark_reached = self._fresh_contacts(page.contacts, watermark)
                if remaining is not None:
                    fresh = fresh[: max(0, self.max_records - self._written)]  # type: ignore[operator]
                if fresh:
                    writer.write(fresh)
                    for contact in fresh:
                        if contact.get("id") is not None:
                            self._seen[contact["id"]] = None
                    self._written += len(fresh)
                if self._pages_read % self.log_every_pages == 0:
                    self._log_progress(search_slice, page)
                if watermark_reached or self._limit_reached():
                    return
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()  # cancels pages still being fetched ahead
        # Every page Apollo serves was read without meeting the watermark: if the search matches
        # more than the cap, the older contacts (possibly still newer than the watermark) are hidden.
        if (
            watermark is not None
            and last_page is not None
            and last_page.total_entries > SEARCH_RESULT_CAP
            and not self._limit_reached()
        ):
            raise _WatermarkNotReached(last_page.total_entries)
        if last_page is not None:
            self.log.info(
                "Finished %s: %d pages; %d contacts exported so far",
                search_slice.label,
                last_page.page,
                self._written,
            )

    def _fresh_contacts(
        self, contacts: list[dict[str, Any]], watermark: pendulum.DateTime | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """The page's contacts not exported yet, cut at the watermark; and whether it was reached."""
        seen = self._seen
        fresh: list[dict[str, Any]] = []
        for contact in contacts:
            if watermark is not None:
                updated_at = parse_timestamp(contact.get("updated_at"))
                if updated_at is not None and updated_at < watermark:
                    return fresh, True
            contact_id = contact.get("id")
            if contact_id is not None and contact_id in seen:
                continue
            fresh.append(contact)
        return fresh, False

    def _log_progress(self, search_slice: _Slice, page: SearchPage) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.log.info(
            "Export progress: %d contacts so far, page %d of %d of %s (%s contacts), %.0f records/s",
            self._written,
            page.page,
            page.total_pages,
            search_slice.label,
            f"{page.total_entries:,}",
            self._written / elapsed,
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


def parse_updated_since(value: Any) -> pendulum.DateTime | None:
    """``updated_since`` as an aware datetime (naive means UTC); ``None`` or ``""`` means a full export."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.datetime):
        return pendulum.instance(value, tz="UTC")
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value.strip(), tz="UTC")
        except Exception:  # pendulum raises its own ParserError, or ValueError
            parsed = None
        if isinstance(parsed, pendulum.DateTime):
            return parsed
    raise ValueError(
        "updated_since must be an ISO 8601 date-time string (e.g. '{{ data_interval_start }}' or "
        f"'2024-05-01T00:00:00+00:00') or a datetime, got {value!r}."
    )


def parse_timestamp(value: Any) -> datetime.datetime | None:
    """An Apollo record timestamp (``2020-08-13T06:56:09.789Z``) as an aware datetime; ``None`` if absent."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = pendulum.parse(value, tz="UTC")  # type: ignore[assignment]
        except Exception:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed
