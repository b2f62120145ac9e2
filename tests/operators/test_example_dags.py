"""The example outreach DAGs under dag.test() against the emulator and moto's S3.

Every step of ``apollo_outreach_pipeline`` is checked against the emulator's state: custom fields
by label, the list, the enrollment (and the contact Apollo skips, with its reason), the deferred
wait, the replies routed by their class (the interested to stage "Interested" and an owner given
by email, then the export; the uninterested to stage "Not Interested" and out of the sequence;
out-of-office left alone). The prospects reply once the sensor's first check has found nobody, so
the run has to wait. A second run of the same DAG changes no contact twice. Then ``apollo_outreach_wrap_up`` closes the campaign for the others: out
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
from airflow_versions import requires_example_dags

from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import GRACE, SEQUENCE, VOLATILE, connect, team_state

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
DAG_ID = "apollo_outreach_pipeline"
LIST_NAME = "Data leaders outreach"
# Who replies, and what Apollo makes of each reply.
REPLY_CLASSES = ("willing_to_meet", "not_interested", "out_of_office")
REPLYING = len(REPLY_CLASSES)
WAIT_LIMIT_SECONDS = 60.0


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str) -> Iterator[ApolloEmulator]:
    from airflow import settings

    # Memberships never advance on their own: the prospects reply when the test says so.
    with ApolloEmulator(sequence_step_seconds=None) as emulator:
        connect(emulator, monkeypatch)
        monkeypatch.setenv("AIRFLOW_VAR_APOLLO_S3_BUCKET", s3_bucket)
        monkeypatch.setenv("APOLLO_OUTREACH_CHECK_SECONDS", "0.5")
        # dag.test() runs only DAGs of the configured DAGs folder.
        monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
        monkeypatch.setattr(settings, "DAGS_FOLDER", str(EXAMPLE_DAGS))
        yield emulator


def load_example_dag(dag_id: str = DAG_ID) -> Any:
    from airflow_versions import dag_bag_class

    DagBag = dag_bag_class()

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
    """Once the sensor has searched the sequence's emails once (and found no reply), three prospects reply."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    try:
        while time.monotonic() < deadline:
            enrolled = enrolled_ids(emulator)
            if enrolled and emulator.request_count("/api/v1/emailer_messages/search", method="GET") >= 1:
                emulator.reply_in_sequence(dict(zip(enrolled, REPLY_CLASSES, strict=False)), SEQUENCE)
                return
            time.sleep(0.05)
        raise TimeoutError("the sensor never checked the enrolled contacts")
    except BaseException as error:  # reported by the test
        errors.append(error)


@pytest.mark.slow
@requires_example_dags
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
    assert sorted(values["enroll"]) == sorted(set(created) - set(no_email))
    # Everyone enrolled is in the sequence but the uninterested replier, removed from it below.
    assert len(enrolled_ids(emulator)) == len(values["enroll"]) - 1
    mailbox = emulator.email_account_id("ada@outreach.emulated-team.example")
    sequence_id = emulator.sequence_id(SEQUENCE)
    assert {
        emulator.sequence_statuses(i)[sequence_id]["send_email_from_email_account_id"]
        for i in enrolled_ids(emulator)
    } == {mailbox}
    # 4. The sensor waited (more than one search of the emails) and reports the repliers by class,
    # without reading any contact.
    interested, uninterested, away = sorted(values["enroll"])[:REPLYING]
    repliers = [i for i in values["enroll"] if i in (interested, uninterested, away)]
    found = values["wait_for_replies"]
    assert found["replied"] == repliers
    assert {name: ids for name, ids in found["reply_classes"].items() if ids} == {
        "willing_to_meet": [interested],
        "not_interested": [uninterested],
        "out_of_office": [away],
    }
    assert emulator.request_count("/api/v1/emailer_messages/search", method="GET") >= 2
    assert emulator.request_count("/api/v1/contacts/", method="GET") == 0
    # 5. The interested: stage "Interested" given by name, the owner given by email, the export.
    grace = next(user["id"] for user in emulator.users if user["email"] == GRACE)
    assert values["move_interested"] == values["assign_owner"] == [interested]
    # 6. The uninterested: stage "Not Interested", out of the sequence.
    assert values["move_not_interested"] == values["stop_outreach"] == [uninterested]
    stage_of = {i: contacts[i]["contact_stage_id"] for i in created}
    assert stage_of[interested] == emulator.stage_id("Interested")
    assert stage_of[uninterested] == emulator.stage_id("Not Interested")
    routed = {emulator.stage_id("Interested"), emulator.stage_id("Not Interested")}
    assert [i for i in created if stage_of[i] in routed] == [
        i for i in created if i in (interested, uninterested)
    ]
    assert [i for i in created if contacts[i]["owner_id"] == grace] == [interested]
    assert sequence_id not in emulator.sequence_statuses(uninterested)
    # 7. Out of office: left alone; Apollo paused the membership (mark_paused_if_ooo).
    assert emulator.sequence_statuses(away)[sequence_id]["status"] == "paused"
    # 8. The export holds the interested.
    bucket, _, key = values["export_responders.s3_uri"].removeprefix("s3://").partition("/")
    body = boto3.client("s3", endpoint_url=aws_connection).get_object(Bucket=bucket, Key=key)["Body"].read()
    assert bucket == s3_bucket
    assert [json.loads(line)["id"] for line in body.decode().splitlines()] == [interested]

    # A re-run: the same people, lists, stages and owners; nothing doubled.
    after_first = team_state(emulator, ignore=VOLATILE)
    second = dag.test()
    assert second.state == "success", {ti.task_id: ti.state for ti in second.get_task_instances()}
    again = xcoms(second)
    for task in ("create_contacts", "add_to_list", "wait_for_replies"):
        assert again[task] == values[task], task
    assert again["assign_owner"] == [interested]
    after_second = team_state(emulator, ignore=VOLATILE)
    assert after_second["contacts"] == after_first["contacts"]
    assert after_second["lists"] == after_first["lists"]


@pytest.mark.slow
@requires_example_dags
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
    sequence_id = emulator.sequence_id(SEQUENCE)
    still_in = [i for i in enrolled_ids(emulator) if sequence_id in emulator.sequence_statuses(i)]
    assert silent

    wrap_up = load_example_dag("apollo_outreach_wrap_up").test(run_conf={"contact_ids": silent})

    assert wrap_up.state == "success", {ti.task_id: ti.state for ti in wrap_up.get_task_instances()}
    values = xcoms(wrap_up)
    assert values["finish_sequence"] == values["remove_from_list"] == values["note_outcome"] == silent
    sequence_id = emulator.sequence_id(SEQUENCE)
    label_id = next(label["id"] for label in emulator.labels if label["name"] == LIST_NAME)
    detail = emulator.field_id("Lead source detail")
    contacts = emulator.contacts
    for contact_id in still_in:
        membership = emulator.sequence_statuses(contact_id)[sequence_id]
        is_silent = contact_id in silent
        # The silent are finished by the wrap-up; the repliers keep what their reply made of them.
        assert membership["inactive_reason"] == ("manually finished" if is_silent else None)
        assert (label_id in contacts[contact_id]["label_ids"]) == (not is_silent)
        noted = contacts[contact_id]["typed_custom_fields"].get(detail)
        assert (noted == "No reply to Outbound - Data leaders") == is_silent
