"""ApolloContactStageSensor and its trigger under faults: keep waiting or fail clearly, never succeed wrongly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from reliability_support import (
    FaultCase,
    after_applied,
    assert_no_key,
    expect_failure,
    persistent_params,
    settle,
    transient_params,
)

from airflow_provider_apollo.exceptions import ApolloApiError, ApolloAuthError
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger

Outcome = Callable[[str, str, str], None]
# Up to 5 watched contacts the check GETs each one; more use a stage search: both paths are faulted.
WATCHED = pytest.mark.parametrize("watched", [3, 8], ids=["3-contacts-get-each", "8-contacts-stage-search"])
TRIGGER_WAIT = 0.4
TRIGGER_POKE = 0.2


def sensor(contact_ids: list[str]) -> ApolloContactStageSensor:
    return ApolloContactStageSensor(
        task_id="wait",
        contact_ids=contact_ids,
        target_stages=["Replied"],
        poke_interval=0.1,
        timeout=5,
        deferrable=False,
    )


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


def half_replied(emulator: ApolloEmulator, watched: int) -> list[str]:
    ids = emulator.seed_contacts(watched, stage="Cold")
    emulator.set_contact_stage(ids[:2], "Replied")
    return ids


# --------------------------------------------------------------------------- sensor (poke mode)


@WATCHED
@pytest.mark.parametrize("fault", transient_params())
def test_sensor_poke_under_a_transient_fault_gives_the_true_answer(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    watched: int,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    ids = half_replied(emulator, watched)
    reconnect(**fault.extra)
    waiting = sensor(ids)
    fault.inject(emulator)
    first = waiting.poke(context)
    assert not first.is_done
    assert first.xcom_value == ids[:2]
    emulator.set_contact_stage(ids, "Replied")
    second = waiting.poke(context)
    settle(emulator, fault)
    assert second.is_done and second.xcom_value == ids
    outcome(
        fault.name,
        f"ApolloContactStageSensor poke ({watched} contacts)",
        "kept waiting, then done: true answer",
    )


def inject_on_the_check_path(emulator: ApolloEmulator, fault: FaultCase, watched: int) -> None:
    """The fault on the requests the check sends: the per-contact GETs (<= 5 ids) or the stage search."""
    if watched <= 5:
        fault.inject(emulator, path="/contacts/", method="GET")
    else:
        fault.inject(emulator, path="/contacts/search", method="POST")


@WATCHED
@pytest.mark.parametrize("fault", persistent_params())
def test_sensor_poke_under_a_persistent_fault_fails_clearly_never_done(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    watched: int,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    # Every contact IS in the target stage: a misread error must not become "done", "waiting" or "none left".
    ids = emulator.seed_contacts(watched, stage="Replied")
    reconnect(**fault.extra)
    waiting = sensor(ids)
    waiting.hook.list_contact_stages()  # stage names resolved before the outage
    inject_on_the_check_path(emulator, fault, watched)
    expect_failure(lambda: waiting.poke(context), ApolloApiError)
    settle(emulator, fault)
    if watched <= 5:
        # The per-contact path failed the poke: no stage search was sent.
        assert emulator.request_count("/contacts/search") == 0
        assert emulator.request_count("/contacts/", method="GET") >= 1
    else:
        assert emulator.request_count("/contacts/search") >= 1
    outcome(fault.name, f"ApolloContactStageSensor poke ({watched} contacts)", "failed clearly, never done")


def test_sensor_with_key_revoked_mid_run_fails_clearly(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = half_replied(emulator, 8)
    waiting = sensor(ids)
    assert not waiting.poke(context).is_done
    emulator.api_key = "revoked"
    error = expect_failure(lambda: waiting.poke(context), ApolloAuthError)
    assert "401" in str(error)
    outcome("key revoked mid-run", "ApolloContactStageSensor poke", "failed clearly (401)")


@WATCHED
def test_sensor_with_a_contact_deleted_mid_run_fails_naming_it(
    emulator: ApolloEmulator, watched: int, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = half_replied(emulator, watched)
    waiting = sensor(ids)
    assert not waiting.poke(context).is_done
    emulator.delete_contacts([ids[-1]])
    error = expect_failure(lambda: waiting.poke(context), AirflowFailException)
    assert ids[-1] in str(error)
    outcome(
        "contact deleted mid-run",
        f"ApolloContactStageSensor poke ({watched} contacts)",
        "failed clearly naming the id",
    )


# --------------------------------------------------------------------------- trigger (deferrable)


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
    assert sensor(ids).execute_complete(context, event) == ids
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
    error = expect_failure(lambda: sensor(ids).execute_complete(context, event), AirflowException)
    assert "Waiting for the contact stage failed" in str(error)
    outcome(fault.name, f"ApolloContactStageTrigger ({watched} contacts)", "error event; task fails clearly")


def test_trigger_with_key_revoked_mid_run_sends_an_error_event(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = emulator.seed_contacts(3, stage="Cold")
    after_applied(emulator, "api_view_contact", 1, lambda: setattr(emulator, "api_key", "revoked"))
    event = first_event(trigger(emulator, ids, wait=30.0))
    assert event["status"] == "error" and "401" in event["message"]
    expect_failure(lambda: sensor(ids).execute_complete(context, event), AirflowException)
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
    error = expect_failure(lambda: sensor(ids).execute_complete(context, event), AirflowFailException)
    assert ids[-1] in str(error)
    outcome(
        "contact deleted mid-run",
        f"ApolloContactStageTrigger ({watched} contacts)",
        "error event naming the id; task fails",
    )
