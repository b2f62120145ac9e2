"""ApolloContactStageSensor against the emulator: poke and deferrable modes, call costs, missing contacts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    TaskDeferred,
)

from airflow_provider_apollo.core import SEARCH_RESULT_CAP
from airflow_provider_apollo.core.endpoints import PATH_SEARCH, PATH_STAGES
from airflow_provider_apollo.core.stage_check import MISSING_PROBES_PER_CHECK, PER_CONTACT_CHECK_MAX
from airflow_provider_apollo.exceptions import ApolloValidationError
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger

CONTEXT: Any = {}


def contact_calls(emulator: ApolloEmulator) -> int:
    """Requests a check sent: everything but the one stage-list lookup."""
    return emulator.request_count() - emulator.request_count(path_contains=PATH_STAGES)


def sensor(**kwargs: Any) -> ApolloContactStageSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("timeout", 20)
    return ApolloContactStageSensor(**kwargs)


# ---------------------------------------------------------------- poke mode


def test_poke_returns_the_ids_already_in_a_target_stage(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Interested")
    result = sensor(contact_ids=ids, target_stages=["Replied", "interested"], deferrable=False).execute(
        CONTEXT
    )
    assert result == ids


def test_poke_mode_waits_until_a_contact_moves_stage(
    apollo_connection: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = apollo_connection.seed_contacts(3, stage="Approaching")
    later(0.6, apollo_connection.set_contact_stage, ids, "Replied")
    result = sensor(contact_ids=ids, target_stages=["Replied"], deferrable=False).execute(CONTEXT)
    assert result == ids
    # More than one check happened: the sensor really waited for the move.
    assert apollo_connection.request_count(path_contains="/contacts/") > len(ids)


def test_require_any_succeeds_with_the_contacts_that_arrived(
    apollo_connection: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = apollo_connection.seed_contacts(10, stage="Approaching")
    later(0.4, apollo_connection.set_contact_stage, ids[3:5], "Replied")
    result = sensor(contact_ids=ids, target_stages=["Replied"], require="any", deferrable=False).execute(
        CONTEXT
    )
    assert result == ids[3:5]


def test_poke_mode_times_out(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(1, stage="Cold")
    with pytest.raises(AirflowSensorTimeout):
        sensor(contact_ids=ids, target_stages=["Replied"], timeout=0.5, deferrable=False).execute(CONTEXT)


# ---------------------------------------------------------------- cost of one check


def test_one_contact_costs_one_get(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(1, stage="Replied")
    sensor(contact_ids=ids, target_stages=["Replied"], deferrable=False).execute(CONTEXT)
    assert contact_calls(apollo_connection) == 1
    assert apollo_connection.request_count(path_contains=PATH_SEARCH) == 0


def test_a_hundred_contacts_cost_one_search_call(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(500, stage="Cold")
    ids = apollo_connection.seed_contacts(100, stage="Replied")
    result = sensor(contact_ids=ids, target_stages=["Replied"], deferrable=False).execute(CONTEXT)
    assert result == ids
    assert contact_calls(apollo_connection) == 1


@pytest.mark.slow
def test_ten_thousand_contacts_cost_one_call_per_hundred_matches(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(10_000, stage="Replied")
    apollo_connection.seed_contacts(2_000, stage="Cold")
    result = sensor(contact_ids=ids, target_stages=["Replied"], deferrable=False).execute(CONTEXT)
    assert result == ids
    assert (
        contact_calls(apollo_connection) == apollo_connection.request_count(path_contains=PATH_SEARCH) == 100
    )


def test_a_waiting_check_costs_one_search_and_a_bounded_number_of_probes(
    apollo_connection: ApolloEmulator,
) -> None:
    ids = apollo_connection.seed_contacts(100, stage="Approaching")
    with pytest.raises(AirflowSensorTimeout):
        # poke_interval > timeout: exactly one check, then the timeout.
        sensor(
            contact_ids=ids, target_stages=["Replied"], poke_interval=1, timeout=0, deferrable=False
        ).execute(CONTEXT)
    assert apollo_connection.request_count(path_contains=PATH_SEARCH) == 1
    assert contact_calls(apollo_connection) == 1 + MISSING_PROBES_PER_CHECK


def test_search_switches_to_gets_when_pages_would_cost_more(apollo_connection: ApolloEmulator) -> None:
    # 2,000 contacts in the target stage (20 pages) but only 6 watched, all at the end.
    apollo_connection.seed_contacts(1_994, stage="Replied")
    ids = apollo_connection.seed_contacts(PER_CONTACT_CHECK_MAX + 1, stage="Replied")
    result = sensor(contact_ids=ids, target_stages=["Replied"], deferrable=False).execute(CONTEXT)
    assert result == ids
    assert contact_calls(apollo_connection) == 1 + len(ids)


@pytest.mark.slow
def test_a_stage_beyond_the_search_cap_is_still_checked_correctly(apollo_connection: ApolloEmulator) -> None:
    everyone = apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 10, stage="Replied")
    watched = everyone[-(PER_CONTACT_CHECK_MAX + 2) :]  # beyond what a search can serve
    result = sensor(contact_ids=watched, target_stages=["Replied"], deferrable=False).execute(CONTEXT)
    assert result == watched
    assert apollo_connection.request_count(path_contains=PATH_SEARCH) == 1


# ---------------------------------------------------------------- missing contacts


def test_a_deleted_contact_fails_the_sensor_with_its_id(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(3, stage="Approaching")
    apollo_connection.delete_contacts([ids[1]])
    with pytest.raises(AirflowFailException, match=f"no longer exist.*{ids[1]}"):
        sensor(contact_ids=ids, target_stages=["Replied"], deferrable=False).execute(CONTEXT)


def test_a_deleted_contact_among_many_is_found_by_the_rotating_probes(
    apollo_connection: ApolloEmulator,
) -> None:
    ids = apollo_connection.seed_contacts(20, stage="Approaching")
    apollo_connection.delete_contacts([ids[17]])
    with pytest.raises(AirflowFailException, match=ids[17]):
        sensor(contact_ids=ids, target_stages=["Replied"], deferrable=False).execute(CONTEXT)
    # Found within ceil(20 / 5) checks, each one search and five probes.
    assert apollo_connection.request_count(path_contains=PATH_SEARCH) <= 4


def test_require_any_ignores_a_deleted_contact_while_others_may_arrive(
    apollo_connection: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Approaching")
    apollo_connection.delete_contacts([ids[0]])
    later(0.4, apollo_connection.set_contact_stage, [ids[1]], "Replied")
    result = sensor(contact_ids=ids, target_stages=["Replied"], require="any", deferrable=False).execute(
        CONTEXT
    )
    assert result == [ids[1]]


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"contact_ids": [], "target_stages": ["Replied"]}, "contact_ids is empty"),
        ({"contact_ids": ["a", 3], "target_stages": ["Replied"]}, "non-empty strings only"),
        ({"contact_ids": ["a"], "target_stages": []}, "target_stages is empty"),
        ({"contact_ids": ["a"], "target_stages": "Replied"}, "target_stages must be a list"),
        (
            {"contact_ids": ["a"], "target_stages": ["Replied"], "require": "most"},
            "require must be 'all' or 'any'",
        ),
    ],
)
def test_bad_arguments_fail_at_construction(
    apollo_connection: ApolloEmulator, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        sensor(**kwargs)
    assert apollo_connection.request_count() == 0


def test_an_unknown_stage_name_fails_before_any_contact_request(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(1)
    with pytest.raises(ApolloValidationError, match="Unknown contact stage 'Repled'"):
        sensor(contact_ids=ids, target_stages=["Repled"], deferrable=True).execute(CONTEXT)
    assert contact_calls(apollo_connection) == 0


def test_templated_ids_and_stages_render_from_jinja(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Replied")
    waiting = sensor(
        contact_ids="{{ params.ids | tojson }}", target_stages="{{ params.stages }}", deferrable=False
    )
    waiting.render_template_fields({"params": {"ids": ids, "stages": ["Replied"]}})
    assert waiting.execute(CONTEXT) == ids


def test_deferrable_defaults_to_the_airflow_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import airflow_provider_apollo.sensors.contact_stage as module

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    try:
        reloaded = importlib.reload(module)
        assert reloaded.ApolloContactStageSensor(
            task_id="w", contact_ids=["a"], target_stages=["Replied"]
        ).deferrable
    finally:
        monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE")
        importlib.reload(module)
    assert not module.ApolloContactStageSensor(
        task_id="w", contact_ids=["a"], target_stages=["Replied"]
    ).deferrable


# ---------------------------------------------------------------- deferrable mode


def test_deferrable_returns_at_once_when_already_done(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Replied")
    assert sensor(contact_ids=ids, target_stages=["Replied"], deferrable=True).execute(CONTEXT) == ids


def test_deferrable_defers_with_stage_ids_then_completes_when_the_trigger_fires(
    apollo_connection: ApolloEmulator, later: Callable[..., None]
) -> None:
    ids = apollo_connection.seed_contacts(8, stage="Approaching")
    # [START howto_sensor_apollo_contact_stage_deferrable]
    waiting = ApolloContactStageSensor(
        task_id="wait_for_reply",
        contact_ids=ids,  # or an XComArg: contact_ids=update_stages.output
        target_stages=["Replied"],  # names or ids; names are resolved before deferring
        require="all",
        poke_interval=0.1,
        timeout=30,
        deferrable=True,
    )
    # [END howto_sensor_apollo_contact_stage_deferrable]
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute(CONTEXT)
    trigger = deferred.value.trigger
    assert isinstance(trigger, ApolloContactStageTrigger)
    classpath, kwargs = trigger.serialize()
    # Names were resolved before deferring: the trigger only deals in ids, and only JSON values.
    assert kwargs["stage_ids"] == [apollo_connection.stage_id("Replied")]
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert deferred.value.method_name == "execute_complete"

    later(0.5, apollo_connection.set_contact_stage, ids, "Replied")
    event = asyncio.run(anext(trigger.run()))
    assert event.payload == {"status": "success", "contact_ids": ids}
    assert waiting.execute_complete(CONTEXT, event.payload) == ids


def test_execute_complete_raises_the_sensor_timeout_for_a_timeout_event() -> None:
    waiting = sensor(contact_ids=["a"], target_stages=["Replied"])
    with pytest.raises(AirflowSensorTimeout, match="had not reached"):
        waiting.execute_complete(CONTEXT, {"status": "timeout", "message": "1 of 1 contacts had not reached"})


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        ({"status": "error", "message": "Apollo said no"}, AirflowException, "Apollo said no"),
        (
            {"status": "error", "message": "gone: x1", "missing_contact_ids": ["x1"]},
            AirflowFailException,
            "x1",
        ),
        ({"status": "weird"}, AirflowException, "unknown status"),
        ({"contact_ids": ["a"]}, AirflowException, "unexpected event"),
        (None, AirflowException, "unexpected event"),
        ({"status": "success", "contact_ids": "a"}, AirflowException, "no id list"),
    ],
)
def test_execute_complete_raises_on_anything_but_success(event: Any, error: type, message: str) -> None:
    waiting = sensor(contact_ids=["a"], target_stages=["Replied"])
    with pytest.raises(error, match=message):
        waiting.execute_complete(CONTEXT, event)
