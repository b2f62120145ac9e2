"""Shared test set-up: Airflow on the repository's SQLite home, a real S3 endpoint on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

# Before anything imports Airflow: the same home `make test` migrated, DAGs from tests/dags.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / "airflow-home"))
# Under pytest-xdist each worker gets its own copy of the migrated metadata DB: two processes
# running dag.test() on one SQLite file would lock each other out.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _migrated = Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"
    _home = Path(os.environ["AIRFLOW_HOME"]) / f"xdist-{_WORKER}"
    _home.mkdir(parents=True, exist_ok=True)
    if _migrated.exists():
        shutil.copy(_migrated, _home / "airflow.db")
    os.environ["AIRFLOW_HOME"] = str(_home)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home / 'airflow.db'}"
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "tests" / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
# moto and boto3 read these; nothing may reach a real AWS account.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto's threaded server) on loopback for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_connection_uri(endpoint: str) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )


@pytest.fixture
def aws_connection(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point Airflow's ``aws_default`` at the loopback S3 server; returns the endpoint."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_connection_uri(s3_endpoint))
    return s3_endpoint


@pytest.fixture
def s3_bucket(aws_connection: str) -> str:
    """A fresh, empty bucket on the loopback S3 server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=aws_connection, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def later() -> Iterator[Callable[..., None]]:
    """``later(seconds, action, *args)`` runs ``action`` on a timer, cancelled at the test's end."""
    timers: list[threading.Timer] = []

    def schedule(seconds: float, action: Callable[..., Any], *args: Any) -> None:
        timer = threading.Timer(seconds, action, args=args)
        timer.daemon = True
        timers.append(timer)
        timer.start()

    yield schedule
    for timer in timers:
        timer.cancel()


# --------------------------------------------------------------------------- the fault suite
# The fault suite's fixtures for every test directory (its tests sit beside the code they check:
# tests/hooks, tests/operators, tests/sensors, tests/triggers, tests/transfers, and tests/reliability),
# and the one results table of the run, written to docs/reliability.md when RELIABILITY_DOC names it.
from reliability_support import (  # noqa: E402, F401 - fixtures
    context,
    emulator,
    no_key_in_logs,
    outcome,
    reconnect,
    register_results_table,
    tight_quota,
)


def pytest_configure(config: pytest.Config) -> None:
    register_results_table(config)
