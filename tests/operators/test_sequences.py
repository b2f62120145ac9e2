"""
The sequence operators against the emulated team: enrolling by sequence name and mailbox address,
skipped contacts and their reasons, removal, names the team does not have, and retries that enroll
nobody twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_apollo.core.sequence_check import REPLY_CLASSES
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError
from airflow_provider_apollo.operators.sequences import (
    SKIPPED_CONTACTS_KEY,
    ApolloAddToSequenceOperator,
    ApolloRemoveFromSequenceOperator,
)
from airflow_provider_apollo.sensors.sequence_status import ApolloSequenceStatusSensor
from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import (
    MAILBOX,
    SEQUENCE,
    VOLATILE,
    assert_a_retried_task_changes_nothing_twice,
    assert_fails_before_any_write,
    create_contacts,
    people,
    run,
    statuses,
    task_context,
    team_state,
    writes,
)

# ---------------------------------------------------------------- enroll


def test_enrolling_twice_enrolls_once_and_reports_skipped_contacts(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(2), {"first_name": "No", "last_name": "Email"})
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    )
    first, second = task_context(), task_context()
    assert operator.execute(first) == ids[:2]
    # A retried task: same answer, nobody enrolled twice.
    assert operator.execute(second) == ids[:2]
    assert first["ti"].xcoms[SKIPPED_CONTACTS_KEY] == {ids[2]: "contacts_without_email"}
    assert second["ti"].xcoms[SKIPPED_CONTACTS_KEY] == {ids[2]: "contacts_without_email"}
    sequence_id = next(s["id"] for s in team.sequences if s["name"] == SEQUENCE)
    for contact_id in ids[:2]:
        memberships = team.contacts[contact_id]["contact_campaign_statuses"]
        assert [s["emailer_campaign_id"] for s in memberships] == [sequence_id]


def test_skipped_contacts_fail_the_task_under_on_skipped_fail(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(1), {"first_name": "No", "last_name": "Email"})
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX, on_skipped="fail"
    )
    context = task_context()
    with pytest.raises(AirflowFailException, match="has no email address"):
        operator.execute(context)
    assert context["ti"].xcoms[SKIPPED_CONTACTS_KEY] == {ids[1]: "contacts_without_email"}


def test_enrollment_flag_lets_apollo_enroll_contacts_without_email(team: ApolloEmulator) -> None:
    ids = create_contacts({"first_name": "No", "last_name": "Email"})
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX, sequence_no_email=True
    )
    assert operator.execute(task_context()) == ids


# ---------------------------------------------------------------- remove


def test_remove_from_sequence_marks_finished_by_default(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(2))
    ApolloAddToSequenceOperator(task_id="e", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX).execute(
        task_context()
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


# ---------------------------------------------------------------- names the team does not have


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
    ids = create_contacts(*people(1))
    before = len(writes(team))
    operator = ApolloAddToSequenceOperator(
        task_id="enroll", sequence=sequence, contact_ids=ids, mailbox=mailbox
    )
    with pytest.raises(ApolloArgumentError, match=message):
        operator.execute(task_context())
    assert len(writes(team)) == before


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
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_before_any_write_naming_what_is_known(team: ApolloEmulator, case: str) -> None:
    make, message = BAD_INPUT[case]
    assert_fails_before_any_write(team, lambda ids: run(make(ids)), ApolloArgumentError, message)


def test_enrollment_with_a_key_that_is_not_a_master_key_changes_nothing(
    scoped_key_team: ApolloEmulator,
) -> None:
    # No API tells a key's scope in advance: the enrollment itself is refused, and nothing changes.
    ids = scoped_key_team.seed_contacts(3)
    before = team_state(scoped_key_team)
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
    assert team_state(scoped_key_team) == before


# ---------------------------------------------------------------- retried tasks enroll nobody twice


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
    after_first = team_state(team, ignore=VOLATILE)
    assert run(operator) == (ids, {SKIPPED_CONTACTS_KEY: {}})
    assert team_state(team, ignore=VOLATILE) == after_first


# Each sequence write of the outreach workflow, given contacts that exist (the first two already in
# "Inbound demo follow-up").
RETRIED_WRITES: dict[str, Case] = {
    "enroll": lambda ids: ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    ),
    "finish in the sequence": lambda ids: ApolloRemoveFromSequenceOperator(
        task_id="finish", sequence="Inbound demo follow-up", contact_ids=ids[:2]
    ),
}


@pytest.mark.parametrize("write", list(RETRIED_WRITES))
def test_a_retried_task_changes_nothing_twice(team: ApolloEmulator, write: str) -> None:
    assert_a_retried_task_changes_nothing_twice(team, RETRIED_WRITES[write])
