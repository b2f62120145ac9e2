"""ApolloHook against the local Apollo emulator over real loopback HTTP: every contract method."""

from __future__ import annotations

import json
import logging
import math
import time

import pytest

from airflow_provider_apollo.core import SEARCH_RESULT_CAP
from airflow_provider_apollo.exceptions import (
    ApolloAuthError,
    ApolloRateLimitError,
    ApolloSearchCapError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator


def use(emulator: ApolloEmulator, monkeypatch: pytest.MonkeyPatch, **extra: object) -> ApolloHook:
    conn = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
    return ApolloHook()


def test_create_get_and_update_a_contact(apollo_connection: ApolloEmulator) -> None:
    # [START howto_hook_apollo_contacts]
    hook = ApolloHook(apollo_conn_id="apollo_default")
    contact = hook.create_contact(
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "title": "CTO"},
        run_dedupe=True,
    )
    hook.update_contact(contact["id"], {"title": "Chief Analyst"})
    assert hook.get_contact(contact["id"])["title"] == "Chief Analyst"
    # [END howto_hook_apollo_contacts]
    assert apollo_connection.contacts[contact["id"]]["title"] == "Chief Analyst"


def test_create_with_dedupe_returns_the_existing_contact(apollo_connection: ApolloEmulator) -> None:
    hook = ApolloHook()
    first = hook.create_contact({"first_name": "Ada", "email": "ada@example.com"}, run_dedupe=True)
    again = hook.create_contact({"first_name": "Ada", "email": "ADA@example.com"}, run_dedupe=True)
    assert again["id"] == first["id"]
    assert sum(c["email"].casefold() == "ada@example.com" for c in apollo_connection.contacts.values()) == 1


def test_bulk_create_returns_one_contact_per_input_in_order(apollo_connection: ApolloEmulator) -> None:
    hook = ApolloHook()
    existing = hook.create_contact({"first_name": "Old", "email": "p7@example.com"}, run_dedupe=True)
    inputs = [{"first_name": f"P{i}", "last_name": "Test", "email": f"p{i}@example.com"} for i in range(230)]
    result = hook.bulk_create_contacts(inputs, run_dedupe=True)
    assert [c["email"] for c in result] == [c["email"] for c in inputs]
    assert result[7]["id"] == existing["id"]
    assert apollo_connection.request_count("/contacts/bulk_create") == 3


