"""What differs between the Airflow versions the suite runs on: the newest (`make test`) and the floor (`make test-floor`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pytest
from packaging.version import Version


def _airflow_version() -> Version:
    # From the metadata, not ``airflow.__version__``: deciding a skip must not import Airflow.
    for distribution in ("apache-airflow-core", "apache-airflow"):
        try:
            return Version(version(distribution))
        except PackageNotFoundError:
            continue
    raise RuntimeError("Apache Airflow is not installed")


AIRFLOW_VERSION = _airflow_version()


def requires_airflow(minimum: str, feature: str) -> pytest.MarkDecorator:
    """Skip, naming the feature and both versions, where Airflow is older than ``minimum``."""
    return pytest.mark.skipif(
        Version(minimum) > AIRFLOW_VERSION,
        reason=f"{feature} needs Airflow {minimum} or later; this is Airflow {AIRFLOW_VERSION}",
    )


def dag_bag_class() -> Any:
    """Airflow's ``DagBag``: in ``airflow.dag_processing.dagbag`` from 3.1, ``airflow.models.dagbag`` in 3.0."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined]
    return DagBag


# The example DAGs schedule with ``airflow.sdk.CronDataIntervalTimetable``, new in Airflow 3.1: a
# test that loads them skips on 3.0, where the package itself works (docs/support.md).
requires_example_dags = requires_airflow(
    "3.1", "Loading the example DAGs (they schedule with airflow.sdk.CronDataIntervalTimetable)"
)
# Operators log through structlog from Airflow 3.1 (through ``logging`` in 3.0): what a test reads
# with ``structlog.testing.capture_logs``.
requires_structlog_task_logs = requires_airflow("3.1", "Reading an operator's log events with structlog")
