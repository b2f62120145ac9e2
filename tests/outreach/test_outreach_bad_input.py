"""Bad input to the outreach operators fails before any write, naming what was wrong and what is known.

Each case runs an operator against the emulator over HTTP with input that names something the team
does not have (a sequence, a mailbox, an owner's email, a custom field, a picklist value, a stage),
or with a key that is not a master key where one is needed. The contacts exist beforehand (seeded
straight into the emulator, not through the API), so the emulator must have received no write
request at all, and every contact must be exactly as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError
from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator
from airflow_provider_apollo.operators.sequences import (
    ApolloAddToSequenceOperator,
    ApolloRemoveFromSequenceOperator,
)
from airflow_provider_apollo.sensors.sequence_status import ApolloSequenceStatusSensor
from airflow_provider_apollo.testing import ApolloEmulator

SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
GRACE = "grace.hopper@emulated-team.example"
SEGMENTS = r"'Enterprise', 'Mid-Market', 'SMB'"
# A bulk update of this many contacts takes two requests: the bad value sits in the second batch.
TWO_BATCHES = 150


class TaskInstance:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def run(operator: Any) -> Any:
    if isinstance(operator, ApolloSequenceStatusSensor):
        return operator.poke({})
    return operator.execute({"ti": TaskInstance()})


def writes(emulator: ApolloEmulator) -> list[str]:
    """Every request that could change something: searches and GETs read only."""
    return [
        f"{r.method} {r.path} -> {r.status}"
        for r in emulator.requests
        if r.method != "GET" and not r.path.endswith("/search")
    ]


def state(emulator: ApolloEmulator) -> tuple[Any, ...]:
    contacts = emulator.contacts
    memberships = {i: emulator.sequence_statuses(i) for i in contacts}
    return contacts, memberships, emulator.labels, emulator.contact_count


def connect(emulator: ApolloEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    with ApolloEmulator(sequence_step_seconds=None) as emulator:
        connect(emulator, monkeypatch)
        yield emulator


@pytest.fixture
def scoped_key_team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """A team whose key is not a master key: users/search and add_contact_ids answer 403."""
    with ApolloEmulator(master_key=False, sequence_step_seconds=None) as emulator:
        connect(emulator, monkeypatch)
        yield emulator


Case = Callable[[list[str]], Any]

BAD_INPUT: dict[str, tuple[Case, str]] = {
    "unknown sequence": (
        lambda ids: ApolloAddToSequenceOperator(
            task_id="enroll", sequence="Outbound", contact_ids=ids, mailbox=MAILBOX
        ),
        r"Unknown sequence 'Outbound'.*'Outbound - Data leaders'",
    ),
    "unknown mailbox": (
        lambda ids: ApolloAddToSequenceOperator(
            task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox="nobody@example.com"
        ),
        r"Unknown mailbox 'nobody@example.com'.*ada@outreach\.emulated-team\.example",
    ),
    "unknown sequence to leave": (
        lambda ids: ApolloRemoveFromSequenceOperator(task_id="remove", sequence="Inbound", contact_ids=ids),
        r"Unknown sequence 'Inbound'.*'Inbound demo follow-up'",
    ),
    "unknown sequence to wait on": (
        lambda ids: ApolloSequenceStatusSensor(
            task_id="wait", sequence="Nurture", contact_ids=ids, target_statuses="replied"
        ),
        r"Unknown sequence 'Nurture'.*'Outbound - Data leaders'",
    ),
    "unknown owner email": (
        lambda ids: ApolloUpdateOwnersOperator(task_id="owner", contact_ids=ids, new_owner="x@example.com"),
        rf"Unknown owner 'x@example.com'.*{GRACE}",
    ),
    "unknown owner email in a created contact": (
        lambda ids: ApolloCreateContactOperator(
            task_id="create",
            contacts=[{"first_name": "A"}, {"first_name": "B", "owner_id": "x@example.com"}],
        ),
        rf"Unknown owner 'x@example.com'.*{GRACE}",
    ),
    "unknown owner email in a bulk update": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update",
            contacts=[{"id": i, "title": "VP"} for i in ids[:-1]]
            + [{"id": ids[-1], "owner_id": "x@example.com"}],
        ),
        rf"Unknown owner 'x@example.com'.*{GRACE}",
    ),
    "unknown custom field": (
        lambda ids: ApolloCreateContactOperator(
            task_id="create",
            contacts=[{"first_name": "A"}, {"first_name": "B", "custom_fields": {"Score": 1}}],
        ),
        r"unknown custom field\(s\) 'Score'.*'Lead score'",
    ),
    "unknown custom field in one contact's update": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update", contact_id=ids[0], fields={"custom_fields": {"Tier": "Gold"}}
        ),
        r"unknown custom field\(s\) 'Tier'.*'Segment'",
    ),
    "unknown picklist value": (
        lambda ids: ApolloCreateContactOperator(
            task_id="create", contact={"first_name": "A", "custom_fields": {"Segment": "Huge"}}
        ),
        rf"'Huge' is not an option.*{SEGMENTS}",
    ),
    "unknown picklist value in the second batch of a bulk update": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update",
            contacts=[{"id": i, "custom_fields": {"Segment": "SMB"}} for i in ids[:-1]]
            + [{"id": ids[-1], "custom_fields": {"Segment": "Huge"}}],
        ),
        rf"'Huge' is not an option.*{SEGMENTS}",
    ),
    "a number field given text": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update", contacts=[{"id": i, "custom_fields": {"Lead score": "high"}} for i in ids]
        ),
        r"field 'Lead score' holds a number, got 'high'",
    ),
    "unknown stage": (
        lambda ids: ApolloUpdateStagesOperator(task_id="stage", contact_ids=ids, contact_stage="Hot"),
        r"Unknown contact stage 'Hot'.*'Replied'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_before_any_write_naming_what_is_known(team: ApolloEmulator, case: str) -> None:
    make, message = BAD_INPUT[case]
    ids = team.seed_contacts(TWO_BATCHES)
    before = state(team)

    with pytest.raises(ApolloArgumentError, match=message):
        run(make(ids))

    assert writes(team) == []
    assert state(team) == before


def test_bad_list_names_fail_when_the_dag_is_parsed() -> None:
    with pytest.raises(ApolloArgumentError, match="list_names must contain non-empty strings"):
        ApolloAddToListsOperator(task_id="lists", contact_ids=["c1"], list_names=["Leads", " "])


NEEDS_MASTER_KEY: dict[str, Case] = {
    "owner by email": lambda ids: ApolloUpdateOwnersOperator(
        task_id="owner", contact_ids=ids, new_owner=GRACE
    ),
    "owner by email in created contacts": lambda ids: ApolloCreateContactOperator(
        task_id="create", contacts=[{"first_name": "A", "owner_id": GRACE}]
    ),
    "owner by email in a bulk update": lambda ids: ApolloUpdateContactOperator(
        task_id="update", contacts=[{"id": i, "owner_id": GRACE} for i in ids]
    ),
}


@pytest.mark.parametrize("case", list(NEEDS_MASTER_KEY))
def test_owner_email_with_a_key_that_is_not_a_master_key_fails_before_any_write(
    scoped_key_team: ApolloEmulator, case: str
) -> None:
    ids = scoped_key_team.seed_contacts(3)
    before = state(scoped_key_team)

    with pytest.raises(ApolloAuthError, match=rf"'{GRACE}'.*or a master API key.*user id"):
        run(NEEDS_MASTER_KEY[case](ids))

    assert writes(scoped_key_team) == []
    assert state(scoped_key_team) == before


def test_enrollment_with_a_key_that_is_not_a_master_key_changes_nothing(
    scoped_key_team: ApolloEmulator,
) -> None:
    # No API tells a key's scope in advance: the enrollment itself is refused, and nothing changes.
    ids = scoped_key_team.seed_contacts(3)
    before = state(scoped_key_team)
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    )

    with pytest.raises(
        ApolloAuthError,
        match="or a master API key.*403.*not authorized to access api/v1/emailer_campaigns/add_contact_ids",
    ):
        run(operator)

    sequence_id = scoped_key_team.sequence_id(SEQUENCE)
    assert writes(scoped_key_team) == [f"POST /api/v1/emailer_campaigns/{sequence_id}/add_contact_ids -> 403"]
    assert state(scoped_key_team) == before
