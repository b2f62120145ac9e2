"""`make demo`: run the example outreach DAG end to end on loopback (Apollo emulator + local S3) and summarise.

Starts the Apollo emulator (500 seeded contacts; a share of the contacts moved to "Approaching"
reply a few seconds later) and moto's S3 server, points ``apollo_default`` and ``aws_default`` at
them through ``AIRFLOW_CONN_*`` variables, runs ``example_dags/apollo_outreach_pipeline.py`` with
``dag.test()`` on the local SQLite metadata DB (the deferred sensor's trigger runs inline), and
prints what happened. Nothing leaves the machine. Exit code 0 only when the DAG run succeeded.

It lives in the repository, not in the installed package: it runs the repository's example DAGs.
Run it with ``make demo`` (or ``.venv/bin/python demo/run_demo.py``) from a checkout.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"
DAG_ID = "apollo_outreach_pipeline"
BUCKET = "apollo-demo-exports"
SEED_CONTACTS = 500
REPLY_AFTER_SECONDS = 4.0
REPLY_FRACTION = 0.3
# A small per-minute quota on a fast clock (a "minute" lasts 6 s): the run meets real 429s with
# retry-after and shows the hook waiting them out, without making the demo slow.
RATE_LIMIT_PER_MINUTE = 8
TIME_SCALE = 0.1
PREVIEW_LINES = 3
PREVIEW_WIDTH = 160
MOTO_START_TIMEOUT = 30.0


@dataclass
class DemoResult:
    """What the run did, read back from XCom, S3 and the emulator."""

    state: str
    xcom: dict[str, Any] = field(default_factory=dict)
    s3_uri: str | None = None
    record_count: int | None = None
    s3_lines: list[str] = field(default_factory=list)
    s3_bytes: int = 0
    replied_in_emulator: int = 0
    api_calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    calls_by_endpoint: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_environment() -> None:
    """Settings that must be in place before Airflow is imported: home, DAGs folder, no real AWS."""
    if not EXAMPLE_DAGS.is_dir():
        raise SystemExit(
            f"{EXAMPLE_DAGS} not found: `make demo` runs from a checkout of the repository, "
            "where example_dags/ sits next to demo/."
        )
    os.environ.setdefault("AIRFLOW_HOME", str(REPO / "airflow-home"))
    # dag.test() runs only a DAG the bundle of the configured DAGs folder can find.
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    # moto accepts any credentials; these keep boto3 from looking for a real AWS profile.
    os.environ["AWS_ACCESS_KEY_ID"] = "demo"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "demo"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def start_s3(stack: ExitStack) -> str:
    """moto's S3 server on a free loopback port, stopped when ``stack`` closes."""
    from moto.server import ThreadedMotoServer

    # The server's access log would interleave with the DAG's output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stack.callback(server.stop)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return endpoint
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not start on {endpoint}") from None
            time.sleep(0.1)


def connect(emulator_url: str, api_key: str, s3_endpoint: str, owner_id: str) -> None:
    """Point Airflow's connections and Variables at the local services, through the environment."""
    os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = json.dumps(
        {"conn_type": "apollo", "password": api_key, "host": emulator_url}
    )
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "demo-access-key",
            "password": "demo-secret-key",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        }
    )
    os.environ["AIRFLOW_VAR_APOLLO_S3_BUCKET"] = BUCKET
    os.environ["AIRFLOW_VAR_APOLLO_OWNER_ID"] = owner_id


def run_dag() -> Any:
    """Load the example DAG from the DAGs folder and run it once with ``dag.test()``; returns the DagRun."""
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    if dagbag.import_errors:
        raise SystemExit(f"The example DAGs failed to import: {dagbag.import_errors}")
    dag = dagbag.get_dag(DAG_ID)
    if dag is None:
        raise SystemExit(f"{DAG_ID} not found in {EXAMPLE_DAGS}")
    # The owner comes from the Variable apollo_owner_id set in connect(); the DAG's default
    # contacts are the batch.
    return dag.test()


