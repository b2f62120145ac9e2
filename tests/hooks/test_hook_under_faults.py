"""
ApolloHook under injected faults: every call ends as it would without them, or fails clearly.

The emulator injects the named faults of reliability_support (429 storms, 5xx bursts, dropped
connections before and after Apollo applied the request, slow and broken answers); a create is
retried only when it cannot have been applied, or when dedupe makes the retry find it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from reliability_support import (
    MAX_RETRIES,
    PERSISTENT_FAULTS,
    TRANSIENT_FAULTS,
    FaultCase,
    Outcome,
    applied_then_failed_params,
    assert_no_key,
    count_by_email,
    create_params,
    expect_failure,
    persistent_params,
    settle,
    transient_params,
)

from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloServerError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator


def faulted(emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase) -> ApolloHook:
    reconnect(**fault.extra)
    fault.inject(emulator)
    return ApolloHook()


@pytest.mark.parametrize("fault", create_params())
def test_create_with_dedupe_survives_and_creates_once(
    emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase, outcome: Outcome
) -> None:
    reconnect(**fault.extra)
    injected = fault.inject(emulator)
    contact = ApolloHook().create_contact({"first_name": "Ada", "email": "ada@example.com"}, run_dedupe=True)
    settle(emulator, fault)
    # The fault struck this one-request call (the 429 storm starts with the first request).
    assert injected.hits >= 1
    assert count_by_email(emulator) == {"ada@example.com": 1}
    assert emulator.contacts[contact["id"]]["first_name"] == "Ada"
    assert_no_key(contact)
    outcome(fault.name, "hook create_contact (run_dedupe)", "survived, no duplicates")


@pytest.mark.parametrize("fault", transient_params())
def test_search_survives_and_returns_every_contact_once(
    emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase, outcome: Outcome
) -> None:
    # Four pages at once: the export's path; sequential paging is covered by the export tests.
    concurrency = 4
    emulator.seed_contacts(250)
    hook = faulted(emulator, reconnect, fault)
    ids = [contact["id"] for contact in hook.search_contacts(per_page=50, concurrency=concurrency)]
    assert len(ids) == len(set(ids)) == 250
    assert set(ids) == set(emulator.contacts)
    outcome(fault.name, f"hook search_contacts (concurrency {concurrency})", "survived, every contact once")


@pytest.mark.parametrize("fault", transient_params())
def test_update_stages_survives_and_moves_every_contact(
    emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase, outcome: Outcome
) -> None:
    ids = emulator.seed_contacts(250, stage="Cold")
    hook = faulted(emulator, reconnect, fault)
    updated = hook.update_contact_stages(ids, "Interested")
    settle(emulator, fault)
    interested = emulator.stage_id("Interested")
    assert sorted(contact["id"] for contact in updated) == sorted(ids)
    contacts = emulator.contacts
    assert all(contacts[i]["contact_stage_id"] == interested for i in ids)
    outcome(fault.name, "hook update_contact_stages", "survived, all moved")


@pytest.mark.parametrize("fault", persistent_params())
def test_search_under_a_persistent_fault_fails_clearly_after_the_retry_budget(
    emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase, outcome: Outcome
) -> None:
    emulator.seed_contacts(20)
    hook = faulted(emulator, reconnect, fault)
    error = expect_failure(lambda: list(hook.search_contacts()), ApolloApiError)
    settle(emulator, fault)
    assert isinstance(error, (ApolloRateLimitError, ApolloServerError, ApolloConnectionError))
    assert "POST /contacts/search" in str(error)
    # The budget: one try and MAX_RETRIES retries, then a clear error; never an endless loop.
    assert emulator.request_count("/contacts/search") == MAX_RETRIES + 1
    outcome(fault.name, "hook search_contacts", f"failed clearly after {MAX_RETRIES + 1} tries")


@pytest.mark.parametrize("fault", applied_then_failed_params())
def test_create_with_dedupe_after_an_applied_then_failed_request_retries_and_holds_one_contact(
    emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase, outcome: Outcome
) -> None:
    """The first create landed but its answer was lost or a 5xx: the dedupe retry finds it, no duplicate."""
    hook = faulted(emulator, reconnect, fault)
    contact = hook.create_contact({"first_name": "Di", "email": "di@example.com"}, run_dedupe=True)
    settle(emulator, fault)
    # Every try was applied (the first created it, the others matched it); the last was answered.
    assert emulator.request_count("/contacts", method="POST") == fault.options["count"] + 1
    assert count_by_email(emulator) == {"di@example.com": 1}
    assert list(emulator.contacts) == [contact["id"]]
    outcome(fault.name, "hook create_contact (run_dedupe)", "retried, applied each time, one contact")


# --------------------------------------------------------------------------- run_dedupe=False


@pytest.mark.parametrize(
    "fault",
    [case.param() for case in TRANSIENT_FAULTS if case.kind in ("truncate", "delay")]
    + applied_then_failed_params(),
)
def test_create_without_dedupe_after_a_maybe_applied_fault_is_never_retried_by_the_hook(
    emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase, outcome: Outcome
) -> None:
    """Apollo has no idempotency key: the hook sends a non-dedupe create once and says it may have landed."""
    reconnect(**fault.extra)
    fault.inject(emulator, count=1)
    hook = ApolloHook()
    error = expect_failure(
        lambda: hook.create_contact({"first_name": "Bo", "email": "bo@example.com"}, run_dedupe=False),
        ApolloConnectionError,
        ApolloServerError,
    )
    settle(emulator, fault)
    if isinstance(error, ApolloConnectionError):
        assert error.maybe_applied
    else:
        assert isinstance(error, ApolloServerError) and error.status_code == fault.options["status"]
    assert emulator.request_count("/contacts", method="POST") == 1
    # The request did land: a task retry without dedupe WOULD create a second contact (documented).
    assert count_by_email(emulator) == {"bo@example.com": 1}
    hook.create_contact({"first_name": "Bo", "email": "bo@example.com"}, run_dedupe=False)
    assert count_by_email(emulator) == {"bo@example.com": 2}
    outcome(
        fault.name,
        "hook create_contact (run_dedupe=False)",
        "hook sent it once and raised maybe_applied; a task retry duplicates (use run_dedupe=True)",
    )


@pytest.mark.parametrize(
    "fault",
    [case.param() for case in PERSISTENT_FAULTS if case.kind == "status"]
    + [case.param() for case in TRANSIENT_FAULTS if case.kind == "drop"],
)
def test_create_without_dedupe_retries_only_what_cannot_have_been_applied(
    emulator: ApolloEmulator, reconnect: Callable[..., None], fault: FaultCase, outcome: Outcome
) -> None:
    hook = faulted(emulator, reconnect, fault)
    error = expect_failure(
        lambda: hook.create_contact({"first_name": "Cy", "email": "cy@example.com"}, run_dedupe=False),
        ApolloApiError,
    )
    sent = emulator.request_count("/contacts", method="POST")
    if isinstance(error, ApolloRateLimitError):
        # A 429 was refused before being applied: safe to retry, up to the budget.
        assert sent == MAX_RETRIES + 1
    else:
        # A 500 or a dropped connection may have been applied: sent once, never repeated.
        assert sent == 1
    assert count_by_email(emulator) == {}
    outcome(
        fault.name,
        "hook create_contact (run_dedupe=False)",
        f"failed clearly, {sent} request(s), nothing created",
    )
