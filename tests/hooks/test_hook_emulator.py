"""ApolloHook against the local Apollo emulator over real loopback HTTP: every contract method."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_apollo.core import SEARCH_RESULT_CAP
from airflow_provider_apollo.exceptions import (
    ApolloAuthError,
    ApolloRateLimitError,
    ApolloSearchCapError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator

# A key nobody types by accident: the leak guard looks for it in every log record and request.
HOOK_KEY = "hook-test-KEY-91c4e0b7"
# The key, and the wrong key and bearer token some tests send: in no log record, nothing printed, no URL or body.
GUARDED_KEYS = {HOOK_KEY, "wrong-key-1234", "oauth-token"}


@pytest.fixture
def apollo_emulator() -> Iterator[ApolloEmulator]:
    """The plugin's emulator (``apollo_connection`` points at it), with the marker key."""
    with ApolloEmulator(api_key=HOOK_KEY) as emulator:
        yield emulator


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
    with ApolloEmulator(api_key=HOOK_KEY, pagination_as_strings=True) as emulator:
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
    with ApolloEmulator(api_key=HOOK_KEY, rate_limits={"hour": 3}) as emulator:
        (contact_id,) = emulator.seed_contacts(1)
        hook = use(emulator, monkeypatch)
        for _ in range(3):
            hook.get_contact(contact_id)
        started = time.monotonic()
        with pytest.raises(ApolloRateLimitError) as caught:
            hook.get_contact(contact_id)
        assert time.monotonic() - started < 1.0
        assert caught.value.retry_after is not None and caught.value.retry_after > 60


@pytest.mark.slow
def test_minute_window_is_paced_with_one_429_to_learn_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    The hook reads Apollo's usage headers and paces: after one 429 teaches it when the window
    resets, later windows meet no 429 at all. A client that only waits out each 429 (no pacing)
    meets one per window, here 4.
    """
    limit, calls, time_scale = 20, 100, 0.02  # a 1.2 s "minute"
    window = 60 * time_scale
    with ApolloEmulator(api_key=HOOK_KEY, rate_limits={"minute": limit}, time_scale=time_scale) as emulator:
        (contact_id,) = emulator.seed_contacts(1)
        hook = use(emulator, monkeypatch)
        started = time.monotonic()
        for _ in range(calls):
            hook.get_contact(contact_id)
        elapsed = time.monotonic() - started
        windows = math.ceil(calls / limit)
        counts = emulator.status_counts()
    assert counts.get(200) == calls
    assert counts.get(429, 0) <= 1, f"{counts.get(429)} 429s over {windows} windows: the hook did not pace"
    theoretical = (windows - 1) * window
    # Loose on purpose: fails only if the hook sleeps whole extra windows.
    assert elapsed < theoretical * 1.5 + 1.0, f"{elapsed:.2f}s vs theoretical {theoretical:.2f}s"


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["requests", "aiohttp"])
def test_a_retry_after_longer_than_any_backoff_is_waited_out(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """
    A 429 whose retry-after (about 2.4 s) outlasts every backoff of the retry budget (two
    retries: at most 0.5 s + 1 s) succeeds only if the hook waits for retry-after.
    """
    with ApolloEmulator(api_key=HOOK_KEY, rate_limits={"minute": 3}, time_scale=0.04) as emulator:
        (contact_id,) = emulator.seed_contacts(1)
        hook = use(emulator, monkeypatch, max_retries=2, max_retry_wait=10)

        async def async_calls(n: int) -> list[dict[str, object]]:
            async with ApolloAsyncHook() as async_hook:
                return [await async_hook.get_contact(contact_id) for _ in range(n)]

        def calls(n: int) -> list[dict[str, object]]:
            if transport == "aiohttp":
                return asyncio.run(async_calls(n))
            return [hook.get_contact(contact_id) for _ in range(n)]

        calls(3)  # the window's quota is used up
        started = time.monotonic()
        assert [contact["id"] for contact in calls(1)] == [contact_id]
        waited = time.monotonic() - started
        assert emulator.status_counts() == {200: 4, 429: 1}
    assert waited >= 1.5, f"answered after {waited:.2f}s, before the window reset"


def test_sequential_calls_reuse_one_connection(apollo_connection: ApolloEmulator) -> None:
    (contact_id,) = apollo_connection.seed_contacts(1)
    hook = ApolloHook()
    for _ in range(50):
        hook.get_contact(contact_id)
    hook.create_contact({"first_name": "Ada", "email": "ada@example.com"}, run_dedupe=True)
    assert len(list(hook.search_contacts())) == 2
    assert apollo_connection.request_count() == 52
    assert apollo_connection.connections_opened == 1


def test_concurrent_search_opens_at_most_one_connection_per_page_in_flight(
    apollo_connection: ApolloEmulator,
) -> None:
    apollo_connection.seed_contacts(1000)
    assert len(list(ApolloHook().search_contacts(concurrency=4))) == 1000
    assert apollo_connection.request_count("/contacts/search") == 10
    assert 1 <= apollo_connection.connections_opened <= 4


def test_the_async_hook_reuses_one_connection(apollo_connection: ApolloEmulator) -> None:
    (contact_id,) = apollo_connection.seed_contacts(1)

    async def run() -> None:
        async with ApolloAsyncHook() as hook:
            for _ in range(20):
                await hook.get_contact(contact_id)

    asyncio.run(run())
    assert apollo_connection.request_count() == 20
    assert apollo_connection.connections_opened == 1


def _after_search_request(emulator: ApolloEmulator, n: int, action: Callable[[], None]) -> None:
    """Run ``action`` inside the emulator right after it applied its ``n``-th search request."""
    original = emulator.api_search
    seen = 0

    def wrapped(request: Any) -> Any:
        nonlocal seen
        result = original(request)
        seen += 1
        if seen == n:
            action()
        return result

    emulator.api_search = wrapped  # type: ignore[method-assign]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_search_misses_no_contact_when_contacts_are_deleted_while_paging(
    apollo_connection: ApolloEmulator, concurrency: int
) -> None:
    """
    Contacts of page 1 deleted right after Apollo served page 1 (before any later page is read):
    every later record shifts back one place per deletion, on every run; only a rewind finds them.
    """
    ids = apollo_connection.seed_contacts(450)
    deleted = ids[10:13]
    _after_search_request(apollo_connection, 1, lambda: apollo_connection.delete_contacts(deleted))
    read = [c["id"] for c in ApolloHook().search_contacts(concurrency=concurrency)]
    assert len(read) == len(set(read)), "a contact was handed out twice"
    # The deleted three were read on page 1; 100-102 shifted onto page 1 after it was read.
    assert sorted(read) == sorted(ids), f"missing: {sorted(set(ids) - set(read))}"
    # The shift was seen and page 1 read again: more requests than the 5 pages.
    assert apollo_connection.request_count("/contacts/search") > 5
