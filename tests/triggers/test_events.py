"""ApolloContactStageEventTrigger (triggers/events.py) against the emulator: entries fire once, state
outlives the trigger, quotas pause it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from airflow.triggers.base import BaseEventTrigger

from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.triggers.events import ApolloContactStageEventTrigger, StageWatch

EVENT_WAIT = 20.0


class DictStore:
    """The asset state store's async accessor (aget/aset), kept in a dict through JSON as the DB keeps it."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)


def trigger(store: DictStore | None = None, **kwargs: Any) -> ApolloContactStageEventTrigger:
    kwargs.setdefault("poll_interval", 0.2)
    kwargs.setdefault("overlap_seconds", 5)
    made = ApolloContactStageEventTrigger(["Replied", "Interested"], **kwargs)
    made.asset_state_store = store  # type: ignore[assignment]
    return made


class Events:
    """A trigger's events collected by a background task (cancelling ``anext`` would end the generator)."""

    def __init__(self, made: ApolloContactStageEventTrigger) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._pump(made.run()))

    async def _pump(self, events: AsyncIterator[Any]) -> None:
        async for event in events:
            await self.queue.put(dict(event.payload))

    async def next(self, timeout: float = EVENT_WAIT) -> dict[str, Any]:
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait(
            {getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task.done():
            self.task.result()  # the trigger's own error
            raise AssertionError("the trigger stopped without an event")
        raise AssertionError(f"no event within {timeout} s")

    async def none_within(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        assert self.queue.empty(), self.queue.get_nowait()
        if self.task.done():
            self.task.result()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
def emulator(apollo_connection: ApolloEmulator) -> Iterator[ApolloEmulator]:
    apollo_connection.seed_contacts(30, stage="Approaching")
    apollo_connection.seed_contacts(5, stage="Replied")
    # The first connection lookup in a process imports Airflow's models (over a second on Airflow
    # 3.0): paid here, not inside the scenarios' allowance for the trigger's baseline.
    ApolloHook.get_connection(ApolloHook.default_conn_name)
    yield apollo_connection


def ids_in(emulator: ApolloEmulator, stage: str) -> list[str]:
    stage_id = emulator.stage_id(stage)
    return sorted(i for i, c in emulator.contacts.items() if c["contact_stage_id"] == stage_id)


# ---------------------------------------------------------------- the trigger's shape


def test_is_an_event_trigger_that_serializes_to_json_and_back() -> None:
    made = ApolloContactStageEventTrigger("Replied", apollo_conn_id="apollo_x", poll_interval=60)
    assert isinstance(made, BaseEventTrigger)
    classpath, kwargs = made.serialize()
    assert classpath == "airflow_provider_apollo.triggers.events.ApolloContactStageEventTrigger"
    assert kwargs == {
        "stages": ["Replied"],
        "apollo_conn_id": "apollo_x",
        "poll_interval": 60.0,
        "overlap_seconds": 120.0,
        "event_per_contact": False,
    }
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.state_key == made.state_key


def test_state_key_differs_per_stage_list_and_connection() -> None:
    keys = {
        ApolloContactStageEventTrigger(["Replied"]).state_key,
        ApolloContactStageEventTrigger(["Interested"]).state_key,
        ApolloContactStageEventTrigger(["Replied"], apollo_conn_id="other").state_key,
    }
    assert len(keys) == 3
    assert (
        ApolloContactStageEventTrigger(["A", "B"]).state_key
        == ApolloContactStageEventTrigger(["B", "A"]).state_key
    )


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"stages": []}, "stages"),
        ({"stages": ["Replied", " "]}, "stages"),
        ({"stages": "Replied", "poll_interval": 0}, "poll_interval"),
        ({"stages": "Replied", "poll_interval": True}, "poll_interval"),
        ({"stages": "Replied", "overlap_seconds": -1}, "overlap_seconds"),
        ({"stages": "Replied", "event_per_contact": "yes"}, "event_per_contact"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ApolloArgumentError, match=named):
        ApolloContactStageEventTrigger(**kwargs)


# ---------------------------------------------------------------- the watch's memory (I/O-free)


def contact(contact_id: str, stage: str, updated_at: str = "2025-01-01T00:00:10Z") -> dict[str, Any]:
    return {"id": contact_id, "contact_stage_id": stage, "updated_at": updated_at}


def test_watch_reports_an_entry_once_and_again_only_after_leaving() -> None:
    watch = StageWatch(frozenset({"replied", "interested"}))
    watch.set_baseline([contact("a", "replied"), contact("x", "approaching")], "2025-01-01T00:00:00Z")
    assert watch.inside == {"a": "replied"}
    assert not watch.observe(contact("a", "replied"))  # already there at the baseline
    assert watch.observe(contact("b", "replied"))  # entered
    assert not watch.observe(contact("b", "replied"))  # merely stays
    assert watch.observe(contact("b", "interested"))  # moved to another target stage: a new entry
    assert not watch.observe(contact("b", "approaching"))  # left: forgotten
    assert "b" not in watch.inside
    assert watch.observe(contact("b", "replied", "2025-01-01T00:01:00Z"))  # came back
    assert watch.watermark == "2025-01-01T00:01:00+00:00"


def test_watch_state_round_trips_and_is_dropped_for_other_stages() -> None:
    watch = StageWatch(frozenset({"s1"}))
    watch.set_baseline([contact("a", "s1")], "2025-01-01T00:00:00Z")
    stored = json.loads(json.dumps(watch.to_json()))
    again = StageWatch.from_json(stored, ["s1"])
    assert (again.watermark, again.inside) == (watch.watermark, watch.inside)
    assert not StageWatch.from_json(stored, ["s2"]).has_baseline
    assert not StageWatch.from_json({"version": 99}, ["s1"]).has_baseline
    assert not StageWatch.from_json(None, ["s1"]).has_baseline


# ---------------------------------------------------------------- against the emulator


def test_fires_once_per_entry_not_for_the_baseline_nor_for_a_state_that_persists(
    emulator: ApolloEmulator,
) -> None:
    already = ids_in(emulator, "Replied")
    approaching = ids_in(emulator, "Approaching")

    async def scenario() -> None:
        events = Events(trigger(DictStore()))
        await events.none_within(1.0)  # the baseline and a few empty polls
        emulator.set_contact_stage(approaching[:3], "Replied")
        payload = await events.next()
        assert sorted(payload["contact_ids"]) == sorted(approaching[:3])
        assert {c["stage"] for c in payload["contacts"]} == {"Replied"}
        assert payload["stage_ids"] == sorted([emulator.stage_id("Replied"), emulator.stage_id("Interested")])
        # Touching contacts that stay in the stage, and re-setting the same stage, fire nothing.
        await asyncio.to_thread(ApolloHook().update_contact, already[0], {"title": "VP Replies"})
        emulator.set_contact_stage(approaching[:3], "Replied")
        emulator.set_contact_stage(already, "Replied")
        await events.none_within(1.5)
        # Moving into the other target stage is an entry; leaving and coming back is another.
        emulator.set_contact_stage(approaching[0], "Interested")
        assert (await events.next())["contact_ids"] == [approaching[0]]
        emulator.set_contact_stage(approaching[1], "Approaching")
        await events.none_within(1.0)
        emulator.set_contact_stage(approaching[1], "Replied")
        assert (await events.next())["contact_ids"] == [approaching[1]]
        await events.close()

    asyncio.run(scenario())


def test_a_new_trigger_on_the_same_store_resumes_without_refiring(emulator: ApolloEmulator) -> None:
    approaching = ids_in(emulator, "Approaching")
    store = DictStore()

    async def first_life() -> None:
        events = Events(trigger(store))
        await events.none_within(0.8)
        emulator.set_contact_stage(approaching[:2], "Replied")
        assert sorted((await events.next())["contact_ids"]) == sorted(approaching[:2])
        await events.none_within(0.5)  # the state is written after the event is handed over
        await events.close()

    asyncio.run(first_life())
    stored = json.loads(next(iter(store.values.values())))
    assert set(approaching[:2]) <= set(stored["inside"])
    requests_before = len(emulator.requests)

    async def second_life() -> None:
        events = Events(trigger(store))
        await events.none_within(1.5)  # the reported entries are not reported again
        emulator.set_contact_stage(approaching[5], "Interested")  # a change while it runs
        assert (await events.next())["contact_ids"] == [approaching[5]]
        await events.close()

    asyncio.run(second_life())
    # Resuming took no new baseline: no stage-filtered search after the restart.
    searches = [r for r in emulator.requests[requests_before:] if r.path.endswith("/contacts/search")]
    assert searches and not any("contact_stage_ids" in json.dumps(r.body) for r in searches)


def test_a_change_while_no_trigger_runs_fires_on_the_next_start(emulator: ApolloEmulator) -> None:
    approaching = ids_in(emulator, "Approaching")
    store = DictStore()

    async def baseline_only() -> None:
        events = Events(trigger(store))
        await events.none_within(1.0)
        await events.close()

    async def next_start() -> list[str]:
        events = Events(trigger(store))
        payload = await events.next()
        await events.close()
        return sorted(payload["contact_ids"])

    asyncio.run(baseline_only())
    emulator.set_contact_stage(approaching[7:9], "Replied")  # the triggerer is down
    assert asyncio.run(next_start()) == sorted(approaching[7:9])


def test_without_a_state_store_a_restart_takes_a_new_baseline(emulator: ApolloEmulator) -> None:
    approaching = ids_in(emulator, "Approaching")

    async def life() -> None:
        events = Events(trigger(None))
        await events.none_within(0.8)
        await events.close()

    asyncio.run(life())
    emulator.set_contact_stage(approaching[0], "Replied")
    asyncio.run(life())  # the change happened before this baseline: not an entry it saw


def test_event_per_contact_fires_one_event_each(emulator: ApolloEmulator) -> None:
    approaching = ids_in(emulator, "Approaching")

    async def scenario() -> list[list[str]]:
        events = Events(trigger(DictStore(), event_per_contact=True))
        await events.none_within(0.8)
        emulator.set_contact_stage(approaching[:3], "Replied")
        got = [(await events.next())["contact_ids"] for _ in range(3)]
        await events.none_within(0.5)
        await events.close()
        return got

    got = asyncio.run(scenario())
    assert all(len(ids) == 1 for ids in got)
    assert sorted(i for ids in got for i in ids) == sorted(approaching[:3])


def test_unknown_stage_name_fails_the_trigger_listing_known_stages(emulator: ApolloEmulator) -> None:
    async def scenario() -> None:
        await anext(ApolloContactStageEventTrigger(["Nope"], poll_interval=0.2).run())  # type: ignore[arg-type]

    with pytest.raises(ApolloArgumentError, match="Unknown contact stage 'Nope'.*Replied"):
        asyncio.run(scenario())


def test_an_exhausted_hourly_quota_pauses_the_watch_until_the_reset(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An emulated hour lasts 1.8 s; the connection sleeps through 0.2 s at most, so a 429 reaches the trigger.
    with ApolloEmulator(rate_limits={"hour": 4}, time_scale=0.0005) as emulator:
        emulator.seed_contacts(10, stage="Approaching")
        monkeypatch.setenv(
            "AIRFLOW_CONN_APOLLO_DEFAULT",
            json.dumps(
                {
                    "conn_type": "apollo",
                    "password": emulator.api_key,
                    "host": emulator.url,
                    "extra": {"max_retry_wait": 0.2, "max_retries": 1},
                }
            ),
        )
        approaching = ids_in(emulator, "Approaching")

        async def scenario() -> dict[str, Any]:
            events = Events(trigger(DictStore(), poll_interval=0.1))
            await events.none_within(1.0)  # long enough to exhaust four searches an hour
            emulator.set_contact_stage(approaching[:2], "Replied")
            payload = await events.next()
            await events.close()
            return payload

        payload = asyncio.run(scenario())
        assert sorted(payload["contact_ids"]) == sorted(approaching[:2])
        assert "quota exhausted; the watch pauses" in capsys.readouterr().out
        # It waited for the reset instead of polling into the limit every 0.1 s (about 15 times).
        rejected = emulator.status_counts().get(429, 0)
        assert 1 <= rejected <= 3, rejected
