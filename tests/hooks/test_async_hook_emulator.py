"""
ApolloAsyncHook (the triggers' transport) against the emulator over loopback HTTP, without a trigger.

The trigger tests exercise this hook too, but slowly (they wait); these fast tests pin each thing
the aiohttp transport itself does: the id check before any request, paging with repeated ids,
stage names resolved once, the per-request and per-connection timeouts, query parameters, the
rate-limit headers reaching the limiter, connect-phase failures retried, and a closed session.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest

from airflow_provider_apollo.core import ApiRequest
from airflow_provider_apollo.core.sequences import sequence_search_request
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloConnectionError
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator

KEY = "async-hook-KEY-5d20c7a1"
GUARDED_KEYS = {KEY}
T = TypeVar("T")


@pytest.fixture
def apollo_emulator() -> Iterator[ApolloEmulator]:
    """The plugin's emulator (``apollo_connection`` points at it), with a marker key."""
    with ApolloEmulator(api_key=KEY, rate_limits={"minute": 200, "hour": 400, "day": 2000}) as emulator:
        yield emulator


def run(make: Callable[[ApolloAsyncHook], Awaitable[T]], **hook_kwargs: Any) -> T:
    """Run ``make(hook)`` on a fresh event loop with a hook that is closed afterwards."""
    return run_with(ApolloAsyncHook(**hook_kwargs), make)


def run_with(hook: ApolloAsyncHook, make: Callable[[ApolloAsyncHook], Awaitable[T]]) -> T:
    """Run ``make(hook)`` on a fresh event loop and close ``hook`` afterwards."""

    async def main() -> T:
        async with hook:
            return await make(hook)

    return asyncio.run(main())


