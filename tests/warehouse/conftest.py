"""Warehouse tests: an Apollo connection to a fresh emulator, and a PostgreSQL server for the session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from warehouse_support import connect_apollo

from airflow_provider_apollo.testing import ApolloEmulator

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@pytest.fixture
def apollo(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
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
