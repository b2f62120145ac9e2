"""The contact-stage check (``core/stage_check.py``): what a search answer counts, probes, messages.

To be merged into ``test_stage_check.py``.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.stage_check import (
    StageCheckResult,
    _in_target,
    _rotating_slice,
    stage_check,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator


def test_a_search_answer_counts_only_watched_contacts_in_a_target_stage() -> None:
    page = [
        {"id": "w1", "contact_stage_id": "s-replied"},
        {"id": "w2", "contact_stage_id": "s-cold"},
        {"id": "other", "contact_stage_id": "s-replied"},
    ]
    assert _in_target(page, {"w1", "w2"}, {"s-replied"}) == {"w1"}


def test_require_any_stops_after_the_stage_search_finds_one(apollo_connection: ApolloEmulator) -> None:
    # The watched contact that replied is on the search's first page; 1,000 others fill ten more.
    watched = apollo_connection.seed_contacts(8, stage="Cold")
    apollo_connection.set_contact_stage(watched[0], "Replied")
    crowd = apollo_connection.seed_contacts(1000, stage="Replied")
    before = apollo_connection.request_count()
    hook = ApolloHook()
    result = run_steps(
        stage_check(watched, [apollo_connection.stage_id("Replied")], require="any"), hook.call
    )
    assert crowd and result.done == [watched[0]]
    gets = [r for r in apollo_connection.requests[before:] if r.method == "GET"]
    assert gets == [], f"{len(gets)} per-contact GETs after the search already decided"


def test_the_probe_slice_rotates_through_every_not_found_id() -> None:
    items = [f"id{i}" for i in range(7)]
    assert [_rotating_slice(items, round_number, 5) for round_number in range(3)] == [
        items[:5],
        items[5:],
        items[:5],
    ]
    assert _rotating_slice(items[:5], 3, 5) == items[:5]


def test_the_deferred_sensor_does_not_check_again_at_once(apollo_connection: ApolloEmulator) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor

    ids = apollo_connection.seed_contacts(2, stage="Cold")
    sensor = ApolloContactStageSensor(
        task_id="wait",
        contact_ids=ids,
        target_stages=["Replied"],
        deferrable=True,
        poke_interval=0.6,
        timeout=30,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    after_sensor = apollo_connection.request_count("/contacts/")
    trigger = deferred.value.trigger
    kwargs = trigger.serialize()[1]
    assert json.loads(json.dumps(kwargs)) == kwargs

    async def first_checks() -> int:
        task = asyncio.ensure_future(anext(trigger.run()))
        await asyncio.sleep(0.3)
        seen = apollo_connection.request_count("/contacts/")
        task.cancel()
        return seen

    assert asyncio.run(first_checks()) == after_sensor, "the trigger checked again before one interval passed"


def test_the_missing_message_lists_twenty_ids_and_counts_the_rest() -> None:
    missing = [f"id{i}" for i in range(23)]
    result = StageCheckResult(done=[], missing=missing, waiting=[], calls=1)
    message = result.missing_message()
    assert message.startswith("23 watched contact(s) no longer exist in Apollo")
    assert message.endswith(", ".join(missing[:20]) + " and 3 more.")
    assert StageCheckResult(done=[], missing=["a"], waiting=[], calls=1).missing_message().endswith(": a.")


def test_the_missing_message_counts_more_only_past_twenty() -> None:
    twenty = StageCheckResult(done=[], missing=[f"i{n}" for n in range(20)], waiting=[], calls=1)
    assert "more" not in twenty.missing_message()
    twenty_one = StageCheckResult(done=[], missing=[f"i{n}" for n in range(21)], waiting=[], calls=1)
    assert twenty_one.missing_message().endswith(" and 1 more.")
