"""Shared plumbing of the benchmarks: the environment, an emulator in its own process, S3 on loopback, the table."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EMULATOR_API_KEY = "test-key"
EMULATOR_START_TIMEOUT = 60.0
LISTENING_LINE = re.compile(r"listening on (?P<url>http://\S+)")


def prepare_environment() -> None:
    """Before anything imports Airflow: the repository's Airflow home, and AWS credentials that reach nothing real."""
    os.environ.setdefault("AIRFLOW_HOME", str(REPO / "airflow-home"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "tests" / "dags"))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # The hooks log every pacing wait and progress line; the table is the output here.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    # uv installs no .pyc files and the Makefile sets PYTHONDONTWRITEBYTECODE, so every process
    # would compile Airflow from source (seconds): cache bytecode in the git-ignored Airflow home,
    # as a long-lived DAG processor effectively has it. Child processes inherit the setting.
    prefix = str(Path(os.environ["AIRFLOW_HOME"]) / "pycache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.dont_write_bytecode = False
    sys.pycache_prefix = prefix


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_apollo_connection(url: str, api_key: str = EMULATOR_API_KEY, **extra: Any) -> None:
    """Point ``apollo_default`` at an emulator through the environment, as users' tests do."""
    connection: dict[str, Any] = {"conn_type": "apollo", "password": api_key, "host": url}
    if extra:
        connection["extra"] = extra
    os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = json.dumps(connection)


@contextmanager
def emulator_process(
    *,
    seed: int = 0,
    latency: float = 0.0,
    rate_limit_minute: int | None = None,
    time_scale: float = 1.0,
) -> Iterator[str]:
    """
    Run ``python -m airflow_provider_apollo.testing`` in its own process and yield its base URL.

    The server's CPU and memory then stay out of the client's figures.
    """
    command = [
        sys.executable,
        "-m",
        "airflow_provider_apollo.testing",
        "--port",
        "0",
        "--seed",
        str(seed),
        "--latency",
        str(latency),
        "--time-scale",
        str(time_scale),
    ]
    if rate_limit_minute is not None:
        command += ["--rate-limit-minute", str(rate_limit_minute)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        url = _wait_for_url(process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + EMULATOR_START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator exited before listening (exit code {process.poll()})")
        match = LISTENING_LINE.search(line)
        if match:
            return match.group("url")
    raise RuntimeError(f"the emulator did not print its URL within {EMULATOR_START_TIMEOUT:.0f} s")


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on loopback, with ``aws_default`` pointing at it; yields the endpoint."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
    try:
        yield endpoint
    finally:
        server.stop()


def create_bucket(endpoint: str, name: str) -> str:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


class XComSink:
    """The one part of a task instance an operator's ``execute`` touches outside a DAG run: ``xcom_push``."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **kwargs: Any) -> None:
        self.pushed[key] = value


def task_context() -> Any:
    return {"ti": XComSink()}


# --------------------------------------------------------------------------- results


def result(
    section: str,
    case: str,
    value: float,
    unit: str,
    *,
    reference: float | None = None,
    reference_label: str = "",
    note: str = "",
    **details: Any,
) -> dict[str, Any]:
    """One row of the table: a measured value, the reference measured in the same run, and their ratio."""
    ratio = None if not reference else value / reference
    return {
        "section": section,
        "case": case,
        "value": value,
        "unit": unit,
        "reference": reference,
        "reference_label": reference_label,
        "ratio": ratio,
        "note": note,
        **details,
    }


def _number(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()


TABLE_COLUMNS = ("section", "case", "measured", "reference", "ratio", "note")


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table, columns aligned, one row per figure."""
    cells = [list(TABLE_COLUMNS)]
    for row in rows:
        reference = _number(row.get("reference"), row.get("unit", ""))
        if row.get("reference_label"):
            reference = f"{reference} ({row['reference_label']})"
        ratio = row.get("ratio")
        cells.append(
            [
                str(row.get("section", "")),
                str(row.get("case", "")),
                _number(row.get("value"), row.get("unit", "")),
                reference,
                "-" if ratio is None else f"{ratio:.2f}x",
                str(row.get("note", "")),
            ]
        )
    widths = [max(len(line[index]) for line in cells) for index in range(len(TABLE_COLUMNS))]
    lines = []
    for number, line in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: cores, CPU model, RAM, Python and Airflow versions."""
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "airflow": version("apache-airflow"),
        "amazon_provider": version("apache-airflow-providers-amazon"),
        "platform": platform.platform(),
    }


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of figures as a Markdown table (integers with thousands separators), for docs/performance.md."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for k in header)
            + " |"
        )
    return "\n".join(lines)
