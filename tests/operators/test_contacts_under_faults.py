"""
The contact operators under injected faults, with task retries: no contact lost, none duplicated, failures clear.

Task retries are run the way Airflow runs them: a fresh operator a try, ``execute()`` again after a
failure, three tries in all (reliability_support.run_task). The key is revoked or a contact deleted
mid-run: the failure is clear, the batches whole, and a rerun completes without duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from reliability_support import (
    MARKER_KEY,
    MAX_RETRIES,
    TASK_TRIES,
    FaultCase,
    Outcome,
    after_applied,
    count_by_email,
    create_params,
    expect_failure,
    run_task,
    settle,
    transient_params,
)

from airflow_provider_apollo.exceptions import ApolloAuthError, ApolloValidationError
from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.testing.emulator import Fault


def outlasting_one_try(emulator: ApolloEmulator, fault: FaultCase) -> Fault:
    """Inject ``fault`` often enough that the first task try exhausts the hook's retries (except storms)."""
    if fault.options.get("count") is None or fault.slow:
        return fault.inject(emulator)
    return fault.inject(emulator, count=MAX_RETRIES + 1)


@pytest.mark.parametrize("fault", create_params())
def test_create_one_contact_with_task_retries_creates_it_once(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    reconnect(**fault.extra)
    injected = outlasting_one_try(emulator, fault)
    contact = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    contact_id, failed_tries = run_task(
        lambda: ApolloCreateContactOperator(task_id="create", contact=contact), context
    )
    settle(emulator, fault)
    assert injected.hits >= 1, "the fault never struck the create"
    assert count_by_email(emulator) == {"ada@example.com": 1}
    assert contact_id in emulator.contacts
    outcome(
        fault.name,
        "ApolloCreateContactOperator(contact=) + task retries",
        f"no duplicates ({len(failed_tries)} failed tr{'y' if len(failed_tries) == 1 else 'ies'} first)",
    )


@pytest.mark.parametrize("fault", create_params())
def test_create_many_contacts_with_task_retries_creates_each_once(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    reconnect(**fault.extra)
    outlasting_one_try(emulator, fault)
    contacts = [
        {"first_name": f"P{i}", "last_name": "Test", "email": f"p{i}@example.com"} for i in range(120)
    ]
    ids, failed_tries = run_task(
        lambda: ApolloCreateContactOperator(task_id="create", contacts=contacts), context
    )
    settle(emulator, fault)
    assert count_by_email(emulator) == {contact["email"]: 1 for contact in contacts}
    live = emulator.contacts
    assert [live[i]["email"] for i in ids] == [contact["email"] for contact in contacts]
    outcome(
        fault.name,
        "ApolloCreateContactOperator(contacts=) + task retries",
        f"no duplicates ({len(failed_tries)} failed tr{'y' if len(failed_tries) == 1 else 'ies'} first)",
    )


def test_create_without_dedupe_and_a_task_retry_can_duplicate_after_dropped_after_apply(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    """The documented hazard: run_dedupe=False + a response lost after Apollo applied the create."""
    emulator.add_fault("drop_after_apply", count=1)
    contact = {"first_name": "Bo", "email": "bo@example.com"}
    _, failed_tries = run_task(
        lambda: ApolloCreateContactOperator(task_id="create", contact=contact, run_dedupe=False), context
    )
    assert len(failed_tries) == 1
    assert count_by_email(emulator) == {"bo@example.com": 2}
    # The hook itself never repeats it: two POSTs, one a try.
    assert emulator.request_count("/contacts", method="POST") == 2
    outcome(
        "dropped-after-apply",
        "ApolloCreateContactOperator(run_dedupe=False) + task retry",
        "DUPLICATE (documented: keep run_dedupe=True)",
    )


def test_create_many_with_key_revoked_mid_run_fails_clearly_and_a_later_run_does_not_duplicate(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    contacts = [{"first_name": f"K{i}", "email": f"k{i}@example.com"} for i in range(250)]
    after_applied(emulator, "api_bulk_create", 1, lambda: setattr(emulator, "api_key", "revoked"))
    error = expect_failure(
        lambda: run_task(lambda: ApolloCreateContactOperator(task_id="create", contacts=contacts), context),
        ApolloAuthError,
    )
    assert "401" in str(error)
    # The first batch of 100 landed; no try duplicated it.
    assert count_by_email(emulator) == {c["email"]: 1 for c in contacts[:100]}
    emulator.api_key = MARKER_KEY  # the key is fixed and the task cleared
    ids, _ = run_task(lambda: ApolloCreateContactOperator(task_id="create", contacts=contacts), context)
    assert count_by_email(emulator) == {c["email"]: 1 for c in contacts}
    assert len(set(ids)) == 250
    outcome(
        "key revoked mid-run",
        "ApolloCreateContactOperator(contacts=)",
        "failed clearly (401); rerun: no duplicates",
    )


# --------------------------------------------------------------------------- bulk updates


@pytest.mark.parametrize("fault", transient_params())
def test_update_stages_with_task_retries_moves_every_contact(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    ids = emulator.seed_contacts(250, stage="Cold")
    reconnect(**fault.extra)
    outlasting_one_try(emulator, fault)
    updated, failed_tries = run_task(
        lambda: ApolloUpdateStagesOperator(task_id="stages", contact_ids=ids, contact_stage="Interested"),
        context,
    )
    settle(emulator, fault)
    assert sorted(updated) == sorted(ids)
    interested = emulator.stage_id("Interested")
    assert all(contact["contact_stage_id"] == interested for contact in emulator.contacts.values())
    outcome(
        fault.name,
        "ApolloUpdateStagesOperator + task retries",
        f"all moved ({len(failed_tries)} failed tr{'y' if len(failed_tries) == 1 else 'ies'} first)",
    )


def test_update_stages_with_key_revoked_mid_run_fails_clearly(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = emulator.seed_contacts(250, stage="Cold")
    after_applied(emulator, "api_update_stages", 1, lambda: setattr(emulator, "api_key", "revoked"))
    expect_failure(
        lambda: ApolloUpdateStagesOperator(task_id="s", contact_ids=ids, contact_stage="Interested").execute(
            context
        ),
        ApolloAuthError,
    )
    interested = emulator.stage_id("Interested")
    contacts = emulator.contacts
    # Batches are whole: the first 100 moved, the rest untouched, none half-updated.
    assert [contacts[i]["contact_stage_id"] == interested for i in ids] == [True] * 100 + [False] * 150
    emulator.api_key = MARKER_KEY
    ApolloUpdateStagesOperator(task_id="s", contact_ids=ids, contact_stage="Interested").execute(context)
    assert all(contact["contact_stage_id"] == interested for contact in emulator.contacts.values())
    outcome(
        "key revoked mid-run",
        "ApolloUpdateStagesOperator",
        "failed clearly (401), whole batches; retry completes",
    )


@pytest.mark.parametrize(
    "operator_class, argument, value",
    [
        (ApolloUpdateStagesOperator, "contact_stage", "Interested"),
        (ApolloUpdateOwnersOperator, "owner_id", None),
    ],
    ids=["update-stages", "update-owners"],
)
def test_contact_deleted_mid_run_fails_naming_it_and_skip_deleted_completes_the_rest(
    emulator: ApolloEmulator,
    context: dict[str, Any],
    outcome: Outcome,
    operator_class: type,
    argument: str,
    value: str | None,
) -> None:
    value = value or emulator.users[1]["id"]
    ids = emulator.seed_contacts(250, stage="Cold")
    victim = ids[220]
    handler = "api_update_stages" if operator_class is ApolloUpdateStagesOperator else "api_update_owners"
    after_applied(emulator, handler, 1, lambda: emulator.delete_contacts([victim]))
    error = expect_failure(
        lambda: operator_class(task_id="u", contact_ids=ids, **{argument: value}).execute(context),
        ApolloValidationError,
    )
    assert isinstance(error, ApolloValidationError)
    assert error.deleted_contact_ids == [victim]
    assert victim in str(error) and "skip_deleted=True" in str(error)
    # A task retry fails the same way (clearly), it never reports success.
    expect_failure(
        lambda: operator_class(task_id="u", contact_ids=ids, **{argument: value}).execute(context),
        ApolloValidationError,
    )
    updated = operator_class(task_id="u", contact_ids=ids, skip_deleted=True, **{argument: value}).execute(
        context
    )
    assert sorted(updated) == sorted(i for i in ids if i != victim)
    field, expected = (
        ("contact_stage_id", emulator.stage_id("Interested"))
        if operator_class is ApolloUpdateStagesOperator
        else ("owner_id", value)
    )
    contacts = emulator.contacts
    assert all(contacts[i][field] == expected for i in ids if i != victim)
    outcome(
        "contact deleted mid-run",
        operator_class.__name__,
        "failed clearly naming the id; skip_deleted=True updates the rest",
    )


def test_task_retries_are_bounded(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    emulator.add_fault("status", status=500, count=None)
    expect_failure(
        lambda: run_task(
            lambda: ApolloCreateContactOperator(task_id="c", contact={"email": "z@example.com"}), context
        )
    )
    assert emulator.request_count("/contacts", method="POST") == TASK_TRIES * (MAX_RETRIES + 1)
    assert count_by_email(emulator) == {}
    outcome(
        "5xx-on-every-request",
        "ApolloCreateContactOperator + task retries",
        "failed clearly, nothing created",
    )
