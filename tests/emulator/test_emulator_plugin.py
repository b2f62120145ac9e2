"""The pytest plugin: ``apollo_emulator`` and ``apollo_connection`` fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from airflow_provider_apollo.testing import ApolloEmulator


def test_apollo_connection_points_airflow_at_the_emulator(apollo_connection: ApolloEmulator) -> None:
    connection = json.loads(os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"])
    assert connection == {"conn_type": "apollo", "password": "test-key", "host": apollo_connection.url}


def test_testing_package_imports_without_airflow() -> None:
    code = (
        "import sys, airflow_provider_apollo.testing, airflow_provider_apollo.testing.pytest_plugin;"
        "import airflow_provider_apollo.testing._server;"
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'airflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
