"""The example outreach DAGs under dag.test() against the emulator and moto's S3.

Every step of ``apollo_outreach_pipeline`` is checked against the emulator's state: custom fields
by label, the list, the enrollment (and the contact Apollo skips, with its reason), the deferred
wait, the stage and the owner given by name and email, and the export. The prospects reply once
the sensor's first check has found nobody, so the run has to wait. A second run of the same DAG
changes nothing twice. Then ``apollo_outreach_wrap_up`` closes the campaign for the others: out
of the sequence, off the list, and a custom field noted through a bulk update.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_provider_apollo.testing import ApolloEmulator

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
DAG_ID = "apollo_outreach_pipeline"
SEQUENCE = "Outbound - Data leaders"
LIST_NAME = "Data leaders outreach"
OWNER = "grace.hopper@emulated-team.example"
REPLYING = 2
WAIT_LIMIT_SECONDS = 60.0


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str) -> Iterator[ApolloEmulator]:
    from airflow import settings

    # Memberships never advance on their own: the prospects reply when the test says so.
    with ApolloEmulator(sequence_step_seconds=None) as emulator:
        connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        monkeypatch.setenv("AIRFLOW_VAR_APOLLO_S3_BUCKET", s3_bucket)
        monkeypatch.setenv("APOLLO_OUTREACH_CHECK_SECONDS", "0.5")
        # dag.test() runs only DAGs of the configured DAGs folder.
        monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
        monkeypatch.setattr(settings, "DAGS_FOLDER", str(EXAMPLE_DAGS))
        yield emulator


def load_example_dag(dag_id: str = DAG_ID) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def xcoms(dag_run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = list(session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id)))
        return {
            row.task_id
            if row.key == "return_value"
            else f"{row.task_id}.{row.key}": XComModel.deserialize_value(row)
            for row in rows
        }


def enrolled_ids(emulator: ApolloEmulator) -> list[str]:
    sequence_id = emulator.sequence_id(SEQUENCE)
    return sorted(i for i in emulator.contacts if sequence_id in emulator.sequence_statuses(i))


def reply_after_first_check(emulator: ApolloEmulator, errors: list[BaseException]) -> None:
    """Once the sensor has read every enrolled contact once (and found no reply), two of them reply."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    try:
        while time.monotonic() < deadline:
            enrolled = enrolled_ids(emulator)
            if enrolled and emulator.request_count("/api/v1/contacts/", method="GET") >= len(enrolled):
                emulator.reply_in_sequence(enrolled[:REPLYING], SEQUENCE)
                return
            time.sleep(0.05)
        raise TimeoutError("the sensor never checked the enrolled contacts")
    except BaseException as error:  # reported by the test
        errors.append(error)


def state(emulator: ApolloEmulator) -> dict[str, Any]:
    contacts = emulator.contacts
    return {
        "contacts": {
            i: {key: value for key, value in contact.items() if key != "updated_at"}
            for i, contact in contacts.items()
        },
        "memberships": {i: emulator.sequence_statuses(i) for i in contacts},
        "lists": sorted(label["name"] for label in emulator.labels),
    }


