"""Streaming readers for warehouse extracts: JSON lines, CSV and Parquet, plain or gzip, one record at a time.

Records are numbered from 1 in the order the source holds them (a CSV header and blank lines are
not records); a record that cannot be read comes out as a :class:`BadRecord` with its number, so
it lands in the rejects file instead of stopping the job. Nothing here holds the whole file: text
formats are read line by line from the stream, Parquet one record batch at a time through ranged
reads (a gzip-compressed Parquet file, which cannot be read from its end, is first inflated into
a temporary file on disk).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from airflow_provider_apollo.exceptions import ApolloArgumentError

# The writer's check: one install hint for reading and writing Parquet (the ``parquet`` extra).
from airflow_provider_apollo.transfers._writers import require_pyarrow

FORMAT_JSONL = "jsonl"
FORMAT_CSV = "csv"
FORMAT_PARQUET = "parquet"
FILE_FORMATS = (FORMAT_JSONL, FORMAT_CSV, FORMAT_PARQUET)
COMPRESSION_GZIP = "gzip"
COMPRESSION_INFER = "infer"
# The upsert's ``compression`` argument: read it from the key's suffix, gzip, or none.
READ_COMPRESSIONS = (COMPRESSION_INFER, COMPRESSION_GZIP, None)
SUFFIXES = {
    ".jsonl": FORMAT_JSONL,
    ".ndjson": FORMAT_JSONL,
    ".json": FORMAT_JSONL,
    ".csv": FORMAT_CSV,
    ".parquet": FORMAT_PARQUET,
    ".pq": FORMAT_PARQUET,
}
# Parquet rows decoded at a time: a few MiB of Python objects at most for contact-sized rows.
PARQUET_BATCH_ROWS = 1_000
# Ranged reads of a Parquet object are buffered this much (each buffer fill is one GET).
RANGE_BUFFER_BYTES = 1 << 20
# A CSV cell may be long (free-text notes); the csv module's default cap is 128 KiB.
CSV_FIELD_LIMIT = 16 << 20


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read: the text as found, and why."""

    raw: Any
    reason: str


def check_file_format(file_format: Any, key: str) -> str:
    """The format given, or the one the key's suffix names (``leads.csv.gz`` is CSV)."""
    if file_format is None:
        name = key.lower().removesuffix(".gz").removesuffix(".gzip")
        for suffix, inferred in SUFFIXES.items():
            if name.endswith(suffix):
                return inferred
        raise ApolloArgumentError(
            f"file_format: cannot tell the format of {key!r} from its name; pass file_format= one of "
            f"{', '.join(FILE_FORMATS)}."
        )
    if file_format not in FILE_FORMATS:
        raise ApolloArgumentError(
            f"file_format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}."
        )
    return str(file_format)


def check_compression(compression: Any, key: str) -> str | None:
    """``gzip`` or None; ``infer`` reads it from the key (``.gz``)."""
    if compression not in READ_COMPRESSIONS:
        raise ApolloArgumentError(f"compression must be 'infer', 'gzip' or None, got {compression!r}.")
    if compression == COMPRESSION_INFER:
        return COMPRESSION_GZIP if key.lower().endswith((".gz", ".gzip")) else None
    return compression


class Records:
    """
    A source's records: ``columns`` (None for JSON lines, whose keys vary by record) and
    ``iterate(skip)``, which yields ``(row, record)`` from record ``skip + 1`` on.
    """

    def __init__(
        self, columns: list[str] | None, iterate: Callable[[int], Iterator[tuple[int, Any]]]
    ) -> None:
        self.columns = columns
        self.iterate = iterate


def json_lines(stream: IO[bytes]) -> Records:
    def iterate(skip: int) -> Iterator[tuple[int, Any]]:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None)
        row = 0
        for line in text:
            if not line.strip():
                continue
            row += 1
            if row <= skip:
                continue  # already settled: not even parsed
            try:
                record = json.loads(line)
            except ValueError as error:
                yield row, BadRecord(line.rstrip("\n"), f"not valid JSON: {error}")
                continue
            if not isinstance(record, dict):
                yield row, BadRecord(record, "a JSON line must hold an object of column: value")
                continue
            yield row, record

    return Records(None, iterate)


def csv_records(stream: IO[bytes]) -> Records:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    header: list[str] | None = None
    for cells in reader:
        if any(cell.strip() for cell in cells):
            header = [cell.strip() for cell in cells]
            break
    if header is None:
        return Records([], lambda skip: iter(()))
    columns = header

    def iterate(skip: int) -> Iterator[tuple[int, Any]]:
        row = 0
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row += 1
            if row <= skip:
                continue
            if len(cells) != len(columns):
                yield (
                    row,
                    BadRecord(
                        dict(zip(columns, cells, strict=False))
                        | ({"_extra": cells[len(columns) :]} if len(cells) > len(columns) else {}),
                        f"{len(cells)} values for the {len(columns)} columns of the header",
                    ),
                )
                continue
            yield row, dict(zip(columns, cells, strict=False))

    return Records(columns, iterate)


def parquet_records(source: IO[bytes]) -> Records:
    """Parquet from a seekable file: one record batch at a time; whole row groups skipped on resume."""
    require_pyarrow()
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source)
    columns = list(parquet.schema_arrow.names)

    def iterate(skip: int) -> Iterator[tuple[int, Any]]:
        groups: list[int] = []
        row = 0
        for group in range(parquet.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            if row + size <= skip:
                row += size  # the whole group is settled: never read
                continue
            groups.append(group)
        if not groups:
            return
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=groups):
            for record in batch.to_pylist():
                row += 1
                if row > skip:
                    yield row, record

    return Records(columns, iterate)


def open_records(
    stream: IO[bytes],
    file_format: str,
    compression: str | None,
    *,
    seekable: IO[bytes] | None = None,
    spool_dir: str | None = None,
) -> Records:
    """
    The records of ``stream`` in ``file_format``. Parquet reads ``seekable`` (ranged reads of the
    object) when given and the file is not compressed; otherwise it inflates ``stream`` into a
    temporary file first.
    """
    if file_format == FORMAT_PARQUET:
        require_pyarrow()  # before a compressed file is inflated to disk for nothing
    if compression == COMPRESSION_GZIP:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    if file_format == FORMAT_JSONL:
        return json_lines(stream)
    if file_format == FORMAT_CSV:
        return csv_records(stream)
    if seekable is not None and compression is None:
        return parquet_records(seekable)
    spooled = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 - closed with the process's files
    shutil.copyfileobj(stream, spooled, 1 << 20)
    spooled.seek(0)
    return parquet_records(spooled)


class RangedFile(io.RawIOBase):
    """
    A read-only, seekable file over an object read by byte ranges (``fetch(start, end)``, end
    inclusive): what Parquet needs (its footer is at the end) without downloading the object.
    """

    def __init__(self, size: int, fetch: Callable[[int, int], bytes]) -> None:
        super().__init__()
        self.size = size
        self._fetch = fetch
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._position >= self.size or not len(view):
            return 0
        end = min(self.size, self._position + len(view)) - 1
        data = self._fetch(self._position, end)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


def ranged_reader(size: int, fetch: Callable[[int, int], bytes]) -> io.BufferedReader:
    return io.BufferedReader(RangedFile(size, fetch), buffer_size=RANGE_BUFFER_BYTES)
