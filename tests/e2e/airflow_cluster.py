"""A throwaway Airflow deployment for end-to-end tests: its own home and SQLite DB, real processes.

Starts the api-server (the Execution API the LocalExecutor's task processes report to), the
scheduler, the dag-processor and the triggerer as separate subprocesses, each in its own process
group so that stopping them also stops the task processes they spawned.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

AIRFLOW = str(Path(sys.executable).parent / "airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
STOP_GRACE_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AirflowCluster:
    """
    Airflow 3 on LocalExecutor and SQLite in ``home``, reading DAGs from ``dags_folder``.

    :param home: a fresh directory for AIRFLOW_HOME (config, DB, logs).
    :param dags_folder: the DAGs the dag-processor parses.
    :param env: extra environment (connections, Variables) for every component and CLI call.
    """

    home: Path
    dags_folder: Path
    env: Mapping[str, str] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _log_files: list[IO[bytes]] = field(default_factory=list)

    @property
    def base_env(self) -> dict[str, str]:
        # Start from a clean slate: nothing from the test process's own Airflow set-up leaks in.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        api_url = f"http://127.0.0.1:{self.api_port}"
        return {
            **inherited,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # Two cores: a handful of task processes is plenty and keeps SQLite writers few.
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            # Every component must sign and check task tokens with the same secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-test-jwt-secret-not-for-production",
            "AIRFLOW__API__SECRET_KEY": "e2e-test-secret-key",
            # The DAG files do not change during a test: parse them once, not every 30 s.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            # Loopback only, throwaway data: the REST API answers polls without a login.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            **self.env,
        }

    def cli_many(self, *commands: Sequence[str]) -> list[subprocess.CompletedProcess[str]]:
        """Run several CLI commands at once: each pays Airflow's start-up time, in parallel."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(lambda command: self.cli(*command), commands))

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` CLI command against this deployment."""
        result = subprocess.run(
            [AIRFLOW, *args],
            env=self.base_env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-3000:]}"
            )
        return result

    def log_path(self, component: str) -> Path:
        return self.home / f"{component}.out"

    def start(self, components: Sequence[str] = COMPONENTS) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli("db", "migrate", timeout=300)
        for component in components:
            args = [AIRFLOW, component]
            if component == "api-server":
                args += ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
            self.spawn(component, args)

    def spawn(self, name: str, args: Sequence[str], extra_env: Mapping[str, str] | None = None) -> None:
        """Start one more process of the deployment (e.g. a Celery worker) in its own process group,
        its output in ``log_path(name)``; ``stop`` ends it with the rest."""
        out = self.log_path(name).open("wb")
        self._log_files.append(out)
        self.processes[name] = subprocess.Popen(
            list(args),
            env={**self.base_env, **(extra_env or {})},
            cwd=self.home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_running(self) -> None:
        """Fail fast, with the component's log, when one of them died."""
        for component, process in self.processes.items():
            if process.poll() is not None:
                tail = self.log_path(component).read_text(errors="replace")[-4000:]
                raise RuntimeError(f"airflow {component} exited {process.returncode}:\n{tail}")

    def wait_for_api(self, timeout: float = 120) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health"
        while time.monotonic() < deadline:
            self.check_running()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"the api-server did not answer on {url} within {timeout:.0f} s")

    def api(self, path: str) -> Any:
        """GET a path of the public REST API (``/api/v2/...``) and return the JSON body."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}{path}", timeout=30) as response:
            return json.loads(response.read())

    def run_states(self, dag_id: str) -> dict[str, str]:
        """run_id -> state of every run of ``dag_id`` (REST API: a poll costs milliseconds, not a CLI start)."""
        body = self.api(f"/api/v2/dags/{dag_id}/dagRuns?limit=100")
        return {run["dag_run_id"]: run["state"] for run in body["dag_runs"]}

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One run as the REST API shows it (state, logical_date, data_interval_start ...)."""
        return dict(self.api(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        """A task instance's state; None until the scheduler has created it."""
        import urllib.error

        try:
            body = self.api(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise
        return body.get("state")

    def dag_ids(self) -> set[str]:
        return {dag["dag_id"] for dag in self.api("/api/v2/dags?limit=100")["dags"]}

    def wait_for_dags(self, dag_ids: Sequence[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            if set(dag_ids) <= self.dag_ids():
                return
            time.sleep(2)
        errors = self.api("/api/v2/importErrors")
        raise TimeoutError(f"DAGs {sorted(dag_ids)} were not parsed within {timeout:.0f} s; {errors}")

    def diagnostics(self) -> str:
        """Task logs and the components' output tails, for a failure message."""
        parts = []
        for path in sorted((self.home / "logs").rglob("*.log")):
            if "dag_processor" not in path.parts:
                parts.append(f"--- {path.relative_to(self.home)}\n{path.read_text(errors='replace')[-2500:]}")
        for component in self.processes:
            parts.append(f"--- {component}\n{self.log_path(component).read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Terminate every component's process group, then kill what is left."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            # The group may hold task processes even after its leader exited.
            _signal_group(process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        for out in self._log_files:
            out.close()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
