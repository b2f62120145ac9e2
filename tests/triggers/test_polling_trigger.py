"""ApolloPollingTrigger: the polling every sensor's trigger shares, through a trigger that supplies only
its check and its event shape (tests/polling_support.py), with a scripted async transport (no HTTP)."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from typing import Any

import pytest
from polling_support import TRIGGER_PARTS, FakeAsyncApollo, TallyTrigger

from airflow_provider_apollo.exceptions import ApolloRateLimitError, ApolloServerError
from airflow_provider_apollo.triggers import polling
from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger
from airflow_provider_apollo.triggers.polling import ApolloPollingTrigger
from airflow_provider_apollo.triggers.sequence_status import ApolloSequenceStatusTrigger


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``script(*answers)``: the hook the trigger opens answers each check with the next one."""

    def install(*answers: Any, max_retry_wait: float = 60.0) -> FakeAsyncApollo:
        apollo = FakeAsyncApollo(*answers, max_retry_wait=max_retry_wait)
        monkeypatch.setattr(polling, "ApolloAsyncHook", lambda conn_id: apollo)
        return apollo

    return install


def counted(*ids: str, lost: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"counted": list(ids), "lost": list(lost)}


def trigger(**kwargs: Any) -> TallyTrigger:
    kwargs.setdefault("contact_ids", ["a", "b"])
    kwargs.setdefault("poke_interval", 0.01)
    kwargs.setdefault("end_time", time.time() + 10)
    return TallyTrigger(**kwargs)


def first_event(waiting: ApolloPollingTrigger[Any]) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async for event in waiting.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(run(), 20))


# ---------------------------------------------------------------- what a trigger supplies


def test_a_trigger_supplies_only_its_check_and_its_event_shape() -> None:
    own = {name for name in vars(TallyTrigger) if not name.startswith("_")}
    assert own - {"lost_ids_key"} == TRIGGER_PARTS


@pytest.mark.parametrize("trigger_class", [ApolloContactStageTrigger, ApolloSequenceStatusTrigger])
def test_the_sensors_triggers_inherit_all_of_the_polling(
    trigger_class: type[ApolloPollingTrigger[Any]],
) -> None:
    assert issubclass(trigger_class, ApolloPollingTrigger)
    assert not {"run", "serialize", "_wait"} & set(vars(trigger_class))
    assert set(vars(trigger_class)) >= TRIGGER_PARTS


# ---------------------------------------------------------------- serialization


def test_serialize_holds_the_classpath_the_triggers_arguments_and_the_polling_ones() -> None:
    waiting = TallyTrigger(
        ["a"], counter="census", require="any", apollo_conn_id="other", poke_interval=30, end_time=1e9
    )
    classpath, kwargs = waiting.serialize()
    assert classpath == "polling_support.TallyTrigger"
    assert kwargs == {
        "contact_ids": ["a"],
        "counter": "census",
        "require": "any",
        "apollo_conn_id": "other",
        "poke_interval": 30.0,
        "end_time": 1e9,
    }
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)


def test_first_check_at_is_serialized_only_when_given() -> None:
    assert trigger(first_check_at=5).serialize()[1]["first_check_at"] == 5.0
    assert "first_check_at" not in trigger().serialize()[1]


def test_a_bad_require_fails_when_the_trigger_is_built() -> None:
    with pytest.raises(ValueError, match="require must be 'all' or 'any'"):
        trigger(require="most")


# ---------------------------------------------------------------- events


def test_success_event_carries_the_triggers_payload(script: Any) -> None:
    apollo = script(counted(), counted("a"), counted("a", "b"))
    assert first_event(trigger()) == {"status": "success", "counted": ["a", "b"]}
    assert apollo.paths == ["/tally/0", "/tally/1", "/tally/2"]
    assert apollo.closed


def test_lost_contacts_end_the_wait_with_an_error_event_under_the_triggers_key(script: Any) -> None:
    script(counted("a", lost=("b",)))
    assert first_event(trigger()) == {
        "status": "error",
        "message": "never counted: b",
        "uncountable_ids": ["b"],
    }


def test_the_timeout_event_follows_a_last_check_at_the_deadline(script: Any) -> None:
    apollo = script(counted("a"))
    started = time.time()
    event = first_event(trigger(poke_interval=60, end_time=started + 0.3))
    assert event == {
        "status": "timeout",
        "message": "1 of 2 contacts had not reached the tally when the sensor's timeout passed.",
        "counted": ["a"],
    }
    assert len(apollo.paths) == 2
    assert apollo.times[1] >= started + 0.3


def test_no_check_comes_before_first_check_at(script: Any) -> None:
    apollo = script(counted("a", "b"))
    started = time.time()
    first_event(trigger(first_check_at=started + 0.3))
    assert apollo.times[0] >= started + 0.3


def test_a_first_check_after_the_end_time_comes_at_the_end_time(script: Any) -> None:
    apollo = script(counted("a"))
    started = time.time()
    event = first_event(trigger(first_check_at=started + 3600, end_time=started + 0.2))
    assert event["status"] == "timeout"
    assert len(apollo.paths) == 1
    assert started + 0.2 <= apollo.times[0] < started + 5


def test_an_exhausted_quota_is_waited_out_then_checked_again(script: Any) -> None:
    quota = ApolloRateLimitError("Apollo GET /tally answered 429.", retry_after=0.1)
    apollo = script(quota, counted("a", "b"), max_retry_wait=0.05)
    assert first_event(trigger()) == {"status": "success", "counted": ["a", "b"]}
    # The reset plus its margin (1 s + 1 %) passed between the two checks, and the first round
    # is checked again: rounds count completed checks.
    assert apollo.times[1] - apollo.times[0] >= 1.1
    assert apollo.paths == ["/tally/0", "/tally/0"]


def test_a_quota_resetting_after_the_end_time_ends_the_wait_at_once_with_a_timeout(script: Any) -> None:
    quota = ApolloRateLimitError("Apollo GET /tally answered 429.", retry_after=3600.0)
    script(quota)
    started = time.monotonic()
    event = first_event(trigger(end_time=time.time() + 60))
    assert time.monotonic() - started < 5
    assert event == {
        "status": "timeout",
        "message": "Apollo's quota stays used up past the sensor's timeout: Apollo GET /tally answered 429.",
    }


def test_a_429_the_retry_policy_gave_up_on_is_an_error_event(script: Any) -> None:
    script(ApolloRateLimitError("Apollo GET /tally answered 429.", retry_after=None))
    assert first_event(trigger()) == {"status": "error", "message": "Apollo GET /tally answered 429."}


def test_an_api_error_is_an_error_event_with_its_message(script: Any) -> None:
    script(ApolloServerError("Apollo GET /tally answered 503.", status_code=503))
    assert first_event(trigger()) == {"status": "error", "message": "Apollo GET /tally answered 503."}


def test_any_other_exception_is_an_error_event_naming_its_type(script: Any) -> None:
    script(KeyError("counted"))
    assert first_event(trigger()) == {"status": "error", "message": "KeyError: 'counted'"}