def read_xcoms(dag_run: Any) -> dict[str, Any]:
    """Every XCom the run pushed, as ``{"task_id": value, "task_id.key": value}``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    values: dict[str, Any] = {}
    with create_session() as session:
        rows: list[Any] = list(session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID)))
        for row in rows:
            name = row.task_id if row.key == "return_value" else f"{row.task_id}.{row.key}"
            values[name] = XComModel.deserialize_value(row)
    return values


def read_s3(endpoint: str, uri: str) -> tuple[list[str], int]:
    """The first lines of the exported object and its size."""
    import boto3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = body.decode("utf-8").splitlines()[:PREVIEW_LINES]
    return lines, len(body)


def endpoint_of(path: str) -> str:
    """Group recorded request paths by endpoint: contact ids become ``{id}``."""
    parts = path.split("?")[0].split("/")
    return "/".join("{id}" if len(part) == 24 and part.isalnum() else part for part in parts)


def summarise(result: DemoResult) -> str:
    created = result.xcom.get("create_contacts") or []
    moved = result.xcom.get("start_outreach") or []
    owned = result.xcom.get("assign_owner") or []
    replied = result.xcom.get("wait_for_replies") or []
    exported = result.xcom.get("export_responders") or []
    status_text = ", ".join(f"{status}: {count}" for status, count in sorted(result.statuses.items()))
    lines = [
        "",
        "=" * 78,
        f"Apollo outreach demo: DAG run {result.state.upper()} in {result.seconds:.1f} s",
        "=" * 78,
        f"  contacts created (bulk, deduped)     {len(created)}",
        f"  moved to stage Approaching           {len(moved)}",
        f"  assigned to the owner                {len(owned)}",
        f"  replied when the sensor fired        {len(replied)}  (deferred sensor, require='any')",
        f"  replied by the end of the run        {result.replied_in_emulator}",
        f"  exported responders                  {len(exported)}",
    ]
    if result.s3_uri:
        lines.append(f"  S3 object                            {result.s3_uri} ({result.s3_bytes:,} bytes)")
        for line in result.s3_lines:
            preview = line if len(line) <= PREVIEW_WIDTH else line[: PREVIEW_WIDTH - 3] + "..."
            lines.append(f"      {preview}")
    lines.append(f"  Apollo API calls                     {result.api_calls}  (HTTP status: {status_text})")
    for endpoint, count in result.calls_by_endpoint.most_common():
        lines.append(f"      {count:4d}  {endpoint}")
    lines.append(
        f"  429 rate-limit answers met           {result.statuses.get(429, 0)}"
        f"  (quota: {RATE_LIMIT_PER_MINUTE} calls per endpoint per emulated minute"
        + ("; each waited out and retried)" if result.state == "success" else ")")
    )
    lines.append("=" * 78)
    return "\n".join(lines)


def main() -> int:
    prepare_environment()
    from airflow_provider_apollo.testing import ApolloEmulator

    started = time.monotonic()
    with ExitStack() as stack:
        emulator = ApolloEmulator(
            api_key=f"demo-{secrets.token_hex(8)}",
            reply_after=REPLY_AFTER_SECONDS,
            reply_fraction=REPLY_FRACTION,
            rate_limits={"minute": RATE_LIMIT_PER_MINUTE},
            time_scale=TIME_SCALE,
            seed=2022,
        )
        emulator.seed_contacts(SEED_CONTACTS)
        emulator.start()
        stack.callback(emulator.stop)
        s3_endpoint = start_s3(stack)

        import boto3

        boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=BUCKET)
        owner_id = str(emulator.users[0]["id"])
        connect(emulator.url, emulator.api_key, s3_endpoint, owner_id)
        print(
            f"Apollo emulator on {emulator.url} ({SEED_CONTACTS} contacts), S3 on {s3_endpoint}, "
            f"bucket {BUCKET}; running {DAG_ID} with dag.test()",
            flush=True,
        )
        dag_run = run_dag()
        result = DemoResult(state=str(getattr(dag_run.state, "value", dag_run.state)))
        result.seconds = time.monotonic() - started
        result.xcom = read_xcoms(dag_run)
        result.s3_uri = result.xcom.get("export_responders.s3_uri")
        result.record_count = result.xcom.get("export_responders.record_count")
        if result.s3_uri:
            result.s3_lines, result.s3_bytes = read_s3(s3_endpoint, result.s3_uri)
        replied_stage = emulator.stage_id("Replied")
        created_ids = set(result.xcom.get("create_contacts") or [])
        result.replied_in_emulator = sum(
            1
            for contact_id, contact in emulator.contacts.items()
            if contact_id in created_ids and contact.get("contact_stage_id") == replied_stage
        )
        result.api_calls = len(emulator.requests)
        result.statuses = dict(emulator.status_counts())
        result.calls_by_endpoint = Counter(
            f"{request.method} {endpoint_of(request.path)}" for request in emulator.requests
        )
    print(summarise(result), flush=True)
    return 0 if result.state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
