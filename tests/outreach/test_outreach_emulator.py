"""Outreach operators and hook methods against the emulator over HTTP: names, retries, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_apollo.core.sequence_check import REPLY_CLASSES
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateOwnersOperator,
)
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator, ApolloRemoveFromListsOperator
from airflow_provider_apollo.operators.sequences import (
    SKIPPED_CONTACTS_KEY,
    ApolloAddToSequenceOperator,
    ApolloRemoveFromSequenceOperator,
)
from airflow_provider_apollo.sensors.sequence_status import ApolloSequenceStatusSensor
from airflow_provider_apollo.testing import ApolloEmulator

SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
GRACE = "grace.hopper@emulated-team.example"


class TaskInstance:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


def context() -> Any:
    return {"ti": TaskInstance()}


def writes(emulator: ApolloEmulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests if r.method != "GET" and "search" not in r.path]


def create(emulator: ApolloEmulator, *people: dict[str, Any]) -> list[str]:
    return [c["id"] for c in ApolloHook().bulk_create_contacts(list(people), run_dedupe=True)]


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    # Sequences never advance on their own here: statuses are what the test makes them.
    with ApolloEmulator(sequence_step_seconds=None) as emulator:
        connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        yield emulator


def people(n: int) -> list[dict[str, Any]]:
    return [{"first_name": f"P{i}", "last_name": "Test", "email": f"p{i}@example.com"} for i in range(n)]


def test_enrolling_twice_enrolls_once_and_reports_skipped_contacts(team: ApolloEmulator) -> None:
    ids = create(team, *people(2), {"first_name": "No", "last_name": "Email"})
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    )
    first, second = context(), context()
    assert operator.execute(first) == ids[:2]
    # A retried task: same answer, nobody enrolled twice.
    assert operator.execute(second) == ids[:2]
    assert first["ti"].xcom[SKIPPED_CONTACTS_KEY] == {ids[2]: "contacts_without_email"}
    assert second["ti"].xcom[SKIPPED_CONTACTS_KEY] == {ids[2]: "contacts_without_email"}
    sequence_id = next(s["id"] for s in team.sequences if s["name"] == SEQUENCE)
    for contact_id in ids[:2]:
        statuses = team.contacts[contact_id]["contact_campaign_statuses"]
        assert [s["emailer_campaign_id"] for s in statuses] == [sequence_id]


def test_skipped_contacts_fail_the_task_under_on_skipped_fail(team: ApolloEmulator) -> None:
    ids = create(team, *people(1), {"first_name": "No", "last_name": "Email"})
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX, on_skipped="fail"
    )
    ctx = context()
    with pytest.raises(AirflowFailException, match="has no email address"):
        operator.execute(ctx)
    assert ctx["ti"].xcom[SKIPPED_CONTACTS_KEY] == {ids[1]: "contacts_without_email"}


def test_enrollment_flag_lets_apollo_enroll_contacts_without_email(team: ApolloEmulator) -> None:
    ids = create(team, {"first_name": "No", "last_name": "Email"})
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX, sequence_no_email=True
    )
    assert operator.execute(context()) == ids


@pytest.mark.parametrize(
    ("sequence", "mailbox", "message"),
    [
        ("Outbound", MAILBOX, r"Unknown sequence 'Outbound'.*'Outbound - Data leaders'"),
        (SEQUENCE, "nobody@example.com", r"Unknown mailbox 'nobody@example.com'.*ada@outreach"),
    ],
)
def test_unknown_sequence_or_mailbox_fails_before_any_enrollment(
    team: ApolloEmulator, sequence: str, mailbox: str, message: str
) -> None:
    ids = create(team, *people(1))
    before = len(writes(team))
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=sequence, contact_ids=ids, mailbox=mailbox
    )
    with pytest.raises(ApolloArgumentError, match=message):
        operator.execute(context())
    assert len(writes(team)) == before


def test_remove_from_sequence_marks_finished_by_default(team: ApolloEmulator) -> None:
    ids = create(team, *people(2))
    ApolloAddToSequenceOperator(task_id="e", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX).execute(
        context()
    )
    assert (
        ApolloRemoveFromSequenceOperator(task_id="r", sequence=SEQUENCE, contact_ids=ids[:1]).execute({})
        == ids[:1]
    )
    sensor = ApolloSequenceStatusSensor(
        task_id="s",
        sequence=SEQUENCE,
        contact_ids=ids,
        target_statuses=["finished", "active"],
        deferrable=False,
    )
    assert sensor.poke({}).xcom_value == {
        "finished": ids[:1],
        "active": ids[1:],
        "reply_classes": dict.fromkeys(REPLY_CLASSES, []),
    }


def test_sensor_fails_for_contacts_not_in_the_sequence(team: ApolloEmulator) -> None:
    ids = create(team, *people(1))
    sensor = ApolloSequenceStatusSensor(
        task_id="s", sequence=SEQUENCE, contact_ids=ids, target_statuses=["replied", "finished"]
    )
    with pytest.raises(AirflowFailException, match="not in sequence 'Outbound - Data leaders'"):
        sensor.poke({})


def test_lists_by_name_created_on_first_use_and_removed(team: ApolloEmulator) -> None:
    ids = create(team, *people(3))
    assert ApolloAddToListsOperator(task_id="a", contact_ids=ids, list_names="Fresh list").execute({}) == ids
    label = next(label for label in team.labels if label["name"] == "Fresh list")
    assert all(label["id"] in team.contacts[i]["label_ids"] for i in ids)
    ApolloRemoveFromListsOperator(task_id="r", contact_ids=ids[:1], list_names=["Fresh list"]).execute({})
    assert [label["id"] in team.contacts[i]["label_ids"] for i in ids] == [False, True, True]


def test_owner_by_email(team: ApolloEmulator) -> None:
    ids = create(team, *people(2))
    assert ApolloUpdateOwnersOperator(task_id="o", contact_ids=ids, new_owner=GRACE).execute({}) == ids
    grace = next(u["id"] for u in team.users if u["email"] == GRACE)
    assert {team.contacts[i]["owner_id"] for i in ids} == {grace}


def test_owner_is_not_taken_from_default_args(team: ApolloEmulator) -> None:
    from airflow.providers.common.compat.sdk import DAG

    with DAG("d", schedule=None, default_args={"owner": "data-team"}):
        operator = ApolloUpdateOwnersOperator(task_id="o", contact_ids=["c1"], owner_id="u1")
    assert operator.new_owner is None and operator.owner == "data-team"


def test_unknown_owner_email_fails_listing_users_before_any_write(team: ApolloEmulator) -> None:
    ids = create(team, *people(1))
    before = len(writes(team))
    with pytest.raises(ApolloArgumentError, match=rf"Unknown owner 'x@example.com'.*{GRACE}"):
        ApolloUpdateOwnersOperator(task_id="o", contact_ids=ids, new_owner="x@example.com").execute({})
    assert len(writes(team)) == before


def test_owner_email_with_a_non_master_key_says_a_master_key_or_an_id_is_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ApolloEmulator(master_key=False) as emulator:
        connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        ids = create(emulator, *people(1))
        with pytest.raises(ApolloAuthError, match="or a master API key.*pass the owner's Apollo user id"):
            ApolloUpdateOwnersOperator(task_id="o", contact_ids=ids, new_owner=GRACE).execute({})
        # An id needs no users lookup, so a non-master key works.
        grace = next(u["id"] for u in emulator.users if u["email"] == GRACE)
        assert ApolloUpdateOwnersOperator(task_id="o2", contact_ids=ids, new_owner=grace).execute({}) == ids


def test_custom_fields_by_label_on_create_and_update(team: ApolloEmulator) -> None:
    contact_id = ApolloCreateContactOperator(
        task_id="c",
        contact={"first_name": "Ada", "email": "ada@example.com", "custom_fields": {"Segment": "SMB"}},
    ).execute(context())
    ApolloUpdateContactOperator(
        task_id="u", contact_id=contact_id, fields={"custom_fields": {"Lead score": 90}}
    ).execute(context())
    by_label = {f["label"]: f for f in team.fields}
    segment, score = by_label["Segment"], by_label["Lead score"]
    smb = next(o["id"] for o in segment["meta"]["picklist_values"] if o["name"] == "SMB")
    typed = team.contacts[contact_id]["typed_custom_fields"]
    assert typed[segment["id"].split(".", 1)[1]] == smb
    assert typed[score["id"].split(".", 1)[1]] == 90


def test_unknown_custom_field_or_value_fails_before_any_write(team: ApolloEmulator) -> None:
    for custom_fields, message in [
        ({"Score": 1}, r"unknown custom field\(s\) 'Score'.*'Lead score'"),
        ({"Segment": "Huge"}, r"'Huge' is not an option.*'Enterprise', 'Mid-Market', 'SMB'"),
    ]:
        operator = ApolloCreateContactOperator(
            task_id="c", contacts=[{"first_name": "A"}, {"first_name": "B", "custom_fields": custom_fields}]
        )
        with pytest.raises(ApolloArgumentError, match=message):
            operator.execute(context())
    assert writes(team) == [] and team.contacts == {}


def test_update_many_contacts_through_bulk_update_twice_changes_nothing_more(team: ApolloEmulator) -> None:
    ids = create(team, *people(3))
    # [START howto_outreach_bulk_update]
    operator = ApolloUpdateContactOperator(
        task_id="update_many",
        contacts=[
            {"id": i, "title": f"T{n}", "custom_fields": {"Segment": "Enterprise"}} for n, i in enumerate(ids)
        ],
    )
    # [END howto_outreach_bulk_update]
    assert operator.execute(context()) == ids
    first = team.contacts
    assert operator.execute(context()) == ids
    assert [team.contacts[i]["title"] for i in ids] == ["T0", "T1", "T2"]
    assert [team.contacts[i]["typed_custom_fields"] for i in ids] == [
        first[i]["typed_custom_fields"] for i in ids
    ]
    assert team.request_count("/contacts/bulk_update") == 2


def test_bulk_update_batches_at_100_and_takes_shared_values_with_owner_email(team: ApolloEmulator) -> None:
    ids = team.seed_contacts(250)
    updated = ApolloHook().bulk_update_contacts(contact_ids=ids, values={"owner_id": GRACE, "title": "VP"})
    grace = next(u["id"] for u in team.users if u["email"] == GRACE)
    assert [c["id"] for c in updated] == ids
    assert {(team.contacts[i]["owner_id"], team.contacts[i]["title"]) for i in ids} == {(grace, "VP")}
    assert team.request_count("/contacts/bulk_update") == 3


def test_update_operator_takes_one_form_only() -> None:
    with pytest.raises(ApolloArgumentError, match="either contact_id= and fields="):
        ApolloUpdateContactOperator(task_id="u", contact_id="c1", contacts=[{"id": "c1", "title": "x"}])
    with pytest.raises(ApolloArgumentError, match="does not take 'contact_stage_id'"):
        ApolloUpdateContactOperator(task_id="u", contacts=[{"id": "c1", "contact_stage_id": "s"}])


def test_a_reply_is_reported_within_one_check_with_its_class_poked_and_deferred(team: ApolloEmulator) -> None:
    """Only replies of the wanted classes count: an out-of-office reply is ignored, in both paths."""
    import asyncio

    from airflow_provider_apollo.triggers.sequence_status import ApolloSequenceStatusTrigger

    ids = create(team, *people(3))
    ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    ).execute(context())
    sensor = ApolloSequenceStatusSensor(
        task_id="s",
        sequence=SEQUENCE,
        contact_ids=ids,
        target_statuses=["replied"],
        reply_classes=["willing_to_meet"],
        require="any",
    )
    assert sensor.poke({}).is_done is False
    team.reply_in_sequence({ids[0]: "out_of_office"}, SEQUENCE)
    assert sensor.poke({}).is_done is False  # out of office is not a wanted class
    team.reply_in_sequence({ids[1]: "willing_to_meet"}, SEQUENCE)
    before = team.request_count("/api/v1/emailer_messages/search", method="GET")
    poked = sensor.poke({})
    expected = {"replied": [ids[1]], "reply_classes": {"willing_to_meet": [ids[1]]}}
    assert poked.is_done and poked.xcom_value == expected
    assert team.request_count("/api/v1/emailer_messages/search", method="GET") == before + 1
    assert team.request_count("/api/v1/contacts/", method="GET") == 0

    trigger = ApolloSequenceStatusTrigger(
        contact_ids=ids,
        sequence_id=team.sequence_id(SEQUENCE),
        target_statuses=["replied"],
        reply_classes=["willing_to_meet"],
        require="any",
        poke_interval=0.1,
    )

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event == {
        "status": "success",
        "reached": {"replied": [ids[1]]},
        "reply_classes": expected["reply_classes"],
    }
    assert sensor.execute_complete({}, event) == expected
