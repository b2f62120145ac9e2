"""Under a real scheduler and triggerer: a job needing three hours of quota waits in the deferred
state and finishes in one try; four tasks sharing one quota window cooperate.

The scenario and its checks live in ``quota_scenario.py``, shared with the CeleryExecutor version
(``test_quota_celery.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from tests.e2e.airflow_cluster import AirflowCluster
from tests.e2e.quota_scenario import (
    DAG_ID,
    DAGS,
    check_long_job,
    check_shared_window,
    connection_env,
    quota_emulators,
    trigger,
    wait_for_success,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def emulators() -> Iterator[tuple[ApolloEmulator, ApolloEmulator]]:
    with quota_emulators() as pair:
        yield pair


@pytest.fixture
def cluster(tmp_path: Path, emulators: tuple[ApolloEmulator, ApolloEmulator]) -> Iterator[AirflowCluster]:
    deployment = AirflowCluster(home=tmp_path / "airflow", dags_folder=DAGS, env=connection_env(*emulators))
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
    scenario = trigger(cluster, hourly, shared)
    seen_states = wait_for_success(cluster)

    # The long job: every contact moved, each batch sent once, one 429 per exhausted hour.
    check_long_job(cluster, hourly, scenario, seen_states)
    # The shared window: everyone's owner set; few 429s; the calls took close to the bound.
    figures = check_shared_window(shared, scenario)
    print("\n" + figures.summary("LocalExecutor"))
