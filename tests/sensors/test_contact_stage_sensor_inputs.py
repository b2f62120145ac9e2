"""Bad input to ApolloContactStageSensor: a clear error naming the argument, before any request."""

from __future__ import annotations

from typing import Any

import pytest
from reliability_support import Outcome, assert_refused_naming_it

from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.testing import ApolloEmulator

# (case, operator class, arguments, text the error must contain: the argument it names)
BAD_ARGUMENTS = [
    (
        "sensor contact_ids is empty",
        ApolloContactStageSensor,
        {"contact_ids": [], "target_stages": ["Replied"]},
        "contact_ids",
    ),
    (
        "sensor target_stages is empty",
        ApolloContactStageSensor,
        {"contact_ids": ["a"], "target_stages": []},
        "target_stages",
    ),
    (
        "sensor require is 'most'",
        ApolloContactStageSensor,
        {"contact_ids": ["a"], "target_stages": ["Replied"], "require": "most"},
        "require",
    ),
]


@pytest.mark.parametrize(
    "operator_class, arguments, named",
    [pytest.param(cls, args, named, id=case) for case, cls, args, named in BAD_ARGUMENTS],
)
def test_bad_argument_fails_naming_it_before_any_request(
    emulator: ApolloEmulator,
    operator_class: type,
    arguments: dict[str, Any],
    named: str,
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    outcome: Outcome,
) -> None:
    # Built and run as a task would be: wherever the check happens (construction or execute),
    # it must come before the first request.
    assert_refused_naming_it(
        emulator, lambda: operator_class(task_id="t", **arguments).execute(context), named
    )
    outcome(request.node.callspec.id, operator_class.__name__, "clear error naming the argument, 0 requests")
