"""The warehouse transfers' streaming readers (transfers/_readers.py): records numbered from 1, resumable."""

from __future__ import annotations

import gzip
import io

from airflow_provider_apollo.transfers._readers import BadRecord, open_records, ranged_reader


def test_readers_number_records_from_one_skip_headers_and_blank_lines_and_resume() -> None:
    data = b'email,first_name\n\na@x.example,A\nb@x.example\n"c@x.example","C, the third"\n'
    records = open_records(io.BytesIO(gzip.compress(data)), "csv", "gzip")
    assert records.columns == ["email", "first_name"]
    rows = list(records.iterate(1))
    assert rows[0][0] == 2 and isinstance(rows[0][1], BadRecord)
    assert rows[1] == (3, {"email": "c@x.example", "first_name": "C, the third"})
    lines = open_records(io.BytesIO(b'{"a": 1}\n\n{"a": 2}\n'), "jsonl", None)
    assert list(lines.iterate(0)) == [(1, {"a": 1}), (2, {"a": 2})]


def test_parquet_is_read_by_ranges_and_whole_row_groups_are_skipped_on_resume() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"n": list(range(1, 251))}), sink, row_group_size=100)
    blob = sink.getvalue()
    fetched: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        fetched.append((start, end))
        return blob[start : end + 1]

    records = open_records(io.BytesIO(b""), "parquet", None, seekable=ranged_reader(len(blob), fetch))
    rows = list(records.iterate(205))
    assert rows[0] == (206, {"n": 206}) and rows[-1] == (250, {"n": 250}) and len(rows) == 45
    assert fetched and all(end < len(blob) for _, end in fetched)
