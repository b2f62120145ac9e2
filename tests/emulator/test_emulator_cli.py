"""The command line: ``python -m airflow_provider_apollo.testing`` serves until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_cleanly_on_signal(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_apollo.testing",
            "--port",
            "0",
            "--seed",
            "25",
            "--api-key",
            "cli-key",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Apollo emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert url.endswith("/api/v1")
        health = requests.get(f"{url}/auth/health", headers={"x-api-key": "cli-key"}, timeout=5)
        assert health.json() == {"healthy": True, "is_logged_in": True}
        search = requests.post(f"{url}/contacts/search", headers={"x-api-key": "cli-key"}, json={}, timeout=5)
        assert search.json()["pagination"]["total_entries"] == 25
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None and process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
