"""Simulated replies: contacts moved into Approaching reply on their own after a while."""

from __future__ import annotations

import time

import requests

from airflow_provider_apollo.testing import ApolloEmulator


def approach(emulator: ApolloEmulator, contact_ids: list[str]) -> None:
    response = requests.post(
        f"{emulator.url}/contacts/update_stages",
        headers={"x-api-key": emulator.api_key},
        json={"contact_ids": contact_ids, "contact_stage_id": emulator.stage_id("Approaching")},
    )
    response.raise_for_status()


def wait_for(condition, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def stages_of(emulator: ApolloEmulator, contact_ids: list[str]) -> list[str]:
    return [emulator.get_contact(contact_id)["contact_stage_id"] for contact_id in contact_ids]  # type: ignore[index]


def test_reply_after_moves_a_deterministic_fraction_without_further_requests() -> None:
    with ApolloEmulator(reply_after=0.2, reply_fraction=0.5, seed=7) as emulator:
        ids = emulator.seed_contacts(40, stage="Cold")
        approach(emulator, ids)
        replied = emulator.stage_id("Replied")
        assert replied not in stages_of(emulator, ids)
        assert wait_for(lambda: replied in stages_of(emulator, ids))
        time.sleep(0.1)
        moved = [
            contact_id
            for contact_id, stage in zip(ids, stages_of(emulator, ids), strict=True)
            if stage == replied
        ]
    assert 10 <= len(moved) <= 30
    with ApolloEmulator(reply_after=0.2, reply_fraction=0.5, seed=7) as again:
        again_ids = again.seed_contacts(40, stage="Cold")
        approach(again, again_ids)
        assert wait_for(lambda: replied in stages_of(again, again_ids))
        time.sleep(0.1)
        assert [
            i for i, stage in zip(again_ids, stages_of(again, again_ids), strict=True) if stage == replied
        ] == moved


def test_at_least_one_contact_replies() -> None:
    with ApolloEmulator(reply_after=0.1, reply_fraction=0.01, reply_stage="Interested") as emulator:
        ids = emulator.seed_contacts(3, stage="Cold")
        approach(emulator, ids)
        assert wait_for(lambda: emulator.stage_id("Interested") in stages_of(emulator, ids))


def test_no_reply_for_contacts_that_left_approaching() -> None:
    with ApolloEmulator(reply_after=0.2, reply_fraction=1.0) as emulator:
        ids = emulator.seed_contacts(2, stage="Cold")
        approach(emulator, ids)
        emulator.set_contact_stage(ids, "Do Not Contact")
        time.sleep(0.4)
        assert set(stages_of(emulator, ids)) == {emulator.stage_id("Do Not Contact")}