@pytest.mark.slow
def test_example_outreach_dag_runs_every_step_and_a_rerun_changes_nothing_twice(
    team: ApolloEmulator, aws_connection: str, s3_bucket: str
) -> None:
    emulator = team
    errors: list[BaseException] = []
    replier = threading.Thread(target=reply_after_first_check, args=(emulator, errors), daemon=True)
    replier.start()
    dag = load_example_dag()

    dag_run = dag.test()

    replier.join(timeout=5)
    assert not errors, errors
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    values = xcoms(dag_run)
    created = values["create_contacts"]
    people = dag.params["contacts"]
    assert len(created) == len(people) == len(set(created)) == emulator.contact_count
    contacts = emulator.contacts

    # 1. Custom fields by label, the picklist by its text.
    score, segment = emulator.field_id("Lead score"), emulator.field_id("Segment")
    for contact_id, person in zip(created, people, strict=True):
        typed = contacts[contact_id]["typed_custom_fields"]
        assert typed[score] == person["custom_fields"]["Lead score"]
        assert typed[segment] == emulator.picklist_option_id("Segment", person["custom_fields"]["Segment"])
    # 2. On the list, created on first use.
    label_id = next(label["id"] for label in emulator.labels if label["name"] == LIST_NAME)
    assert values["add_to_list"] == created
    assert all(label_id in contacts[i]["label_ids"] for i in created)
    # 3. Enrolled from the mailbox given by address; the contact without an email skipped, with the reason.
    no_email = [i for i, person in zip(created, people, strict=True) if not person.get("email")]
    assert values["enroll.skipped_contacts"] == {no_email[0]: "contacts_without_email"}
    assert sorted(values["enroll"]) == enrolled_ids(emulator) == sorted(set(created) - set(no_email))
    mailbox = emulator.email_account_id("ada@outreach.emulated-team.example")
    sequence_id = emulator.sequence_id(SEQUENCE)
    assert {
        emulator.sequence_statuses(i)[sequence_id]["send_email_from_email_account_id"]
        for i in values["enroll"]
    } == {mailbox}
    # 4. The sensor waited (more than one check of every contact) and reports the repliers.
    repliers = enrolled_ids(emulator)[:REPLYING]
    assert values["wait_for_replies"] == {"replied": repliers}
    assert emulator.request_count("/api/v1/contacts/", method="GET") > len(values["enroll"])
    # 5-6. Only the repliers moved to the stage given by name and went to the owner given by email.
    grace = next(user["id"] for user in emulator.users if user["email"] == OWNER)
    replied_stage = emulator.stage_id("Replied")
    assert values["move_repliers"] == values["assign_owner"] == repliers
    for contact_id in created:
        assert (contacts[contact_id]["contact_stage_id"] == replied_stage) == (contact_id in repliers)
        assert (contacts[contact_id]["owner_id"] == grace) == (contact_id in repliers)
    # 7. The export holds the repliers.
    bucket, _, key = values["export_responders.s3_uri"].removeprefix("s3://").partition("/")
    body = boto3.client("s3", endpoint_url=aws_connection).get_object(Bucket=bucket, Key=key)["Body"].read()
    assert bucket == s3_bucket
    assert sorted(json.loads(line)["id"] for line in body.decode().splitlines()) == repliers

    # A re-run: the same people, lists, memberships, stages and owners; nothing doubled.
    after_first = state(emulator)
    second = dag.test()
    assert second.state == "success", {ti.task_id: ti.state for ti in second.get_task_instances()}
    again = xcoms(second)
    for task in ("create_contacts", "add_to_list", "enroll", "enroll.skipped_contacts", "wait_for_replies"):
        assert again[task] == values[task], task
    assert again["assign_owner"] == repliers
    assert state(emulator) == after_first


@pytest.mark.slow
def test_wrap_up_takes_the_silent_contacts_out_of_the_sequence_and_list_and_notes_the_outcome(
    team: ApolloEmulator,
) -> None:
    emulator = team
    errors: list[BaseException] = []
    replier = threading.Thread(target=reply_after_first_check, args=(emulator, errors), daemon=True)
    replier.start()
    outreach = load_example_dag().test()
    replier.join(timeout=5)
    assert outreach.state == "success" and not errors, errors
    repliers = xcoms(outreach)["wait_for_replies"]["replied"]
    silent = [i for i in enrolled_ids(emulator) if i not in repliers]
    assert silent

    wrap_up = load_example_dag("apollo_outreach_wrap_up").test(run_conf={"contact_ids": silent})

    assert wrap_up.state == "success", {ti.task_id: ti.state for ti in wrap_up.get_task_instances()}
    values = xcoms(wrap_up)
    assert values["finish_sequence"] == values["remove_from_list"] == values["note_outcome"] == silent
    sequence_id = emulator.sequence_id(SEQUENCE)
    label_id = next(label["id"] for label in emulator.labels if label["name"] == LIST_NAME)
    detail = emulator.field_id("Lead source detail")
    contacts = emulator.contacts
    for contact_id in enrolled_ids(emulator):
        membership = emulator.sequence_statuses(contact_id)[sequence_id]
        is_silent = contact_id in silent
        # The repliers are untouched: finished because they replied, still on the list.
        assert membership["status"] == "finished"
        assert membership["inactive_reason"] == ("manually finished" if is_silent else "replied")
        assert (label_id in contacts[contact_id]["label_ids"]) == (not is_silent)
        noted = contacts[contact_id]["typed_custom_fields"].get(detail)
        assert (noted == "No reply to Outbound - Data leaders") == is_silent
