"""A throwaway Airflow deployment on CeleryExecutor: ``AirflowCluster`` plus Redis and Celery workers.

Everything ``airflow_cluster.AirflowCluster`` starts (api-server, scheduler, dag-processor,
triggerer, on its own home and SQLite DB) runs here with ``CeleryExecutor``; besides them:

- ``redis-server`` on a free loopback port, with no persistence (no RDB snapshots, no AOF) and its
  working directory inside the home: the Celery broker (database 0) and result backend (database 1);
- one ``airflow celery worker`` per name in ``workers``, each with its own Celery node name
  (``w1@<host>``), ``concurrency`` task slots and its own log (``celery-worker-w1.out``). Both run on
  this machine, so each worker's ``[core] hostname_callable`` reports its node name instead of the
  machine's (``celery_worker_path/apollo_e2e_worker_identity.py``): the task instances' ``hostname``
  tells which worker ran them, as it would across machines.

``stop`` ends the Airflow processes' groups (workers and their task processes included), then Redis.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.e2e.airflow_cluster import AIRFLOW, COMPONENTS, STOP_GRACE_SECONDS, AirflowCluster, free_port

WORKER_PATH = Path(__file__).resolve().parent / "celery_worker_path"
HOSTNAME_CALLABLE = "apollo_e2e_worker_identity.hostname"
WORKER_HOSTNAME_ENV = "APOLLO_E2E_WORKER_HOSTNAME"
# What `make test` installs into the test venv (the celery provider needs celery<5.7; redis is
# the broker's client); a missing one fails the test with this command, it is not skipped.
PYTHON_REQUIREMENTS = ("apache-airflow-providers-celery>=3.26", "celery<5.7", "redis")
REDIS_PACKAGE = "redis-server"  # Debian's package and binary


def find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def install_redis_server(timeout: float = 600) -> tuple[str | None, str]:
    """``redis-server`` from Debian's packages, as ``make test`` installs it, when it is missing.

    Returns its path, or None and why it could not be installed (no apt-get, not root and no
    password-less sudo, or apt-get failed).
    """
    found = find_redis_server()
    if found:
        return found, "found"
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "redis-server is not installed and there is no apt-get to install it with"
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        return None, "redis-server is not installed, and installing it needs root or password-less sudo"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", REDIS_PACKAGE]):
        try:
            result = subprocess.run(
                [*prefix, *command], env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return None, f"{' '.join(command)} did not finish within {timeout:.0f} s"
        if result.returncode != 0:
            return None, f"{' '.join(command)} exited {result.returncode}: {result.stderr[-1500:]}"
    found = find_redis_server()
    if found:
        return found, "installed"
    return None, f"apt-get installed {REDIS_PACKAGE} but no redis-server binary is on the PATH"


def missing_python_requirements() -> list[str]:
    """The requirements in PYTHON_REQUIREMENTS this interpreter cannot import."""
    modules = {
        "apache-airflow-providers-celery>=3.26": "airflow.providers.celery",
        "celery<5.7": "celery",
        "redis": "redis",
    }
    return [requirement for requirement, module in modules.items() if not _importable(module)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@dataclass
class CeleryCluster(AirflowCluster):
    """
    ``AirflowCluster`` on CeleryExecutor with a loopback Redis and Celery workers.

    :param redis_server: the ``redis-server`` binary (``install_redis_server`` finds or installs it).
    :param workers: one Celery worker per name; its node name is ``<name>@<host>``.
    :param concurrency: task slots per worker.
    """

    redis_server: str = "redis-server"
    workers: Sequence[str] = ("w1", "w2")
    concurrency: int = 2
    redis_port: int = field(default_factory=free_port)
    redis: subprocess.Popen[bytes] | None = None
    _redis_log: IO[bytes] | None = None

    def redis_url(self, database: int) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/{database}"

    @property
    def base_env(self) -> dict[str, str]:
        return {
            **super().base_env,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.redis_url(0),
            # Redis, not db+sqlite: the workers' result writes stay off the one SQLite file.
            "AIRFLOW__CELERY__RESULT_BACKEND": self.redis_url(1),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            # Sending a task to the broker needs no process pool of its own on two cores.
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
            **self.env,
        }

    def node_name(self, worker: str) -> str:
        """The Celery node name of ``worker``, which its task instances record as ``hostname``."""
        return f"{worker}@{socket.gethostname()}"

    def start(self, components: Sequence[str] = COMPONENTS) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.start_redis()
        super().start(components)
        for worker in self.workers:
            self.start_worker(worker)

    def start_redis(self, timeout: float = 30) -> None:
        directory = self.home / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        self._redis_log = (self.home / "redis.out").open("wb")
        self.redis = subprocess.Popen(
            [
                self.redis_server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--protected-mode",
                "yes",
                "--dir",
                str(directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                "",
            ],  # fmt: skip
            cwd=directory,
            stdout=self._redis_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_redis()
            if self.redis_ping():
                return
            time.sleep(0.1)
        raise TimeoutError(
            f"redis-server did not answer PING on port {self.redis_port} within {timeout:.0f} s"
        )

    def redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start_worker(self, worker: str) -> None:
        pythonpath = os.pathsep.join(p for p in (str(WORKER_PATH), os.environ.get("PYTHONPATH", "")) if p)
        self.spawn(
            self.worker_component(worker),
            [
                AIRFLOW,
                "celery",
                "worker",
                "--celery-hostname",
                f"{worker}@%h",
                "--concurrency",
                str(self.concurrency),
                # Two workers on one machine would both want the log server's port 8793; the task
                # logs are files in this home anyway.
                "--skip-serve-logs",
                # Nothing to synchronise between throwaway workers: start without waiting on peers.
                "--without-mingle",
                "--without-gossip",
            ],  # fmt: skip
            extra_env={
                "PYTHONPATH": pythonpath,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE,
                WORKER_HOSTNAME_ENV: self.node_name(worker),
            },
        )

    @staticmethod
    def worker_component(worker: str) -> str:
        return f"celery-worker-{worker}"

    def tasks_received(self, worker: str) -> set[str]:
        """The task ids ``worker`` was handed, from its own log (``Executing workload in Celery``)."""
        log = self.log_path(self.worker_component(worker)).read_text(errors="replace")
        return {
            match.group(1)
            for line in log.splitlines()
            if "Executing workload in Celery" in line
            for match in [re.search(r"\bti=TaskInstanceDTO\(.*?\btask_id='([^']+)'", line)]
            if match
        }

    def wait_for_workers(self, timeout: float = 180) -> None:
        """Until every worker has logged ``<node> ready.``: it consumes from the broker."""
        deadline = time.monotonic() + timeout
        waiting = list(self.workers)
        while time.monotonic() < deadline:
            self.check_running()
            waiting = [
                worker
                for worker in waiting
                if f"{self.node_name(worker)} ready."
                not in self.log_path(self.worker_component(worker)).read_text(errors="replace")
            ]
            if not waiting:
                return
            time.sleep(1)
        raise TimeoutError(
            f"Celery workers {waiting} were not ready within {timeout:.0f} s:\n{self.diagnostics()}"
        )

    def _check_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is not None:
            tail = (self.home / "redis.out").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"redis-server exited {self.redis.returncode}:\n{tail}")

    def check_running(self) -> None:
        self._check_redis()
        super().check_running()

    def diagnostics(self) -> str:
        redis_log = self.home / "redis.out"
        tail = redis_log.read_text(errors="replace")[-1500:] if redis_log.exists() else ""
        return f"{super().diagnostics()}\n--- redis-server\n{tail}"

    def stop(self) -> None:
        """Airflow and the workers first (they talk to Redis until they exit), then Redis."""
        try:
            super().stop()
        finally:
            if self.redis is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.redis.pid, signal.SIGTERM)
                try:
                    self.redis.wait(timeout=STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.redis.pid, signal.SIGKILL)
                    self.redis.wait(timeout=5)
            if self._redis_log is not None:
                self._redis_log.close()
