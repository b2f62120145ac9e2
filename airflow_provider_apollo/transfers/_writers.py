"""Streaming file writers for contact exports: JSON lines, CSV and Parquet, optionally gzip-compressed.

Each writer takes contacts a page at a time and keeps at most one Parquet row group in memory, so
an export's memory does not grow with its size. JSON lines and CSV go to a :class:`PartSpool`, a
local file that hands its bytes back in multipart-upload parts.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from typing import IO, Any

FORMAT_JSONL = "jsonl"
FORMAT_CSV = "csv"
FORMAT_PARQUET = "parquet"
FILE_FORMATS = (FORMAT_JSONL, FORMAT_CSV, FORMAT_PARQUET)
COMPRESSION_GZIP = "gzip"
# The export's ``compression`` argument: none, or gzip (Parquet's own codec for Parquet).
WRITE_COMPRESSIONS = (None, COMPRESSION_GZIP)

PARQUET_EXTRA_HINT = "pip install 'airflow-provider-apollo[parquet]'"
# Rows per Parquet row group: large enough for good column compression, small enough (~10 MB of
# buffered Python values for Apollo's contacts) to keep memory flat.
PARQUET_ROW_GROUP_SIZE = 5_000
# gzip level 6 (zlib's default) compresses JSON nearly as well as 9 at a fraction of the CPU.
GZIP_LEVEL = 6
WRITE_BUFFER_BYTES = 1 << 20

# Column kinds: a flat string, a boolean, or a nested value (list or dict) stored as JSON text.
KIND_STRING = "string"
KIND_BOOL = "bool"
KIND_JSON = "json"

# The CSV and Parquet column set, in order: fixed, so files from different runs line up whatever
# fields Apollo adds or omits. Fields not listed are kept only by the ``jsonl`` format.
# [START export_csv_columns]
CONTACT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", KIND_STRING),
    ("first_name", KIND_STRING),
    ("last_name", KIND_STRING),
    ("name", KIND_STRING),
    ("title", KIND_STRING),
    ("headline", KIND_STRING),
    ("email", KIND_STRING),
    ("email_status", KIND_STRING),
    ("email_unsubscribed", KIND_BOOL),
    ("organization_name", KIND_STRING),
    ("organization_id", KIND_STRING),
    ("account_id", KIND_STRING),
    ("contact_stage_id", KIND_STRING),
    ("owner_id", KIND_STRING),
    ("creator_id", KIND_STRING),
    ("person_id", KIND_STRING),
    ("linkedin_url", KIND_STRING),
    ("twitter_url", KIND_STRING),
    ("present_raw_address", KIND_STRING),
    ("city", KIND_STRING),
    ("state", KIND_STRING),
    ("country", KIND_STRING),
    ("time_zone", KIND_STRING),
    ("sanitized_phone", KIND_STRING),
    ("source", KIND_STRING),
    ("original_source", KIND_STRING),
    ("salesforce_id", KIND_STRING),
    ("hubspot_vid", KIND_STRING),
    ("crm_id", KIND_STRING),
    ("created_at", KIND_STRING),
    ("updated_at", KIND_STRING),
    ("last_activity_date", KIND_STRING),
    ("label_ids", KIND_JSON),
    ("phone_numbers", KIND_JSON),
    ("contact_emails", KIND_JSON),
    ("emailer_campaign_ids", KIND_JSON),
    ("contact_campaign_statuses", KIND_JSON),
    ("typed_custom_fields", KIND_JSON),
)
# [END export_csv_columns]
CONTACT_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in CONTACT_COLUMNS)


def flat_value(value: Any, kind: str) -> Any:
    """One contact field as a CSV/Parquet cell: nested values JSON-encoded, scalars as strings."""
    if value is None:
        return None
    if kind == KIND_JSON:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if kind == KIND_BOOL:
        return bool(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return value if isinstance(value, str) else str(value)


def flat_row(contact: dict[str, Any]) -> list[Any]:
    return [flat_value(contact.get(name), kind) for name, kind in CONTACT_COLUMNS]


def require_pyarrow() -> None:
    """Fail with the install command when the ``parquet`` extra is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError(
            f"file_format='parquet' needs pyarrow, which is not installed: {PARQUET_EXTRA_HINT}"
        ) from None


