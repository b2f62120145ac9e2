"""The connection commands the docs quote (tests/e2e/connection_setup.sh) create what the hook expects."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "e2e" / "connection_setup.sh"
# The metadata DB `make` migrated for the Airflow under test (airflow-home/ for the newest, its
# floor/ for `make test-floor`); under pytest-xdist, this worker's copy of it.
MIGRATED_DB = Path(os.environ.get("AIRFLOW_HOME", REPO / "airflow-home")) / "airflow.db"
FAKE_KEY = "fake-key-0123456789abcdef"


@pytest.mark.slow
def test_cli_and_environment_forms_give_the_documented_connection_and_pool(tmp_path: Path) -> None:
    if not MIGRATED_DB.exists():
        pytest.fail(f"{MIGRATED_DB} is missing: run `make airflow-db` first")
    # A copy of the migrated DB: `airflow connections add` writes to it, the shared one stays clean.
    shutil.copy(MIGRATED_DB, tmp_path / "airflow.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        APOLLO_API_KEY=FAKE_KEY,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert shown == [
        {
            "base_url": "https://api.apollo.io/api/v1",
            "auth_type": "api_key",
            "timeout": 30.0,
            "max_retries": 5,
            "max_retry_wait": 60.0,
            "key_length": len(FAKE_KEY),
        },
        {
            "base_url": "https://api.apollo.io/api/v1",
            "auth_type": "api_key",
            "timeout": 20.0,
            "max_retries": 3,
            "max_retry_wait": 30.0,
            "key_length": len("YOUR_API_KEY"),
        },
        {"pool": "apollo", "slots": 4},
    ]
    assert FAKE_KEY not in result.stdout + result.stderr
