"""Under a real scheduler and triggerer: a job needing three hours of quota waits in the deferred
state and finishes in one try; four tasks sharing one quota window cooperate."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from tests.e2e.airflow_cluster import AirflowCluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

DAGS = Path(__file__).resolve().parent / "quota_dags"
DAG_ID = "apollo_quota_e2e"
RUN_ID = "quota"
LONG_CONTACTS = 1_150  # 12 batches against 5 an hour: two quota waits
HOURLY = 5
HOUR_SECONDS = 8.0  # one emulated hour, in real seconds: long enough to see the task deferred
SHARED_PER_TASK = 1_000  # 10 batches a task, 40 calls against 20 a window
WINDOW_LIMIT = 20
WINDOW_SECONDS = 3.0
PARALLEL_TASKS = 4


@pytest.fixture
def emulators() -> Iterator[tuple[ApolloEmulator, ApolloEmulator]]:
    hourly = ApolloEmulator(
        api_key=f"h-{uuid.uuid4().hex}", rate_limits={"hour": HOURLY}, time_scale=HOUR_SECONDS / 3600
    )
    shared = ApolloEmulator(
        api_key=f"s-{uuid.uuid4().hex}",
        rate_limits={"minute": WINDOW_LIMIT},
        time_scale=WINDOW_SECONDS / 60,
    )
    with hourly, shared:
        yield hourly, shared


@pytest.fixture
def cluster(tmp_path: Path, emulators: tuple[ApolloEmulator, ApolloEmulator]) -> Iterator[AirflowCluster]:
    hourly, shared = emulators

    def connection(emulator: ApolloEmulator, **extra: Any) -> str:
        return json.dumps(
            {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url, "extra": extra}
        )

    env = {
        "AIRFLOW_CONN_APOLLO_DEFAULT": connection(hourly, max_retry_wait=1),
        "AIRFLOW_CONN_APOLLO_SHARED": connection(shared),
        "AIRFLOW__CORE__PARALLELISM": "8",
    }
    deployment = AirflowCluster(home=tmp_path / "airflow", dags_folder=DAGS, env=env)
    try:
        deployment.start()
        deployment.wait_for_api()
        deployment.wait_for_dags([DAG_ID])
        yield deployment
    finally:
        deployment.stop()


def test_quota_waits_are_deferred_and_parallel_tasks_share_a_window(
    cluster: AirflowCluster, emulators: tuple[ApolloEmulator, ApolloEmulator]
) -> None:
    hourly, shared = emulators
    long_ids = hourly.seed_contacts(LONG_CONTACTS)
    shared_ids = shared.seed_contacts(SHARED_PER_TASK * PARALLEL_TASKS)
    groups = [shared_ids[i * SHARED_PER_TASK : (i + 1) * SHARED_PER_TASK] for i in range(PARALLEL_TASKS)]
    owner = shared.users[1]["id"]
    # Thousands of ids are too long for a command line: they go in a Variable the DAG reads.
    variables = cluster.home / "variables.json"
    variables.write_text(
        json.dumps({"apollo_quota_e2e": {"long_ids": long_ids, "shared_ids": groups, "owner_id": owner}})
    )
    cluster.cli("variables", "import", str(variables))
    cluster.cli("dags", "unpause", DAG_ID)
    cluster.cli("dags", "trigger", DAG_ID, "--run-id", RUN_ID)

    deadline = time.monotonic() + 300
    seen_states: set[str] = set()
    while time.monotonic() < deadline:
        cluster.check_running()
        state = cluster.task_state(DAG_ID, RUN_ID, "long_update")
        if state:
            seen_states.add(state)
        run_state = cluster.run_states(DAG_ID).get(RUN_ID)
        if run_state in {"success", "failed"}:
            break
        time.sleep(0.5)
    assert cluster.run_states(DAG_ID).get(RUN_ID) == "success", cluster.diagnostics()
    assert "deferred" in seen_states, f"long_update was never seen deferred: {seen_states}"
    ti = cluster.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances/long_update")
    assert ti["try_number"] == 1

    # The long job: every contact moved, each batch sent once, one 429 per exhausted hour.
    interested = hourly.stage_id("Interested")
    assert {hourly.contacts[i]["contact_stage_id"] for i in long_ids} == {interested}
    sent = [r for r in hourly.requests if r.path.endswith("/contacts/update_stages")]
    assert sum(1 for r in sent if r.status == 200) == math.ceil(LONG_CONTACTS / 100)
    assert sum(1 for r in sent if r.status == 429) == 2

    # The shared window: everyone's owner set; few 429s; the calls took close to the bound.
    assert {shared.contacts[i]["owner_id"] for i in shared_ids} == {owner}
    calls = [r for r in shared.requests if r.path.endswith("/contacts/update_owners")]
    ok = [r for r in calls if r.status == 200]
    limited = [r for r in calls if r.status == 429]
    windows = math.ceil(len(ok) / WINDOW_LIMIT)
    assert len(ok) == PARALLEL_TASKS * SHARED_PER_TASK // 100
    assert len(limited) <= PARALLEL_TASKS * (windows - 1), len(limited)
    span = max(r.time for r in ok) - min(r.time for r in ok)
    bound = (windows - 1) * WINDOW_SECONDS
    print(
        f"\nquota e2e: {len(ok)} shared calls in {span:.1f} s (bound {bound:.1f} s, {span / bound:.2f}x), "
        f"{len(limited)} 429s across {PARALLEL_TASKS} tasks and {windows} windows"
    )
