"""
ApolloContactStageTrigger under faults: keep waiting or fail clearly, never succeed wrongly.

Run as the triggerer runs it through the named faults of reliability_support (transient ones end in
a timeout or a true success, persistent ones in an error event, never a success), a key revoked or a
contact deleted mid-run; and an exhausted hourly quota, slept out until the reset unless the reset
comes after the end time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from reliability_support import (
    WATCHED,
    FaultCase,
    Outcome,
    after_applied,
    assert_no_key,
    expect_failure,
    half_replied,
    inject_on_the_check_path,
    persistent_params,
    settle,
    stage_sensor,
    transient_params,
)

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger

TRIGGER_WAIT = 0.4
TRIGGER_POKE = 0.2


def trigger(
    emulator: ApolloEmulator, contact_ids: list[str], wait: float = TRIGGER_WAIT
) -> ApolloContactStageTrigger:
    return ApolloContactStageTrigger(
        contact_ids=contact_ids,
        stage_ids=[emulator.stage_id("Replied")],
        poke_interval=TRIGGER_POKE,
        end_time=time.time() + wait,
    )


def first_event(waiting: ApolloContactStageTrigger, timeout: float = 20.0) -> dict[str, Any]:
    """Run the trigger as the triggerer would, until its one event."""

    async def run() -> dict[str, Any]:
        async for event in waiting.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    payload = asyncio.run(asyncio.wait_for(run(), timeout))
    assert_no_key(payload)
    return payload


# --------------------------------------------------------------------------- faults


@WATCHED
@pytest.mark.parametrize("fault", transient_params())
def test_trigger_under_a_transient_fault_times_out_or_succeeds_truly(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    watched: int,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    ids = half_replied(emulator, watched)
    reconnect(**fault.extra)
    fault.inject(emulator)
    event = first_event(trigger(emulator, ids))
    assert event["status"] == "timeout", event
    assert event["contact_ids"] == ids[:2]
    emulator.set_contact_stage(ids, "Replied")
    fault.inject(emulator)
    event = first_event(trigger(emulator, ids, wait=5.0))
    settle(emulator, fault)
    assert event == {"status": "success", "contact_ids": ids}
    assert stage_sensor(ids).execute_complete(context, event) == ids
    outcome(
        fault.name,
        f"ApolloContactStageTrigger ({watched} contacts)",
        "kept waiting (timeout event), then true success",
    )


@WATCHED
@pytest.mark.parametrize("fault", persistent_params())
def test_trigger_under_a_persistent_fault_sends_an_error_event_never_success(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    watched: int,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    ids = emulator.seed_contacts(watched, stage="Replied")
    reconnect(**fault.extra)
    inject_on_the_check_path(emulator, fault, watched)
    event = first_event(trigger(emulator, ids, wait=30.0))
    settle(emulator, fault)
    assert event["status"] == "error", event
    error = expect_failure(lambda: stage_sensor(ids).execute_complete(context, event), AirflowException)
    assert "Waiting for the contact stage failed" in str(error)
    outcome(fault.name, f"ApolloContactStageTrigger ({watched} contacts)", "error event; task fails clearly")


def test_trigger_with_key_revoked_mid_run_sends_an_error_event(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = emulator.seed_contacts(3, stage="Cold")
    after_applied(emulator, "api_view_contact", 1, lambda: setattr(emulator, "api_key", "revoked"))
    event = first_event(trigger(emulator, ids, wait=30.0))
    assert event["status"] == "error" and "401" in event["message"]
    expect_failure(lambda: stage_sensor(ids).execute_complete(context, event), AirflowException)
    outcome("key revoked mid-run", "ApolloContactStageTrigger", "error event (401); task fails clearly")


@WATCHED
def test_trigger_with_a_contact_deleted_mid_run_reports_it_missing(
    emulator: ApolloEmulator, watched: int, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = half_replied(emulator, watched)
    handler = "api_view_contact" if watched <= 5 else "api_search"
    after_applied(emulator, handler, 1, lambda: emulator.delete_contacts([ids[-1]]))
    event = first_event(trigger(emulator, ids, wait=30.0))
    assert event["status"] == "error" and event["missing_contact_ids"] == [ids[-1]]
    error = expect_failure(lambda: stage_sensor(ids).execute_complete(context, event), AirflowFailException)
    assert ids[-1] in str(error)
    outcome(
        "contact deleted mid-run",
        f"ApolloContactStageTrigger ({watched} contacts)",
        "error event naming the id; task fails",
    )


# --------------------------------------------------------------------------- an exhausted hourly quota


def test_the_trigger_sleeps_until_the_reset_and_then_succeeds(
    tight_quota: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = tight_quota.seed_contacts(2, stage="Approaching")
    later(1.0, tight_quota.set_contact_stage, ids, "Replied")
    waiting = ApolloContactStageTrigger(
        contact_ids=ids,
        stage_ids=[tight_quota.stage_id("Replied")],
        poke_interval=0.2,
        end_time=time.time() + 30,
    )

    async def first() -> dict[str, object]:
        return dict((await anext(waiting.run())).payload)

    assert asyncio.run(first()) == {"status": "success", "contact_ids": ids}
    assert sum(1 for r in tight_quota.requests if r.status == 429) >= 1


def test_the_trigger_reports_a_timeout_when_the_reset_comes_too_late(tight_quota: ApolloEmulator) -> None:
    ids = tight_quota.seed_contacts(2, stage="Approaching")
    waiting = ApolloContactStageTrigger(
        contact_ids=ids,
        stage_ids=[tight_quota.stage_id("Replied")],
        poke_interval=0.01,
        end_time=time.time() + 0.5,
    )

    async def first() -> dict[str, object]:
        return dict((await anext(waiting.run())).payload)

    event = asyncio.run(first())
    assert event["status"] == "timeout"
