"""
Support for the warehouse-to-Apollo transfer tests (S3 and SQL): scored-leads extracts with known bad
records mixed in, in every format; S3 helpers; and two fixtures, ``apollo`` (a fresh emulator behind
``apollo_default``) and ``postgres_url`` (a PostgreSQL server for the session).

Not a conftest (tests/transfers/conftest.py serves the export tests): a test module imports the
fixtures it uses by name: ``from warehouse_support import apollo_fixture`` makes the fixture
``apollo`` available to its tests.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_apollo.testing import ApolloEmulator, TaskInstanceStub, run_deferring

# A valid-looking user id that is not one of the emulated team's users: Apollo refuses the batch (422).
UNKNOWN_OWNER_ID = "ffffffffffffffffffffff01"

COLUMN_MAP = {
    "apollo_id": "id",
    "first": "first_name",
    "last": "last_name",
    "email": "email",
    "company": "organization_name",
    "title": "title",
    "score": "custom_fields.Lead score",
    "segment": "custom_fields.Segment",
    "owner": "owner_id",
}
COLUMNS = list(COLUMN_MAP)

# Each bad kind, the reason's words in the rejects file, and whether it costs Apollo calls to find.
BAD_KINDS = {
    "no_email_no_name": "no email and no name",
    "malformed_email": "malformed email",
    "unknown_segment": "is not an option of the picklist field 'Segment'",
    "unknown_owner": "Apollo refused the record (422)",
}


@dataclass
class Extract:
    records: list[dict[str, Any]]
    bad_rows: dict[int, str]  # 1-based row -> the words its reason holds

    @property
    def good(self) -> int:
        return len(self.records) - len(self.bad_rows)


def connect_apollo(monkeypatch: Any, emulator: Any, **extra: object) -> None:
    """Point ``apollo_default`` at ``emulator`` with the given connection extras."""
    connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))


def lead(i: int, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "apollo_id": None,
        "first": f"Lead{i}",
        "last": "Scored",
        "email": f"lead{i}@scored.example",
        "company": f"Company {i % 37}",
        "title": "VP Data",
        "score": i % 100,
        "segment": ("Enterprise", "Mid-Market", "SMB")[i % 3],
        "owner": None,
    }
    record.update(overrides)
    return record


def bad(i: int, kind: str) -> dict[str, Any]:
    if kind == "no_email_no_name":
        return lead(i, first=None, last=None, email=None)
    if kind == "malformed_email":
        return lead(i, email=f"lead{i}-at-scored.example")
    if kind == "unknown_segment":
        return lead(i, segment="Galactic")
    if kind == "unknown_owner":
        return lead(i, owner=UNKNOWN_OWNER_ID)
    raise ValueError(kind)


def extract(count: int, *, bad_every: int = 0, start: int = 0, refused: bool = True) -> Extract:
    """
    ``count`` leads; every ``bad_every``-th one bad, cycling through the bad kinds (without the
    one only Apollo refuses when ``refused`` is False).
    """
    records: list[dict[str, Any]] = []
    bad_rows: dict[int, str] = {}
    kinds = [kind for kind in BAD_KINDS if refused or kind != "unknown_owner"]
    for n in range(count):
        i = start + n
        row = n + 1
        if bad_every and row % bad_every == 0:
            kind = kinds[(row // bad_every) % len(kinds)]
            records.append(bad(i, kind))
            bad_rows[row] = BAD_KINDS[kind]
        else:
            records.append(lead(i))
    return Extract(records, bad_rows)


def encode(records: list[dict[str, Any]], file_format: str, *, gzip_it: bool = False) -> bytes:
    if file_format == "jsonl":
        data = "".join(
            json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in records
        ).encode()
    elif file_format == "csv":
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
        data = text.getvalue().encode()
    elif file_format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(name, pa.int64() if name == "score" else pa.string()) for name in COLUMNS])
        table = pa.Table.from_pylist(records, schema=schema)
        sink = io.BytesIO()
        pq.write_table(table, sink, row_group_size=64)
        data = sink.getvalue()
    else:
        raise ValueError(file_format)
    return gzip.compress(data) if gzip_it else data


def put(endpoint: str, bucket: str, key: str, data: bytes) -> None:
    s3(endpoint).put_object(Bucket=bucket, Key=key, Body=data)


def s3(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def read_lines(endpoint: str, bucket: str, key: str) -> list[Any]:
    body = s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) if line.startswith("{") else line for line in body.splitlines()]


def keys(endpoint: str, bucket: str) -> list[str]:
    answer = s3(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def TaskInstance() -> TaskInstanceStub:  # noqa: N802 - reads as the class it stands for
    return TaskInstanceStub("upsert")


def run_with_deferrals(operator: Any, context: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``operator`` as Airflow does; its value and each deferral's trigger kwargs."""
    run = run_deferring(operator, context)
    return run.value, run.deferrals


def status_count(emulator: Any, path: str, status: int) -> int:
    return sum(1 for r in emulator.requests if r.path.endswith(path) and r.status == status)


# ------------------------------------------------------------------ fixtures

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@pytest.fixture(name="apollo")
def apollo_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """A fresh emulator behind ``apollo_default`` (no quota; failures are not retried for long)."""
    with ApolloEmulator() as emulator:
        connect_apollo(monkeypatch, emulator, max_retries=1, max_retry_wait=0.2)
        yield emulator


def _pg_tool(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", name="postgres_url")
def postgres_url_fixture() -> Iterator[str]:
    """
    A PostgreSQL server of its own for the session: ``initdb`` into a temporary directory, started on
    a free loopback port (as the ``postgres`` user when the tests run as root, which PostgreSQL
    refuses), stopped at the end. ``make postgres`` installs the server from Debian's packages.
    """
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed: run `make postgres` (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="apollo-pg-"))
    data = base / "data"
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        time.sleep(0.1)
        shutil.rmtree(base, ignore_errors=True)
