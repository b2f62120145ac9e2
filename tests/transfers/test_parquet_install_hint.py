"""Without pyarrow, reading and writing Parquet both fail with the ``parquet`` extra's install command."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers._readers import open_records, parquet_records
from airflow_provider_apollo.transfers._writers import PARQUET_EXTRA_HINT, open_writer
from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator

INSTALL_HINT = "pip install 'airflow-provider-apollo[parquet]'"


@pytest.fixture
def without_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import pyarrow` raise ImportError, as on a machine without it.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)


def test_the_hint_is_the_parquet_extras_install_command() -> None:
    assert PARQUET_EXTRA_HINT == INSTALL_HINT


@pytest.mark.usefixtures("without_pyarrow")
def test_writing_parquet_without_pyarrow_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(ImportError) as raised:
        open_writer(str(tmp_path / "contacts.parquet"), "parquet", None)
    assert str(raised.value) == f"file_format='parquet' needs pyarrow, which is not installed: {INSTALL_HINT}"
    assert not (tmp_path / "contacts.parquet").exists()


@pytest.mark.usefixtures("without_pyarrow")
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_reading_parquet_without_pyarrow_names_the_extra(compression: str | None) -> None:
    body = b"PAR1 not read"
    stream = io.BytesIO(gzip.compress(body) if compression else body)
    with pytest.raises(ImportError) as raised:
        open_records(stream, "parquet", compression)
    assert str(raised.value) == f"file_format='parquet' needs pyarrow, which is not installed: {INSTALL_HINT}"
    # Checked before anything is read: a gzip file is not inflated to disk first.
    assert stream.tell() == 0


@pytest.mark.usefixtures("without_pyarrow")
def test_reading_a_seekable_parquet_file_without_pyarrow_names_the_extra() -> None:
    with pytest.raises(ImportError, match=r"pip install 'airflow-provider-apollo\[parquet\]'"):
        parquet_records(io.BytesIO(b"PAR1 not read"))


@pytest.mark.parametrize("key", ["leads.parquet", "leads.parquet.gz"])
def test_upserting_a_parquet_file_without_pyarrow_names_the_extra_before_anything_is_sent(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    without_pyarrow: None,
    key: str,
) -> None:
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"PAR1 not read")
    upsert = S3ToApolloOperator(task_id="upsert", s3_bucket=s3_bucket, s3_key=key)
    with pytest.raises(ImportError, match=r"pip install 'airflow-provider-apollo\[parquet\]'"):
        upsert.execute(context)
    assert apollo_connection.request_count() == 0


@pytest.mark.usefixtures("without_pyarrow")
def test_text_formats_need_no_pyarrow() -> None:
    records = open_records(io.BytesIO(b'{"email": "a@example.com"}\n'), "jsonl", None)
    assert list(records.iterate(0)) == [(1, {"email": "a@example.com"})]
