"""ApolloContactStageTrigger and the async hook against the emulator: serialization, events, shared policy."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_apollo.core.lifecycle import arun_steps, run_steps
from airflow_provider_apollo.core.stage_check import stage_check
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger


def first_event(trigger: ApolloContactStageTrigger) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        event = await anext(trigger.run())
        return dict(event.payload)

    return asyncio.run(run())


def trigger_for(
    emulator: ApolloEmulator, contact_ids: list[str], stage: str = "Replied", **kwargs: Any
) -> Any:
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("end_time", time.time() + 20)
    return ApolloContactStageTrigger(contact_ids=contact_ids, stage_ids=[emulator.stage_id(stage)], **kwargs)


def test_serialize_round_trips_through_json_and_the_classpath() -> None:
    trigger = ApolloContactStageTrigger(
        contact_ids=["c1", "c2"],
        stage_ids=["s1"],
        require="any",
        apollo_conn_id="apollo_other",
        poke_interval=30,
        end_time=1_900_000_000.5,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_apollo.triggers.contact_stage.ApolloContactStageTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "contact_ids": ["c1", "c2"],
        "stage_ids": ["s1"],
        "require": "any",
        "apollo_conn_id": "apollo_other",
        "poke_interval": 30.0,
        "end_time": 1_900_000_000.5,
    }


def test_success_event_when_the_contacts_move_while_it_waits(
    apollo_connection: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = apollo_connection.seed_contacts(12, stage="Approaching")
    later(0.5, apollo_connection.set_contact_stage, ids, "Replied")
    assert first_event(trigger_for(apollo_connection, ids)) == {"status": "success", "contact_ids": ids}


def test_success_event_through_the_emulators_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    with ApolloEmulator(reply_after=0.5, reply_fraction=0.5) as emulator:
        conn = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
        ids = emulator.seed_contacts(10, stage="Cold")
        ApolloHook().update_contact_stages(ids, "Approaching")
        event = first_event(trigger_for(emulator, ids, require="any"))
        replied = [i for i in ids if emulator.contacts[i]["contact_stage_id"] == emulator.stage_id("Replied")]
        assert event == {"status": "success", "contact_ids": replied}
        assert 0 < len(replied) < len(ids)


def test_timeout_event_at_the_end_time(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Cold")
    started = time.time()
    event = first_event(trigger_for(apollo_connection, ids, poke_interval=5, end_time=started + 0.5))
    assert event["status"] == "timeout"
    assert event["contact_ids"] == []
    assert "2 of 2 contacts had not reached" in event["message"]
    # It checked again at the deadline instead of sleeping a whole poke_interval past it.
    assert apollo_connection.request_count(path_contains="/contacts/") == 4


def test_error_event_names_contacts_that_no_longer_exist(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(8, stage="Approaching")
    apollo_connection.delete_contacts(ids[:2])
    event = first_event(trigger_for(apollo_connection, ids))
    assert event["status"] == "error"
    assert event["missing_contact_ids"] == ids[:2]
    assert ids[0] in event["message"] and ids[1] in event["message"]


def test_error_event_for_a_revoked_key_does_not_leak_the_key(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(1)
    key = apollo_connection.api_key
    apollo_connection.api_key = "rotated-key"
    event = first_event(trigger_for(apollo_connection, ids))
    assert event["status"] == "error"
    assert "401" in event["message"]
    assert key not in json.dumps(event)


def test_a_429_waits_retry_after_as_the_sync_hook_would(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(1, stage="Replied")
    apollo_connection.add_fault("status", status=429, retry_after=0.3, count=2, path="/contacts/")
    started = time.monotonic()
    event = first_event(trigger_for(apollo_connection, ids))
    assert event == {"status": "success", "contact_ids": ids}
    assert apollo_connection.status_counts().get(429) == 2
    assert time.monotonic() - started >= 0.6  # both retry-after waits were honoured


def test_a_quota_resetting_after_the_timeout_ends_the_wait_at_once_not_after_a_long_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ApolloEmulator() as emulator:
        conn = {
            "conn_type": "apollo",
            "password": emulator.api_key,
            "host": emulator.url,
            "extra": {"max_retry_wait": 1},
        }
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
        ids = emulator.seed_contacts(1)
        emulator.add_fault("status", status=429, retry_after=3600, path="/contacts/")
        started = time.monotonic()
        event = first_event(trigger_for(emulator, ids))
        # Issue 10: an exhausted hourly quota is waited out within the sensor's timeout; one that
        # resets only after it ends the wait at once as a timeout naming the 429.
        assert time.monotonic() - started < 10
        assert event["status"] == "timeout"
        assert "429" in event["message"]
        assert emulator.status_counts().get(429) == 1


def test_sync_and_async_transports_run_the_same_check(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(300, stage="Replied")
    ids = apollo_connection.seed_contacts(40, stage="Replied") + apollo_connection.seed_contacts(
        10, stage="Cold"
    )
    apollo_connection.delete_contacts(ids[-1])
    stage_ids = [apollo_connection.stage_id("Replied")]

    sync_result = run_steps(stage_check(ids, stage_ids, probe_round=1), ApolloHook().call)
    sync_requests = [(r.method, r.path) for r in apollo_connection.requests]

    async def drive() -> Any:
        async with ApolloAsyncHook() as hook:
            return await arun_steps(stage_check(ids, stage_ids, probe_round=1), hook.call)

    async_result = asyncio.run(drive())
    async_requests = [(r.method, r.path) for r in apollo_connection.requests][len(sync_requests) :]

    assert async_result == sync_result
    assert async_requests == sync_requests
    assert sync_result.done == ids[:40]
    assert sync_result.missing == [ids[-1]]


def test_async_hook_reads_the_connection_and_searches(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(150, stage="Interested")

    async def read() -> tuple[list[str], str]:
        async with ApolloAsyncHook() as hook:
            found = [
                c["id"]
                async for c in hook.search_contacts(
                    {"contact_stage_ids": [apollo_connection.stage_id("Interested")]}
                )
            ]
            return found, await hook.resolve_contact_stage_id("interested")

    found, stage_id = asyncio.run(read())
    assert found == ids
    assert stage_id == apollo_connection.stage_id("Interested")
