"""Fixtures for the S3 export tests: a task context that records XComs, a watched temp dir, an S3 client."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_apollo.testing import ApolloEmulator


class RecordingTaskInstance:
    """The part of a task instance the operator uses: ``xcom_push``, recorded for assertions."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        # Through JSON, as Airflow's XCom backend stores it: a value that cannot be stored fails here.
        self.xcoms[key] = json.loads(json.dumps(value))


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": RecordingTaskInstance()}


@pytest.fixture
def export_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory the operator's temporary files go to, to check that none are left behind."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def s3(aws_connection: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=aws_connection, region_name="us-east-1")


@pytest.fixture
def fast_retries(apollo_connection: ApolloEmulator, monkeypatch: pytest.MonkeyPatch) -> ApolloEmulator:
    """The Apollo connection with a retry budget of one, so failure tests fail in about a second."""
    conn = {
        "conn_type": "apollo",
        "password": apollo_connection.api_key,
        "host": apollo_connection.url,
        "extra": {"max_retries": 1, "max_retry_wait": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
    return apollo_connection
