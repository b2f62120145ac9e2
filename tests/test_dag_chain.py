"""DAGs end to end under dag.test() against the emulator, and every DAG file parses without I/O."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_versions import requires_example_dags
from dag_support import load_dag, xcom_value

from airflow_provider_apollo.testing import ApolloEmulator

REPO = Path(__file__).resolve().parent.parent
DAG_FOLDERS = [REPO / "example_dags", REPO / "tests" / "dags"]
# The emulator moves half the contacts put in "Approaching" to "Replied" this many seconds later.
REPLY_AFTER = 1.5


@pytest.fixture
def replying_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """An emulator where contacts moved to Approaching reply later, as ``apollo_default``."""
    with ApolloEmulator(reply_after=REPLY_AFTER) as emulator:
        connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        yield emulator


@pytest.mark.slow
@pytest.mark.parametrize("dag_id", ["apollo_chain_poke", "apollo_chain_deferrable"])
def test_chain_create_stages_owners_sensor_under_dag_test(
    replying_emulator: ApolloEmulator, dag_id: str
) -> None:
    emulator = replying_emulator
    owner_id = emulator.users[1]["id"]
    dag = load_dag(dag_id)

    dag_run = dag.test(run_conf={"owner_id": owner_id})

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    created_ids = xcom_value(dag_run, "create")
    assert len(created_ids) == 4
    assert xcom_value(dag_run, "update_stages") == created_ids
    assert xcom_value(dag_run, "update_owners") == created_ids
    contacts = emulator.contacts
    assert set(contacts) == set(created_ids)
    assert {contacts[i]["owner_id"] for i in created_ids} == {owner_id}
    replied = emulator.stage_id("Replied")
    approaching = emulator.stage_id("Approaching")
    in_replied = [i for i in created_ids if contacts[i]["contact_stage_id"] == replied]
    # The sensor's XCom is exactly the contacts that replied; everyone else is still Approaching.
    assert in_replied and xcom_value(dag_run, "wait_for_reply") == in_replied
    assert all(contacts[i]["contact_stage_id"] == approaching for i in created_ids if i not in in_replied)
    assert emulator.status_counts().keys() == {200}


@requires_example_dags
def test_every_dag_file_parses_without_connections_or_network(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.common.compat.sdk import BaseHook
    from airflow_versions import dag_bag_class

    DagBag = dag_bag_class()

    looked_up: list[str] = []

    def no_connection(*args: Any, **kwargs: Any) -> Any:
        looked_up.append(repr((args, kwargs)))
        raise AssertionError("a connection was looked up while parsing a DAG file")

    def no_network(self: socket.socket, address: Any) -> Any:
        looked_up.append(repr(address))
        raise AssertionError(f"a DAG file opened a connection to {address!r} while parsing")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(no_connection))
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.delenv("AIRFLOW_CONN_APOLLO_DEFAULT", raising=False)

    loaded: dict[str, list[str]] = {}
    for folder in DAG_FOLDERS:
        if not folder.is_dir():
            continue
        bag = DagBag(dag_folder=str(folder), safe_mode=False)
        assert not bag.import_errors, bag.import_errors
        loaded[folder.name] = sorted(bag.dag_ids)
    assert looked_up == []
    assert loaded.get("dags"), "tests/dags holds no DAG"
    assert sum(len(ids) for ids in loaded.values()) >= 2
