"""The outreach workflow end to end under dag.test() against the emulator, the wait deferred."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from dag_support import load_dag, xcom_value

from airflow_provider_apollo.testing import ApolloEmulator


@pytest.fixture
def outreach_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    # A sequence step lasts 0.5 s of real time, so replies come within a couple of seconds.
    with ApolloEmulator(time_scale=0.01, sequence_step_seconds=50) as emulator:
        connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        yield emulator


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
    sequence_id = next(s["id"] for s in emulator.sequences if s["name"] == "Outbound - Data leaders")
    for contact_id in reached["replied"]:
        status = next(
            s
            for s in contacts[contact_id]["contact_campaign_statuses"]
            if s["emailer_campaign_id"] == sequence_id
        )
        # Finished by the reply (mark_finished_if_reply), or paused by an out-of-office one; no reason text.
        assert status["status"] in ("finished", "paused") and status["inactive_reason"] is None
    replied_stage = emulator.stage_id("Replied")
    grace = next(u["id"] for u in emulator.users if u["email"] == "grace.hopper@emulated-team.example")
    assert xcom_value(dag_run, "assign_owner") == reached["replied"]
    for contact_id in created:
        in_replied = contact_id in reached["replied"]
        assert (contacts[contact_id]["contact_stage_id"] == replied_stage) == in_replied
        assert (contacts[contact_id]["owner_id"] == grace) == in_replied
