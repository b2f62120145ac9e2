"""Retries change nothing twice: a request applied but answered 5xx, and a whole task run again.

Apollo has no idempotency keys. The outreach writes are safe to repeat because of what they do:
an enrollment counts a contact already in the sequence as enrolled, a bulk update sets the same
values again, a list addition or a stage or owner change lands where it already is, and bulk
create with ``run_dedupe`` finds the people it created. These tests hold the emulator's state to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator, ApolloRemoveFromListsOperator
from airflow_provider_apollo.operators.sequences import (
    SKIPPED_CONTACTS_KEY,
    ApolloAddToSequenceOperator,
    ApolloRemoveFromSequenceOperator,
)
from airflow_provider_apollo.testing import ApolloEmulator

SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
GRACE = "grace.hopper@emulated-team.example"
# Timestamps a repeated write may move; every other field must stay as the first run left it.
VOLATILE = {"updated_at"}
# Two bulk update requests (the operator sends 100 contacts a call).
TWO_BATCHES = 150


class TaskInstance:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = json.loads(json.dumps(value))

    def xcom_pull(self, *args: Any, **kwargs: Any) -> Any:
        return None


def run(operator: Any) -> tuple[Any, dict[str, Any]]:
    ti = TaskInstance()
    return operator.execute({"ti": ti}), ti.xcom


def state(emulator: ApolloEmulator) -> dict[str, Any]:
    """The team's contacts, their sequence memberships and the lists, without volatile timestamps."""
    contacts = emulator.contacts
    return {
        "contacts": {
            i: {key: value for key, value in contact.items() if key not in VOLATILE}
            for i, contact in contacts.items()
        },
        "memberships": {i: emulator.sequence_statuses(i) for i in contacts},
        "lists": {label["name"]: label["id"] for label in emulator.labels},
        "sequences": emulator.sequences,
    }


def statuses(emulator: ApolloEmulator, path_part: str) -> list[int]:
    return [r.status for r in emulator.requests if path_part in r.path]


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    # Memberships never advance on their own, so a second run sees the state the first one left.
    with ApolloEmulator(sequence_step_seconds=None) as emulator:
        connection = {
            "conn_type": "apollo",
            "password": emulator.api_key,
            "host": emulator.url,
            "extra": {"max_retry_wait": 0.2},
        }
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        yield emulator


def test_enrollment_applied_but_answered_500_is_retried_and_enrolls_each_contact_once(
    team: ApolloEmulator,
) -> None:
    ids = team.seed_contacts(5)
    team.add_fault("status_after_apply", path="/add_contact_ids", status=500)
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    )

    enrolled, xcom = run(operator)

    # The first request was applied, then failed; the retry found everyone already in the sequence.
    assert statuses(team, "/add_contact_ids") == [500, 200]
    assert enrolled == ids and xcom[SKIPPED_CONTACTS_KEY] == {}
    sequence_id = team.sequence_id(SEQUENCE)
    assert all(list(team.sequence_statuses(i)) == [sequence_id] for i in ids)
    sequence = next(s for s in team.sequences if s["id"] == sequence_id)
    assert sequence["contact_statuses"]["active"] == len(ids)
    # The task retried as a whole: the same answer, the same memberships (added once, not re-added).
    after_first = state(team)
    assert run(operator) == (ids, {SKIPPED_CONTACTS_KEY: {}})
    assert state(team) == after_first


def test_bulk_update_applied_but_answered_500_is_retried_and_changes_nothing_twice(
    team: ApolloEmulator,
) -> None:
    ids = team.seed_contacts(TWO_BATCHES)
    segment = team.field_id("Segment")
    enterprise = team.picklist_option_id("Segment", "Enterprise")
    team.add_fault("status_after_apply", path="/contacts/bulk_update", status=500, start=2)
    operator = ApolloUpdateContactOperator(
        task_id="update",
        contacts=[
            {"id": i, "title": f"T{n}", "custom_fields": {"Segment": "Enterprise"}} for n, i in enumerate(ids)
        ],
    )

    updated, _ = run(operator)

    # The second batch was applied, answered 500 and sent again; the first batch went once.
    assert statuses(team, "/contacts/bulk_update") == [200, 500, 200]
    assert updated == ids
    contacts = team.contacts
    assert [contacts[i]["title"] for i in ids] == [f"T{n}" for n in range(len(ids))]
    assert {contacts[i]["typed_custom_fields"][segment] for i in ids} == {enterprise}
    after_first = state(team)
    assert run(operator)[0] == ids
    assert state(team) == after_first


Make = Callable[[list[str]], Any]

# Each write of the workflow, given contacts that exist; the team's names as a DAG gives them.
WRITES: dict[str, Make] = {
    "bulk create with dedupe": lambda ids: ApolloCreateContactOperator(
        task_id="create",
        contacts=[
            {"first_name": "Maya", "email": "maya@northwind.example", "custom_fields": {"Segment": "SMB"}},
            {"first_name": "Lukas", "last_name": "Weber", "organization_name": "Alpenwerk"},
        ],
    ),
    "add to a new list": lambda ids: ApolloAddToListsOperator(
        task_id="list", contact_ids=ids, list_names=["Data leaders outreach"]
    ),
    "remove from a list": lambda ids: ApolloRemoveFromListsOperator(
        task_id="unlist", contact_ids=ids[:2], list_names="Target accounts"
    ),
    "enroll": lambda ids: ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    ),
    "finish in the sequence": lambda ids: ApolloRemoveFromSequenceOperator(
        task_id="finish", sequence="Inbound demo follow-up", contact_ids=ids[:2]
    ),
    "stage by name": lambda ids: ApolloUpdateStagesOperator(
        task_id="stage", contact_ids=ids, contact_stage="Replied"
    ),
    "owner by email": lambda ids: ApolloUpdateOwnersOperator(
        task_id="owner", contact_ids=ids, new_owner=GRACE
    ),
    "bulk update": lambda ids: ApolloUpdateContactOperator(
        task_id="update",
        contacts=[{"id": i, "custom_fields": {"Lead score": 90}, "title": "CTO"} for i in ids],
    ),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_retried_task_changes_nothing_twice(team: ApolloEmulator, write: str) -> None:
    ids = team.seed_contacts(4)
    team.add_label("Target accounts")
    ApolloAddToListsOperator(task_id="setup", contact_ids=ids, list_names="Target accounts").execute({})
    ApolloAddToSequenceOperator(
        task_id="setup", sequence="Inbound demo follow-up", contact_ids=ids[:2], mailbox=GRACE
    ).execute({"ti": TaskInstance()})
    before = state(team)
    operator = WRITES[write](ids)

    first = run(operator)
    after_first = state(team)
    second = run(operator)

    assert after_first != before, "the first run changed nothing: the case tests nothing"
    assert second == first
    assert state(team) == after_first
