"""
ApolloContactStageSensor under faults: keep waiting or fail clearly, never succeed wrongly.

Poking through the named faults of reliability_support (transient ones give the true answer,
persistent ones fail clearly and never report done), a key revoked or a contact deleted mid-run;
and an exhausted hourly quota, which a poking sensor waits out and a deferred one hands to its
trigger to check again only after the reset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred
from reliability_support import (
    GETS_PER_HOUR,
    WATCHED,
    FaultCase,
    Outcome,
    expect_failure,
    half_replied,
    inject_on_the_check_path,
    persistent_params,
    settle,
    stage_sensor,
    transient_params,
)

from airflow_provider_apollo.exceptions import ApolloApiError, ApolloAuthError, ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.testing import ApolloEmulator

# --------------------------------------------------------------------------- faults (poke mode)


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
    waiting = stage_sensor(ids)
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
    waiting = stage_sensor(ids)
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
    waiting = stage_sensor(ids)
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
    waiting = stage_sensor(ids)
    assert not waiting.poke(context).is_done
    emulator.delete_contacts([ids[-1]])
    error = expect_failure(lambda: waiting.poke(context), AirflowFailException)
    assert ids[-1] in str(error)
    outcome(
        "contact deleted mid-run",
        f"ApolloContactStageSensor poke ({watched} contacts)",
        "failed clearly naming the id",
    )


# --------------------------------------------------------------------------- an exhausted hourly quota


def test_a_poking_sensor_waits_out_the_hourly_quota(
    tight_quota: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = tight_quota.seed_contacts(2, stage="Approaching")
    sensor = ApolloContactStageSensor(
        task_id="wait", contact_ids=ids, target_stages=["Replied"], poke_interval=0.2, timeout=30
    )
    later(1.0, tight_quota.set_contact_stage, ids, "Replied")
    started = time.monotonic()
    results = []
    while time.monotonic() - started < 20:
        result = sensor.poke({})
        results.append(result.is_done)
        if result.is_done:
            break
        time.sleep(0.2)
    assert results[-1] is True and result.xcom_value == ids
    rate_limited = sum(1 for r in tight_quota.requests if r.status == 429)
    assert rate_limited >= 1, "the test never met the quota"


def test_a_deferred_sensor_that_meets_the_quota_checks_again_after_the_reset_not_an_interval_later(
    tight_quota: ApolloEmulator,
) -> None:
    ids = tight_quota.seed_contacts(2, stage="Replied")
    sensor = ApolloContactStageSensor(
        task_id="wait",
        contact_ids=ids,
        target_stages=["Replied"],
        poke_interval=0.2,
        timeout=30,
        deferrable=True,
    )
    with pytest.raises(ApolloRateLimitError):  # another task used up this hour's contact reads
        for _ in range(GETS_PER_HOUR + 1):
            ApolloHook().get_contact(ids[0])
    started = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    # The reset (more than max_retry_wait away) plus its margin, not one poke_interval.
    assert trigger.serialize()[1]["first_check_at"] > started + 0.5 + 1.0

    async def first() -> dict[str, object]:
        return dict((await anext(trigger.run())).payload)

    assert asyncio.run(first()) == {"status": "success", "contact_ids": ids}
    assert time.time() >= trigger.first_check_at
