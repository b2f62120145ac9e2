"""ApolloPollingSensor: the polling every Apollo sensor shares, through a sensor that supplies only its
check and its XCom value (tests/polling_support.py), with a scripted transport (no HTTP)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    TaskDeferred,
)
from polling_support import SENSOR_PARTS, FakeApollo, TallySensor, TallyTrigger

from airflow_provider_apollo.core.quota import SENSOR_DEFERRAL_BACKSTOP, quota_reset_wait
from airflow_provider_apollo.exceptions import ApolloRateLimitError
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.sensors.polling import ApolloPollingSensor
from airflow_provider_apollo.sensors.sequence_status import ApolloSequenceStatusSensor

CONTEXT: Any = {}
QUOTA_USED_UP = ApolloRateLimitError("Apollo GET /tally answered 429.", retry_after=3600.0)


def sensor(apollo: FakeApollo, **kwargs: Any) -> TallySensor:
    kwargs.setdefault("task_id", "count")
    kwargs.setdefault("contact_ids", ["a", "b"])
    kwargs.setdefault("poke_interval", 0.01)
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("deferrable", False)
    waiting = TallySensor(**kwargs)
    waiting.__dict__["hook"] = apollo  # the cached hook: the scripted transport
    return waiting


def counted(*ids: str, lost: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"counted": list(ids), "lost": list(lost)}


# ---------------------------------------------------------------- what a sensor supplies


def test_a_sensor_supplies_only_its_check_and_its_xcom_value() -> None:
    own = {name for name in vars(TallySensor) if not name.startswith("_")}
    assert own - {"template_fields", "trigger_classpath", "waits_for"} == SENSOR_PARTS


@pytest.mark.parametrize("sensor_class", [ApolloContactStageSensor, ApolloSequenceStatusSensor])
def test_the_apollo_sensors_inherit_all_of_the_polling(sensor_class: type[ApolloPollingSensor[Any]]) -> None:
    assert issubclass(sensor_class, ApolloPollingSensor)
    polling = {"poke", "execute", "execute_complete", "hook", "rendered_contact_ids"}
    assert not polling & set(vars(sensor_class))
    assert set(vars(sensor_class)) >= SENSOR_PARTS


# ---------------------------------------------------------------- poke mode


def test_poke_is_done_with_the_sensors_xcom_value() -> None:
    poked = sensor(FakeApollo(counted("a", "b"))).poke(CONTEXT)
    assert (poked.is_done, poked.xcom_value) == (True, ["a", "b"])


def test_poke_is_not_done_while_contacts_wait() -> None:
    poked = sensor(FakeApollo(counted("a"))).poke(CONTEXT)
    assert (poked.is_done, poked.xcom_value) == (False, ["a"])


def test_require_any_is_done_with_the_first_contact() -> None:
    poked = sensor(FakeApollo(counted("b")), require="any").poke(CONTEXT)
    assert (poked.is_done, poked.xcom_value) == (True, ["b"])


def test_poke_mode_waits_until_the_contacts_arrive() -> None:
    apollo = FakeApollo(counted(), counted("a"), counted("a", "b"))
    assert sensor(apollo).execute(CONTEXT) == ["a", "b"]
    assert len(apollo.paths) == 3


def test_poke_mode_times_out() -> None:
    with pytest.raises(AirflowSensorTimeout):
        sensor(FakeApollo(counted("a")), timeout=0.1).execute(CONTEXT)


def test_a_lost_contact_fails_the_sensor_with_the_sensors_message() -> None:
    with pytest.raises(AirflowFailException, match="^never counted: b$"):
        sensor(FakeApollo(counted("a", lost=("b",)))).poke(CONTEXT)


def test_under_any_a_lost_contact_is_only_logged_while_others_may_arrive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    poked = sensor(FakeApollo(counted(lost=("a",))), require="any").poke(CONTEXT)
    assert poked.is_done is False
    assert "never counted: a" in capsys.readouterr().out


def test_an_exhausted_quota_makes_a_poke_wait_instead_of_failing(capsys: pytest.CaptureFixture[str]) -> None:
    apollo = FakeApollo(QUOTA_USED_UP, counted("a", "b"))
    waiting = sensor(apollo)
    assert waiting.poke(CONTEXT).is_done is False
    assert "quota is used up; it resets in 3637 s" in capsys.readouterr().out
    assert waiting.poke(CONTEXT).is_done is True


def test_a_429_the_retry_budget_gave_up_on_is_not_a_quota_and_fails() -> None:
    short = ApolloRateLimitError("Apollo GET /tally answered 429.", retry_after=30.0)
    with pytest.raises(ApolloRateLimitError):
        sensor(FakeApollo(short)).poke(CONTEXT)


def test_checks_are_counted_in_rounds() -> None:
    apollo = FakeApollo(counted())
    waiting = sensor(apollo)
    for _ in range(3):
        waiting.poke(CONTEXT)
    assert apollo.paths == ["/tally/0", "/tally/1", "/tally/2"]


def test_in_reschedule_mode_the_clock_counts_the_rounds() -> None:
    apollo = FakeApollo(counted())
    waiting = sensor(apollo, mode="reschedule", poke_interval=60)
    before = int(time.time() // 60)
    waiting.poke(CONTEXT)
    after = int(time.time() // 60)
    assert apollo.paths[0] in {f"/tally/{before}", f"/tally/{after}"}


def test_deferrable_defaults_to_the_airflow_setting_when_the_sensor_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert TallySensor(task_id="t", contact_ids=["a"]).deferrable
    assert not TallySensor(task_id="t", contact_ids=["a"], deferrable=False).deferrable
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert not TallySensor(task_id="t", contact_ids=["a"]).deferrable


# ---------------------------------------------------------------- deferrable mode


def test_deferrable_returns_the_xcom_value_at_once_when_already_done() -> None:
    apollo = FakeApollo(counted("a", "b"))
    assert sensor(apollo, deferrable=True).execute(CONTEXT) == ["a", "b"]
    assert len(apollo.paths) == 1


def test_deferring_hands_the_trigger_its_own_arguments_and_the_polling_ones() -> None:
    waiting = sensor(
        FakeApollo(counted("a")), deferrable=True, counter="census", poke_interval=30, timeout=600
    )
    started = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute(CONTEXT)
    trigger = deferred.value.trigger
    assert type(trigger) is TallyTrigger
    classpath, kwargs = trigger.serialize()
    assert classpath == "polling_support.TallyTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs.pop("end_time") == pytest.approx(started + 600, abs=2)
    # The sensor has just checked: the trigger's first check comes one interval later.
    assert kwargs.pop("first_check_at") == pytest.approx(started + 30, abs=2)
    assert kwargs == {
        "contact_ids": ["a", "b"],
        "counter": "census",
        "require": "all",
        "apollo_conn_id": "apollo_default",
        "poke_interval": 30.0,
    }
    assert deferred.value.method_name == "execute_complete"
    # A backstop for a lost triggerer, after the trigger's own timeout.
    assert deferred.value.timeout.total_seconds() == 600 + 30 + SENSOR_DEFERRAL_BACKSTOP


def test_after_an_exhausted_quota_the_trigger_checks_first_after_the_reset() -> None:
    waiting = sensor(FakeApollo(QUOTA_USED_UP), deferrable=True, poke_interval=30, timeout=7200)
    started = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute(CONTEXT)
    first_check_at = deferred.value.trigger.serialize()[1]["first_check_at"]
    assert first_check_at == pytest.approx(started + quota_reset_wait(3600.0), abs=2)


def test_execute_complete_returns_the_sensors_xcom_value_for_a_success_event() -> None:
    waiting = sensor(FakeApollo(counted()))
    assert waiting.execute_complete(CONTEXT, {"status": "success", "counted": ["b"]}) == ["b"]


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        (
            {"status": "timeout", "message": "1 of 2 had not"},
            AirflowSensorTimeout,
            "^Sensor has timed out: 1 of 2",
        ),
        (
            {"status": "error", "message": "gone: b", "uncountable_ids": ["b"]},
            AirflowFailException,
            "^gone: b$",
        ),
        (
            {"status": "error", "message": "Apollo said no"},
            AirflowException,
            "^Waiting for the tally failed: Apollo said no$",
        ),
        (
            {"status": "error", "message": "x", "uncountable_ids": []},
            AirflowException,
            "Waiting for the tally",
        ),
        ({"status": "weird"}, AirflowException, "^TallyTrigger sent an unknown status 'weird'"),
        ({"counted": ["a"]}, AirflowException, "^TallyTrigger sent an unexpected event"),
        (None, AirflowException, "^TallyTrigger sent an unexpected event: None"),
    ],
)
def test_execute_complete_raises_on_anything_but_success(event: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        sensor(FakeApollo(counted())).execute_complete(CONTEXT, event)
    if error is AirflowException:
        assert type(raised.value) is AirflowException  # neither a timeout nor a failure without retries
