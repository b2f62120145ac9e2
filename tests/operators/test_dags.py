"""
The operators and sensors chained in the DAGs of tests/dags, under dag.test() against the emulator,
and every DAG file (tests/dags, example_dags) parsing without a connection or the network.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_versions import requires_example_dags
from dag_support import load_dag, xcom_value

from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import GRACE, SEQUENCE, connect

REPO = Path(__file__).resolve().parents[2]
DAG_FOLDERS = [REPO / "example_dags", REPO / "tests" / "dags"]
# The emulator moves half the contacts put in "Approaching" to "Replied" this many seconds later.
REPLY_AFTER = 1.5


@pytest.fixture
def replying_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """An emulator where contacts moved to Approaching reply later, as ``apollo_default``."""
    with ApolloEmulator(reply_after=REPLY_AFTER) as emulator:
        connect(emulator, monkeypatch)
        yield emulator


@pytest.fixture
def outreach_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """The outreach team as ``apollo_default``, its sequences advancing: replies come within seconds."""
    # A sequence step lasts 0.5 s of real time.
    with ApolloEmulator(time_scale=0.01, sequence_step_seconds=50) as emulator:
        connect(emulator, monkeypatch)
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


@pytest.mark.slow
def test_outreach_workflow_create_list_enroll_wait_stage_owner(outreach_emulator: ApolloEmulator) -> None:
    emulator = outreach_emulator
    dag = load_dag("apollo_outreach_sequences")

    dag_run = dag.test()

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    created = xcom_value(dag_run, "create_contacts")
    assert len(created) == 3
    contacts = emulator.contacts
    segment = next(f for f in emulator.fields if f["label"] == "Segment")
    enterprise = next(o["id"] for o in segment["meta"]["picklist_values"] if o["name"] == "Enterprise")
    assert contacts[created[0]]["typed_custom_fields"][segment["id"].split(".", 1)[1]] == enterprise
    label = next(label for label in emulator.labels if label["name"] == "Data Council 2026 leads")
    assert all(label["id"] in contacts[i]["label_ids"] for i in created)
    assert xcom_value(dag_run, "enroll") == created
    reached = xcom_value(dag_run, "wait_for_replies")
    assert set(reached) == {"replied", "reply_classes"} and reached["replied"]
    assert sorted(i for ids in reached["reply_classes"].values() for i in ids) == sorted(reached["replied"])
    sequence_id = next(s["id"] for s in emulator.sequences if s["name"] == SEQUENCE)
    for contact_id in reached["replied"]:
        status = next(
            s
            for s in contacts[contact_id]["contact_campaign_statuses"]
            if s["emailer_campaign_id"] == sequence_id
        )
        # Finished by the reply (mark_finished_if_reply), or paused by an out-of-office one; no reason text.
        assert status["status"] in ("finished", "paused") and status["inactive_reason"] is None
    replied_stage = emulator.stage_id("Replied")
    grace = next(u["id"] for u in emulator.users if u["email"] == GRACE)
    assert xcom_value(dag_run, "assign_owner") == reached["replied"]
    for contact_id in created:
        in_replied = contact_id in reached["replied"]
        assert (contacts[contact_id]["contact_stage_id"] == replied_stage) == in_replied
        assert (contacts[contact_id]["owner_id"] == grace) == in_replied


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
