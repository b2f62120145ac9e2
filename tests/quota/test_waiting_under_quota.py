"""The stage sensor and its trigger wait for an exhausted hourly quota to reset instead of failing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_apollo.exceptions import ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger

# Three contact reads an emulated hour; an hour lasts 1.8 s.
GETS_PER_HOUR = 3


@pytest.fixture
def tight(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    with ApolloEmulator(rate_limits={"hour": GETS_PER_HOUR}, time_scale=0.0005) as emulator:
        connection = {
            "conn_type": "apollo",
            "password": emulator.api_key,
            "host": emulator.url,
            "extra": {"max_retry_wait": 0.5, "max_retries": 1},
        }
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        yield emulator


def test_a_poking_sensor_waits_out_the_hourly_quota(
    tight: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = tight.seed_contacts(2, stage="Approaching")
    sensor = ApolloContactStageSensor(
        task_id="wait", contact_ids=ids, target_stages=["Replied"], poke_interval=0.2, timeout=30
    )
    later(1.0, tight.set_contact_stage, ids, "Replied")
    started = time.monotonic()
    results = []
    while time.monotonic() - started < 20:
        result = sensor.poke({})
        results.append(result.is_done)
        if result.is_done:
            break
        time.sleep(0.2)
    assert results[-1] is True and result.xcom_value == ids
    rate_limited = sum(1 for r in tight.requests if r.status == 429)
    assert rate_limited >= 1, "the test never met the quota"


def test_the_trigger_sleeps_until_the_reset_and_then_succeeds(
    tight: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = tight.seed_contacts(2, stage="Approaching")
    later(1.0, tight.set_contact_stage, ids, "Replied")
    trigger = ApolloContactStageTrigger(
        contact_ids=ids, stage_ids=[tight.stage_id("Replied")], poke_interval=0.2, end_time=time.time() + 30
    )

    async def first() -> dict[str, object]:
        return dict((await anext(trigger.run())).payload)

    assert asyncio.run(first()) == {"status": "success", "contact_ids": ids}
    assert sum(1 for r in tight.requests if r.status == 429) >= 1


def test_the_trigger_reports_a_timeout_when_the_reset_comes_too_late(tight: ApolloEmulator) -> None:
    ids = tight.seed_contacts(2, stage="Approaching")
    trigger = ApolloContactStageTrigger(
        contact_ids=ids, stage_ids=[tight.stage_id("Replied")], poke_interval=0.01, end_time=time.time() + 0.5
    )

    async def first() -> dict[str, object]:
        return dict((await anext(trigger.run())).payload)

    event = asyncio.run(first())
    assert event["status"] == "timeout"


def test_a_deferred_sensor_that_meets_the_quota_checks_again_after_the_reset_not_an_interval_later(
    tight: ApolloEmulator,
) -> None:
    ids = tight.seed_contacts(2, stage="Replied")
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