async def read_all(hook: ApolloAsyncHook, filters: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
    return [contact["id"] async for contact in hook.search_contacts(filters, **kwargs)]


def test_get_contact_returns_apollos_contact(apollo_connection: ApolloEmulator) -> None:
    (contact_id,) = apollo_connection.seed_contacts(1)
    contact = run(lambda hook: hook.get_contact(contact_id))
    assert contact == apollo_connection.get_contact(contact_id)
    assert apollo_connection.request_count(f"/contacts/{contact_id}", "GET") == 1


@pytest.mark.parametrize("bad_id", ["", "   ", None, 7, ["a"]])
def test_get_contact_refuses_a_bad_id_before_any_request(
    apollo_connection: ApolloEmulator, bad_id: Any
) -> None:
    with pytest.raises(ApolloArgumentError, match=r"^contact_id must"):
        run(lambda hook: hook.get_contact(bad_id))
    assert apollo_connection.request_count() == 0


@pytest.mark.parametrize("bad_max", [-1, "10", 2.5, True])
def test_search_refuses_a_bad_max_records_before_any_request(
    apollo_connection: ApolloEmulator, bad_max: Any
) -> None:
    with pytest.raises(ApolloArgumentError, match=r"^max_records must be a non-negative integer"):
        run(lambda hook: read_all(hook, max_records=bad_max))
    assert apollo_connection.request_count() == 0


def test_the_hook_uses_the_connection_it_is_given(
    apollo_connection: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``apollo_default`` points at a closed port; the named connection at Apollo."""
    (contact_id,) = apollo_connection.seed_contacts(1)
    named = {"conn_type": "apollo", "password": KEY, "host": apollo_connection.url}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_SECOND", json.dumps(named))
    unused = {"conn_type": "apollo", "password": KEY, "host": f"http://127.0.0.1:{_closed_port()}"}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(unused))
    hook = ApolloAsyncHook("apollo_second", max_retries=0)
    assert hook.apollo_conn_id == "apollo_second"
    contact = run_with(hook, lambda hook: hook.get_contact(contact_id))
    assert contact["id"] == contact_id


def test_a_body_is_sent_only_with_requests_that_have_one(apollo_connection: ApolloEmulator) -> None:
    (contact_id,) = apollo_connection.seed_contacts(1)
    create = ApiRequest("POST", "/contacts", json_body={"first_name": "Ada"}, rate_group="/contacts")

    async def get_then_post(hook: ApolloAsyncHook) -> None:
        await hook.get_contact(contact_id)
        await hook.call(create)

    run(get_then_post)
    get, post = apollo_connection.requests
    assert (get.method, get.raw_body) == ("GET", b"")
    assert (post.method, json.loads(post.raw_body)) == ("POST", {"first_name": "Ada"})


def test_search_hands_out_each_contact_once_when_deletions_shift_the_pages(
    apollo_connection: ApolloEmulator,
) -> None:
    """
    Three contacts of page 1 are deleted right after Apollo served page 1: every later record moves
    back three places, so the pager rewinds and reads page 1 again; the ids it already handed out
    come back on that page and must not be handed out twice.
    """
    ids = apollo_connection.seed_contacts(250)
    original = apollo_connection.api_search
    served = 0

    def search_then_delete(request: Any) -> Any:
        nonlocal served
        answer = original(request)
        served += 1
        if served == 1:
            apollo_connection.delete_contacts(ids[10:13])
        return answer

    apollo_connection.api_search = search_then_delete  # type: ignore[method-assign]
    read = run(read_all)
    assert len(read) == len(set(read)), "a contact was handed out twice"
    assert set(read) == set(ids)
    # Pages 1 and 2; page 2 shows the total shrank, so 1 and 2 again, then 3.
    assert apollo_connection.request_count("/contacts/search") == 5


def test_search_stops_at_max_records_and_sends_per_page(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(60)
    read = run(lambda hook: read_all(hook, per_page=25, max_records=40))
    assert len(read) == len(set(read)) == 40
    bodies = [
        json.loads(r.raw_body) for r in apollo_connection.requests if r.path.endswith("/contacts/search")
    ]
    assert [(body["page"], body["per_page"]) for body in bodies] == [(1, 25), (2, 25)]


def test_stage_names_are_resolved_once_per_hook(apollo_connection: ApolloEmulator) -> None:
    replied = apollo_connection.seed_contacts(3, stage="Replied")
    apollo_connection.seed_contacts(5, stage="Cold")

    async def twice(hook: ApolloAsyncHook) -> tuple[list[str], list[str], str]:
        first = await read_all(hook, {"contact_stages": ["replied"]})
        second = await read_all(hook, {"contact_stages": ["Replied"]})
        return first, second, await hook.resolve_contact_stage_id("REPLIED")

    first, second, stage_id = run(twice)
    assert sorted(first) == sorted(second) == sorted(replied)
    assert stage_id == apollo_connection.stage_id("Replied")
    assert apollo_connection.request_count("/contact_stages", "GET") == 1


def test_query_parameters_reach_apollo(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.add_sequence("Partner intro")
    apollo_connection.add_sequence("Renewal nudge")
    body = run(lambda hook: hook.call(sequence_search_request(1, q_name="renewal")))
    assert [sequence["name"] for sequence in body["emailer_campaigns"]] == ["Renewal nudge"]


def test_rate_limit_headers_reach_the_limiter(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(3)

    async def search_then_usage(hook: ApolloAsyncHook) -> Any:
        await read_all(hook)
        await read_all(hook)
        return hook.quota_usage("/contacts/search")

    usage = run(search_then_usage)
    assert (usage["minute"].limit, usage["minute"].used, usage["minute"].left) == (200, 2, 198)
    assert (usage["hour"].limit, usage["hour"].left) == (400, 398)


def test_a_slow_answer_times_out_at_the_hooks_timeout(apollo_connection: ApolloEmulator) -> None:
    (contact_id,) = apollo_connection.seed_contacts(1)
    apollo_connection.add_fault("delay", delay=3.0, path="/contacts/", method="GET", count=None)
    with pytest.raises(ApolloConnectionError) as raised:
        run(lambda hook: hook.get_contact(contact_id), timeout=0.3, max_retries=0)
    assert raised.value.reason == "timed out"
    assert raised.value.maybe_applied


def test_a_requests_own_timeout_wins_over_the_connections(apollo_connection: ApolloEmulator) -> None:
    (contact_id,) = apollo_connection.seed_contacts(1)
    apollo_connection.add_fault("delay", delay=3.0, path="/contacts/", method="GET", count=None)
    request = ApiRequest("GET", f"/contacts/{contact_id}", timeout=0.3, rate_group="/contacts/{id}")
    with pytest.raises(ApolloConnectionError) as raised:
        run(lambda hook: hook.call(request), max_retries=0)
    assert raised.value.reason == "timed out"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_never_sent_so_even_a_create_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing listens: aiohttp's connect error means Apollo never saw the request, so retrying a create is safe."""
    connection = {"conn_type": "apollo", "password": KEY, "host": f"http://127.0.0.1:{_closed_port()}"}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
    hook = ApolloAsyncHook(max_retries=2, max_retry_wait=0.05)

    async def create() -> Any:
        async with hook:
            create = ApiRequest(
                "POST", "/contacts", json_body={"first_name": "Ada"}, idempotent=False, rate_group="/contacts"
            )
            return await hook.call(create)

    with pytest.raises(ApolloConnectionError) as raised:
        asyncio.run(create())
    assert not raised.value.maybe_applied
    assert raised.value.reason == "connection refused"
    assert hook.request_count == 3, "a create that never reached Apollo is retried within the budget"


def test_no_route_to_host_is_never_sent_so_even_a_create_is_retried(
    apollo_connection: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp's own connect-phase error without a refused connection under it (here: no route to host)."""

    async def unreachable(connector: aiohttp.TCPConnector, req: Any, *args: Any, **kwargs: Any) -> Any:
        raise aiohttp.ClientConnectorError(
            req.connection_key, OSError(errno.EHOSTUNREACH, "No route to host")
        )

    monkeypatch.setattr(aiohttp.TCPConnector, "_create_connection", unreachable)
    create = ApiRequest(
        "POST", "/contacts", json_body={"first_name": "Ada"}, idempotent=False, rate_group="/contacts"
    )
    hook = ApolloAsyncHook(max_retries=2, max_retry_wait=0.05)
    with pytest.raises(ApolloConnectionError) as raised:
        run_with(hook, lambda hook: hook.call(create))
    assert not raised.value.maybe_applied
    assert hook.request_count == 3, "a create that never reached Apollo is retried within the budget"
    assert apollo_connection.request_count() == 0


def test_a_closed_hook_opens_a_new_session_when_used_again(apollo_connection: ApolloEmulator) -> None:
    (contact_id,) = apollo_connection.seed_contacts(1)
    hook = ApolloAsyncHook()

    async def use_close_use() -> None:
        assert (await hook.get_contact(contact_id))["id"] == contact_id
        await hook.close()
        await hook.close()  # closing twice is harmless
        assert (await hook.get_contact(contact_id))["id"] == contact_id
        await hook.close()

    asyncio.run(use_close_use())
    assert apollo_connection.request_count(f"/contacts/{contact_id}") == 2
    # The first session's connection was closed with it: the second use opened its own.
    assert apollo_connection.connections_opened == 2