def test_search_reads_every_page_lazily(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(250)
    hook = ApolloHook()
    # [START howto_hook_apollo_search]
    emails = [contact["email"] for contact in hook.search_contacts({"sort_by_field": "contact_created_at"})]
    # [END howto_hook_apollo_search]
    assert sorted(emails) == sorted(c["email"] for c in apollo_connection.contacts.values())
    assert apollo_connection.request_count("/contacts/search") == 3


def test_search_tolerates_pagination_sent_as_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    with ApolloEmulator(pagination_as_strings=True) as emulator:
        emulator.seed_contacts(150)
        assert len(list(use(emulator, monkeypatch).search_contacts())) == 150


def test_search_honours_max_records(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(500)
    assert len(list(ApolloHook().search_contacts(max_records=150))) == 150
    assert apollo_connection.request_count("/contacts/search") == 2


def test_concurrent_search_returns_the_same_contacts_in_order(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(1000)
    hook = ApolloHook()
    serial = [c["id"] for c in hook.search_contacts({"sort_by_field": "contact_created_at"})]
    parallel = [c["id"] for c in hook.search_contacts({"sort_by_field": "contact_created_at"}, concurrency=4)]
    assert parallel == serial and len(serial) == 1000


def test_search_beyond_the_cap_raises_before_any_record(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 10)
    contacts = ApolloHook().search_contacts()
    with pytest.raises(ApolloSearchCapError, match="50,010"):
        next(contacts)
    assert apollo_connection.request_count("/contacts/search") == 1


def test_count_contacts_reports_the_total_beyond_the_cap(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 10)
    assert ApolloHook().count_contacts() == SEARCH_RESULT_CAP + 10


def test_stages_resolve_by_name_and_update_in_batches(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(230)
    hook = ApolloHook()
    assert {s["display_name"] for s in hook.list_contact_stages()} >= {"Cold", "Approaching", "Replied"}
    # [START howto_hook_apollo_stages]
    updated = hook.update_contact_stages(ids, "Approaching")
    # [END howto_hook_apollo_stages]
    approaching = apollo_connection.stage_id("Approaching")
    assert len(updated) == 230
    assert {apollo_connection.contacts[i]["contact_stage_id"] for i in ids} == {approaching}


def test_update_owners(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(120)
    owner = apollo_connection.users[-1]["id"]
    updated = ApolloHook().update_contact_owners(ids, owner)
    assert {c["owner_id"] for c in updated} == {owner}
    assert {apollo_connection.contacts[i]["owner_id"] for i in ids} == {owner}


def test_deleted_contacts_are_reported_or_skipped(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(5)
    apollo_connection.delete_contacts(ids[:2])
    hook = ApolloHook()
    with pytest.raises(ApolloValidationError) as caught:
        hook.update_contact_stages(ids, "Replied")
    assert sorted(caught.value.deleted_contact_ids) == sorted(ids[:2])
    updated = hook.update_contact_stages(ids, "Replied", skip_deleted=True)
    assert sorted(c["id"] for c in updated) == sorted(ids[2:])
    assert sorted(updated.skipped_deleted_ids) == sorted(ids[:2])


def test_wrong_key_raises_auth_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with ApolloEmulator(api_key="right-key") as emulator:
        conn = {"conn_type": "apollo", "password": "wrong-key-1234", "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
        with pytest.raises(ApolloAuthError) as caught:
            ApolloHook().list_contact_stages()
    assert caught.value.status_code == 401
    assert "wrong-key-1234" not in str(caught.value) and "wrong-key-1234" not in caplog.text


def test_bearer_token_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    with ApolloEmulator(oauth_tokens=["oauth-token"]) as emulator:
        conn = {
            "conn_type": "apollo",
            "password": "oauth-token",
            "host": emulator.url,
            "extra": {"auth_type": "bearer"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
        assert ApolloHook().test_connection()[0] is True


def test_connection_test_against_the_emulator(apollo_connection: ApolloEmulator) -> None:
    ok, message = ApolloHook().test_connection()
    assert ok and apollo_connection.url in message
    apollo_connection.api_key = "rotated"
    ok, message = ApolloHook().test_connection()
    assert not ok and "401" in message


def test_hourly_quota_exhaustion_raises_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with ApolloEmulator(rate_limits={"hour": 3}) as emulator:
        (contact_id,) = emulator.seed_contacts(1)
        hook = use(emulator, monkeypatch)
        for _ in range(3):
            hook.get_contact(contact_id)
        started = time.monotonic()
        with pytest.raises(ApolloRateLimitError) as caught:
            hook.get_contact(contact_id)
        assert time.monotonic() - started < 1.0
        assert caught.value.retry_after is not None and caught.value.retry_after > 60


def test_minute_window_is_paced_with_at_most_one_429_per_window(monkeypatch: pytest.MonkeyPatch) -> None:
    limit, calls, time_scale = 20, 100, 0.02  # a 1.2 s "minute"
    window = 60 * time_scale
    with ApolloEmulator(rate_limits={"minute": limit}, time_scale=time_scale) as emulator:
        (contact_id,) = emulator.seed_contacts(1)
        hook = use(emulator, monkeypatch)
        started = time.monotonic()
        for _ in range(calls):
            hook.get_contact(contact_id)
        elapsed = time.monotonic() - started
        windows = math.ceil(calls / limit)
        rejected = emulator.status_counts().get(429, 0)
    assert rejected <= windows, f"{rejected} 429s over {windows} windows"
    theoretical = (windows - 1) * window
    # Loose on purpose (timings belong to bench/): fails only if the hook sleeps whole extra windows.
    assert elapsed < theoretical * 1.5 + 1.0, f"{elapsed:.2f}s vs theoretical {theoretical:.2f}s"


@pytest.mark.parametrize("concurrency", [1, 4])
def test_search_misses_no_contact_when_contacts_are_deleted_while_paging(
    apollo_connection: ApolloEmulator, concurrency: int
) -> None:
    ids = apollo_connection.seed_contacts(450)
    contacts = ApolloHook().search_contacts(concurrency=concurrency)
    read = [next(contacts)["id"] for _ in range(150)]
    apollo_connection.delete_contacts(ids[10:13])  # already read: later records shift back
    read += [c["id"] for c in contacts]
    assert sorted(set(read)) == sorted(set(ids) - set(ids[10:13]) | set(read[:150]))
    assert len(read) == len(set(read))
    assert set(ids) - set(ids[10:13]) <= set(read)
