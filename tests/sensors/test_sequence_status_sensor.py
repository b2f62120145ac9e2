"""
ApolloSequenceStatusSensor against the emulated outreach team: contacts not in the sequence fail the
wait, a reply of a wanted class is reported within one check (poked and deferred), and an unknown
sequence fails before any request, naming the team's sequences.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from operators.outreach_support import (
    MAILBOX,
    SEQUENCE,
    assert_fails_before_any_write,
    create_contacts,
    outreach_team,
    people,
    task_context,
)

from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.operators.sequences import ApolloAddToSequenceOperator
from airflow_provider_apollo.sensors.sequence_status import ApolloSequenceStatusSensor
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.triggers.sequence_status import ApolloSequenceStatusTrigger


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """The emulated outreach team as ``apollo_default`` (tests/operators/outreach_support.py)."""
    with outreach_team(monkeypatch) as emulator:
        yield emulator


def test_sensor_fails_for_contacts_not_in_the_sequence(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(1))
    sensor = ApolloSequenceStatusSensor(
        task_id="s", sequence=SEQUENCE, contact_ids=ids, target_statuses=["replied", "finished"]
    )
    with pytest.raises(AirflowFailException, match="not in sequence 'Outbound - Data leaders'"):
        sensor.poke({})


def test_unknown_sequence_to_wait_on_fails_before_any_write_naming_the_known_ones(
    team: ApolloEmulator,
) -> None:
    assert_fails_before_any_write(
        team,
        lambda ids: ApolloSequenceStatusSensor(
            task_id="wait", sequence="Nurture", contact_ids=ids, target_statuses="replied"
        ).poke({}),
        ApolloArgumentError,
        r"Unknown sequence 'Nurture'.*'Outbound - Data leaders'",
    )


def test_a_reply_is_reported_within_one_check_with_its_class_poked_and_deferred(team: ApolloEmulator) -> None:
    """Only replies of the wanted classes count: an out-of-office reply is ignored, in both paths."""
    ids = create_contacts(*people(3))
    ApolloAddToSequenceOperator(
        task_id="enroll", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX
    ).execute(task_context())
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