class ContactWriter:
    """Writes pages of contacts to a local file; ``close()`` flushes and finishes the file."""

    def write(self, contacts: Iterable[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> ContactWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Where a writer writes: a local path, or a binary stream it does not own (an S3 part stream).
Target = str | IO[bytes]


def _open_text(target: Target, compression: str | None) -> IO[str]:
    # The writer owns the handle and closes it in close(): no context manager here. Closing a
    # wrapper around a stream ends the text (and the gzip member: a resumed export appends another
    # member, which gzip readers join) but leaves the stream open.
    if isinstance(target, str):
        if compression == COMPRESSION_GZIP:
            return gzip.open(target, "wt", encoding="utf-8", newline="", compresslevel=GZIP_LEVEL)  # noqa: SIM115
        return open(target, "w", encoding="utf-8", newline="", buffering=WRITE_BUFFER_BYTES)  # noqa: SIM115
    raw: IO[bytes] = target
    if compression == COMPRESSION_GZIP:
        raw = gzip.GzipFile(fileobj=target, mode="wb", compresslevel=GZIP_LEVEL)  # type: ignore[assignment]
    buffered = io.BufferedWriter(raw, buffer_size=WRITE_BUFFER_BYTES)  # type: ignore[arg-type]
    return io.TextIOWrapper(buffered, encoding="utf-8", newline="")


class JsonLinesWriter(ContactWriter):
    """One contact object a line, exactly as Apollo returned it."""

    def __init__(self, path: Target, compression: str | None, header: bool = True) -> None:
        self._file = _open_text(path, compression)

    def write(self, contacts: Iterable[dict[str, Any]]) -> None:
        self._file.write("".join(json.dumps(contact, ensure_ascii=False) + "\n" for contact in contacts))

    def close(self) -> None:
        self._file.close()


class CsvWriter(ContactWriter):
    """A header row of :data:`CONTACT_COLUMN_NAMES` (not when ``header`` is off: a resumed export), then one row a contact."""

    def __init__(self, path: Target, compression: str | None, header: bool = True) -> None:
        self._file = _open_text(path, compression)
        self._csv = csv.writer(self._file)
        if header:
            self._csv.writerow(CONTACT_COLUMN_NAMES)

    def write(self, contacts: Iterable[dict[str, Any]]) -> None:
        self._csv.writerows(flat_row(contact) for contact in contacts)

    def close(self) -> None:
        self._file.close()


def parquet_schema() -> Any:
    import pyarrow as pa

    types = {KIND_STRING: pa.string(), KIND_BOOL: pa.bool_(), KIND_JSON: pa.string()}
    return pa.schema([pa.field(name, types[kind], nullable=True) for name, kind in CONTACT_COLUMNS])


class ParquetContactWriter(ContactWriter):
    """
    :data:`CONTACT_COLUMNS` as a fixed Parquet schema, one row group per ``row_group_size`` contacts.

    ``compression="gzip"`` selects Parquet's own gzip codec (the file stays a Parquet file);
    otherwise columns are Snappy-compressed.
    """

    def __init__(self, path: str, compression: str | None, row_group_size: int | None = None) -> None:
        import pyarrow.parquet as pq

        self._schema = parquet_schema()
        self._writer = pq.ParquetWriter(
            path, self._schema, compression="gzip" if compression == COMPRESSION_GZIP else "snappy"
        )
        self._row_group_size = row_group_size or PARQUET_ROW_GROUP_SIZE
        self._columns: list[list[Any]] = [[] for _ in CONTACT_COLUMNS]
        self._buffered = 0

    def write(self, contacts: Iterable[dict[str, Any]]) -> None:
        for contact in contacts:
            for column, (name, kind) in zip(self._columns, CONTACT_COLUMNS, strict=True):
                column.append(flat_value(contact.get(name), kind))
            self._buffered += 1
            if self._buffered >= self._row_group_size:
                self._flush()

    def _flush(self) -> None:
        if not self._buffered:
            return
        import pyarrow as pa

        self._writer.write_table(pa.Table.from_arrays(self._columns, schema=self._schema))
        self._columns = [[] for _ in CONTACT_COLUMNS]
        self._buffered = 0

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self._writer.close()


class PartSpool(io.RawIOBase):
    """
    A write-only binary stream that keeps an export's bytes in a local file until they are uploaded.

    Writing costs a buffered file write, whatever the export's size. The bytes then go back out
    as the parts of a multipart upload: :meth:`part` is a stream over one part, read from the file
    as it is sent (no part is held in memory), and :meth:`remainder` the bytes after the last
    whole part (staged at a quota stop). ``initial`` bytes (a resumed export's staged tail) come
    first. :meth:`close` does nothing, so a text or gzip wrapper can be closed (ending its stream)
    without ending this one; :meth:`discard` closes the file.
    """

    def __init__(self, path: str, *, initial: bytes = b"") -> None:
        super().__init__()
        self._path = path
        self._file = open(path, "w+b")  # noqa: SIM115 - kept open across writes; closed by discard()
        self._file.write(initial)
        self._size = len(initial)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def write(self, data: Any) -> int:
        written = self._file.write(data)
        self._size += written
        return written

    def close(self) -> None:
        """Closing a wrapper must not end the spool: see :meth:`discard`."""

    def whole_parts(self, part_size: int) -> int:
        """How many whole parts of ``part_size`` bytes the spool holds."""
        return self._size // part_size

    def part(self, index: int, part_size: int) -> FileRange:
        """Part ``index`` (from 0) as a stream: ``part_size`` bytes, or what is left after the whole parts."""
        self._file.flush()
        start = index * part_size
        return FileRange(self._path, start, max(0, min(part_size, self._size - start)))

    def remainder(self, part_size: int) -> bytes:
        """The bytes after the last whole part of ``part_size`` (fewer than ``part_size``)."""
        with self.part(self.whole_parts(part_size), part_size) as rest:
            return rest.read()

    def discard(self) -> None:
        self._file.close()


class FileRange(io.RawIOBase):
    """
    Bytes ``[start, start + size)`` of a file as a seekable read-only stream (what boto3 takes as a
    part's body: it reads it in chunks to checksum and send it, and seeks back to retry).
    """

    def __init__(self, path: str, start: int, size: int) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the stream
        self._start = start
        self._size = size
        self._position = 0
        self._file.seek(start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, min(self._size, base + offset))
        self._file.seek(self._start + self._position)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        data = self._file.read(wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


class IdsWriter:
    """
    The exported ids, one a line, to a local file (the export's ids object); no file when ``path`` is None.

    Written as pages arrive, so the ids never sit in memory whatever the size of the export.
    """

    def __init__(self, path: str | None) -> None:
        self._file = None if path is None else _open_text(path, None)

    def write(self, contact_ids: Iterable[str]) -> None:
        if self._file is not None:
            self._file.write("".join(contact_id + "\n" for contact_id in contact_ids))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> IdsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_writer(
    path: Target, file_format: str, compression: str | None, *, header: bool = True
) -> ContactWriter:
    """
    A writer for ``file_format`` (``jsonl``, ``csv`` or ``parquet``) at ``path`` (a local path, or
    a binary stream for JSON lines and CSV); ``header=False`` continues a CSV without its header.
    """
    if file_format == FORMAT_JSONL:
        return JsonLinesWriter(path, compression)
    if file_format == FORMAT_CSV:
        return CsvWriter(path, compression, header=header)
    if file_format == FORMAT_PARQUET:
        require_pyarrow()
        if not isinstance(path, str):
            raise ValueError("Parquet is written to a local file: its footer comes last.")
        return ParquetContactWriter(path, compression)
    raise ValueError(f"file_format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}.")


def join_parquet(paths: list[str], target: str, compression: str | None) -> int:
    """
    Write the row groups of several Parquet files (an export's segments) into one, in order, one
    row group in memory at a time; returns the rows written.
    """
    import pyarrow.parquet as pq

    rows = 0
    with pq.ParquetWriter(
        target, parquet_schema(), compression="gzip" if compression == COMPRESSION_GZIP else "snappy"
    ) as writer:
        for path in paths:
            source = pq.ParquetFile(path)
            for index in range(source.num_row_groups):
                table = source.read_row_group(index)
                writer.write_table(table)
                rows += table.num_rows
    return rows
