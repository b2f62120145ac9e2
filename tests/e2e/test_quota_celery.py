"""The parallel-quota scenario on CeleryExecutor with two workers: tasks on different workers share
the team's quota.

The same DAG run and checks as the LocalExecutor test (``test_quota_real_scheduler.py``, both from
``quota_scenario.py``), but the tasks run in two ``airflow celery worker`` processes fed by a
loopback Redis: the only thing the owner-update tasks share is what the Apollo emulator tells every
caller (its rate-limit state is the team's quota). Each task instance's ``hostname`` shows which
worker ran it, and the share tasks must have run on both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from tests.e2e.celery_cluster import (
    PYTHON_REQUIREMENTS,
    CeleryCluster,
    install_redis_server,
    missing_python_requirements,
)
from tests.e2e.quota_scenario import (
    DAG_ID,
    DAGS,
    LONG_TASK,
    SHARED_TASKS,
    check_long_job,
    check_shared_window,
    connection_env,
    quota_emulators,
    task_instance,
    trigger,
    wait_for_success,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

WORKERS = ("w1", "w2")
# Three slots a worker: the run's five tasks (the long job and four share tasks) all start at once,
# as under LocalExecutor (parallelism 8). With two a worker, one share task waited for the long job
# to defer (over 10 s on a loaded machine) and ran alone in a later window: the span measured the
# executor's slots, not the quota (2.0x once in five runs). No worker takes more than three, so the
# four share tasks always land on both workers.
CONCURRENCY = 3


@pytest.fixture(scope="module")
def redis_server() -> str:
    """Debian's redis-server; installed here when missing (as `make test` does), skipped only
    when it can be neither found nor installed."""
    path, reason = install_redis_server()
    if path is None:
        pytest.skip(f"CeleryExecutor e2e needs redis-server (Debian package redis-server): {reason}")
    return path


@pytest.fixture
def emulators() -> Iterator[tuple[ApolloEmulator, ApolloEmulator]]:
    with quota_emulators() as pair:
        yield pair


@pytest.fixture
def cluster(
    tmp_path: Path, redis_server: str, emulators: tuple[ApolloEmulator, ApolloEmulator]
) -> Iterator[CeleryCluster]:
    missing = missing_python_requirements()
    assert not missing, (
        f"the CeleryExecutor e2e test needs {missing} in the test venv (`make install` puts them there): "
        "pip install " + " ".join(f"'{requirement}'" for requirement in PYTHON_REQUIREMENTS)
    )
    deployment = CeleryCluster(
        home=tmp_path / "airflow",
        dags_folder=DAGS,
        env=connection_env(*emulators),
        redis_server=redis_server,
        workers=WORKERS,
        concurrency=CONCURRENCY,
    )
    try:
        deployment.start()
        deployment.wait_for_api()
        deployment.wait_for_workers()
        deployment.wait_for_dags([DAG_ID])
        yield deployment
    finally:
        deployment.stop()


def test_tasks_on_two_celery_workers_share_one_quota(
    cluster: CeleryCluster, emulators: tuple[ApolloEmulator, ApolloEmulator]
) -> None:
    hourly, shared = emulators
    started = time.monotonic()
    scenario = trigger(cluster, hourly, shared)
    seen_states = wait_for_success(cluster)
    run_seconds = time.monotonic() - started

    # The tasks ran on the Celery workers, the share tasks on both of them.
    nodes = {cluster.node_name(worker): worker for worker in cluster.workers}
    hosts = {task_id: task_instance(cluster, task_id)["hostname"] for task_id in (LONG_TASK, *SHARED_TASKS)}
    assert set(hosts.values()) <= set(nodes), f"tasks ran outside the workers {sorted(nodes)}: {hosts}"
    shared_on = {nodes[hosts[task_id]] for task_id in SHARED_TASKS}
    assert shared_on == set(cluster.workers), f"the share tasks ran only on {shared_on}: {hosts}"
    # The workers' own logs agree: each was handed the share tasks whose hostname names it.
    for worker in cluster.workers:
        ran_here = {task_id for task_id in SHARED_TASKS if nodes[hosts[task_id]] == worker}
        assert ran_here <= cluster.tasks_received(worker), (worker, ran_here, cluster.tasks_received(worker))

    # Exactly the LocalExecutor test's checks: the long job waited deferred and finished in one
    # try; the share tasks, on two workers, kept to the shared window.
    check_long_job(cluster, hourly, scenario, seen_states)
    figures = check_shared_window(shared, scenario)
    by_worker = {
        worker: sorted(t for t in SHARED_TASKS if nodes[hosts[t]] == worker) for worker in cluster.workers
    }
    label = f"CeleryExecutor, {len(cluster.workers)} workers"
    print(
        f"\n{figures.summary(label)}; share tasks by worker {by_worker}; "
        f"run {run_seconds:.1f} s from trigger to success"
    )
