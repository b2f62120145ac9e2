"""Assets and event-driven DAGs under a real scheduler, dag-processor, triggerer and api-server.

The export → load asset pair runs as a deployment would run it; the stage watcher runs in the
real triggerer, which is restarted part-way to show the watch neither re-fires nor forgets.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from tests.e2e.airflow_cluster import AIRFLOW, STOP_GRACE_SECONDS, AirflowCluster, _signal_group

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("apollo_contacts_assets.py", "apollo_stage_events.py")
EXPORT, LOAD, ON_REPLIES = "apollo_contacts_export", "apollo_contacts_load", "apollo_on_replies"
WAIT_SECONDS = 240
POLL = 1.0


@pytest.fixture(scope="module")
def emulator() -> Iterator[ApolloEmulator]:
    emulator = ApolloEmulator(api_key=f"e2e-{uuid.uuid4().hex}", seed=13)
    emulator.seed_contacts(200)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, emulator: ApolloEmulator, s3_endpoint: str
) -> Iterator[AirflowCluster]:
    home = tmp_path_factory.mktemp("native")
    dags = home / "dags"
    dags.mkdir()
    for name in EXAMPLES:
        shutil.copy(REPO / "example_dags" / name, dags / name)
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    env = {
        "AIRFLOW_CONN_APOLLO_DEFAULT": json.dumps(
            {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        ),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
        "APOLLO_EXPORT_BUCKET": bucket,
        "APOLLO_STAGE_EVENTS_POLL_SECONDS": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    deployment = AirflowCluster(home=home / "airflow", dags_folder=dags, env=env)
    deployment.bucket = bucket  # type: ignore[attr-defined]
    try:
        deployment.start()
        deployment.wait_for_api()
        deployment.wait_for_dags((EXPORT, LOAD, ON_REPLIES))
        yield deployment
    finally:
        deployment.stop()


def wait_until(
    cluster: AirflowCluster, condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS
) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cluster.check_running()
        value = condition()
        if value:
            return value
        time.sleep(POLL)
    raise TimeoutError(f"timed out waiting for {what}\n" + cluster.diagnostics())


def xcom(cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    run = urllib.parse.quote(run_id, safe="")
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/xcomEntries/{key}?deserialize=true"
    return cluster.api(path)["value"]


def triggerer_log(cluster: AirflowCluster) -> str:
    return cluster.log_path("triggerer").read_text(errors="replace")


def restart_triggerer(cluster: AirflowCluster) -> None:
    """Stop the triggerer (SIGTERM, as a deployment would) and start a new one with a fresh log."""
    process = cluster.processes["triggerer"]
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=5)
    old = cluster.log_path("triggerer")
    old.rename(old.with_suffix(".before-restart.out"))
    out = old.open("wb")
    cluster._log_files.append(out)
    cluster.processes["triggerer"] = subprocess.Popen(
        [AIRFLOW, "triggerer"],
        env=cluster.base_env,
        cwd=cluster.home,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def successful_runs(cluster: AirflowCluster, dag_id: str) -> list[str]:
    return sorted(run for run, state in cluster.run_states(dag_id).items() if state == "success")


def test_the_load_dag_runs_on_the_exports_asset_event_and_reads_its_extra(
    cluster: AirflowCluster, s3_endpoint: str
) -> None:
    # Unpaused, the export runs its latest complete day at once (catchup=False).
    cluster.cli("dags", "unpause", "--treat-dag-id-as-regex", "--yes", f"^({EXPORT}|{LOAD})$")
    load_runs = wait_until(
        cluster, lambda: successful_runs(cluster, LOAD), "the load DAG to run on the asset"
    )
    export_runs = cluster.run_states(EXPORT)
    assert list(export_runs.values()) == ["success"], cluster.diagnostics()
    export_run = next(iter(export_runs))
    loaded = xcom(cluster, LOAD, load_runs[0], "load")
    s3_uri = xcom(cluster, EXPORT, export_run, "export", "s3_uri")
    record_count = xcom(cluster, EXPORT, export_run, "export", "record_count")
    assert loaded == {"s3_uri": s3_uri, "record_count": record_count, "rows_read": record_count}
    assert s3_uri.startswith(f"s3://{cluster.bucket}/apollo/daily/dt=")  # type: ignore[attr-defined]
    # The asset event itself carries the extra, attached to the export's declared asset.
    events = cluster.api("/api/v2/assets/events?limit=50")["asset_events"]
    mine = [e for e in events if e["uri"] == f"s3://{cluster.bucket}/apollo/daily"]  # type: ignore[attr-defined]
    assert len(mine) == 1 and mine[0]["extra"] == {"s3_uri": s3_uri, "record_count": record_count}, events
    # The export's link points at its object in the S3 console.
    link = xcom(cluster, EXPORT, export_run, "export", "_link_ApolloExportS3Link")
    assert link.startswith("https://s3.console.aws.amazon.com/s3/object/") and "contacts.jsonl" in link


def test_stage_entries_trigger_the_dag_once_each_across_a_triggerer_restart(
    cluster: AirflowCluster, emulator: ApolloEmulator
) -> None:
    cold = sorted(
        i for i, c in emulator.contacts.items() if c["contact_stage_id"] == emulator.stage_id("Cold")
    )
    first, second = cold[:3], cold[3:5]
    cluster.cli("dags", "unpause", ON_REPLIES)
    # Airflow registers an asset's watchers when it parses an unpaused DAG: parse it again now
    # (a deployment's dag-processor does so on its next refresh).
    cluster.cli("dags", "reserialize")
    wait_until(
        cluster, lambda: "Baseline:" in triggerer_log(cluster), "the watcher's baseline in the triggerer"
    )

    emulator.set_contact_stage(first, "Replied")
    runs = wait_until(cluster, lambda: successful_runs(cluster, ON_REPLIES), "a run for the first replies")
    assert xcom(cluster, ON_REPLIES, runs[0], "handle_replies") == sorted(first)

    restart_triggerer(cluster)
    wait_until(cluster, lambda: "Resuming the watch" in triggerer_log(cluster), "the watch to resume")
    # Several polls after the restart: the replies already reported are not reported again.
    wait_until(cluster, lambda: triggerer_log(cluster).count("Polled ") >= 4, "four polls after the restart")
    assert len(cluster.run_states(ON_REPLIES)) == 1, cluster.run_states(ON_REPLIES)
    assert "Baseline:" not in triggerer_log(cluster)

    emulator.set_contact_stage(second, "Replied")
    runs = wait_until(
        cluster, lambda: (r := successful_runs(cluster, ON_REPLIES)) and len(r) == 2 and r, "a second run"
    )
    values = sorted(xcom(cluster, ON_REPLIES, run, "handle_replies") for run in runs)
    assert values == sorted([sorted(first), sorted(second)])
    time.sleep(3)  # three more polls: still exactly two runs
    assert len(cluster.run_states(ON_REPLIES)) == 2
