"""Search through both hooks against the emulator: one code path (core/paging.py's steps), two transports.

``ApolloHook`` drives the search steps with threads, ``ApolloAsyncHook`` with ``asyncio.gather``;
both must hand out the same pages, count the same, export the same, rewind the same way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from airflow_provider_apollo.core.export import ExportPlan
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator

T = TypeVar("T")


def run(make: Callable[[ApolloAsyncHook], Awaitable[T]]) -> T:
    """Run ``make(hook)`` on a fresh event loop with an async hook that is closed afterwards."""

    async def main() -> T:
        async with ApolloAsyncHook() as hook:
            return await make(hook)

    return asyncio.run(main())


async def collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


def slow_pages(emulator: ApolloEmulator, seconds: float, pages: set[int]) -> None:
    """The pages in ``pages`` wait ``seconds`` inside Apollo the first time they are asked for."""
    original = emulator.api_search
    served: set[int] = set()
    lock = threading.Lock()

    def slow(request: Any) -> Any:
        page = int(request.value("page") or 1)
        with lock:
            wait = page in pages and page not in served
            served.add(page)
        if wait:
            time.sleep(seconds)
        return original(request)

    emulator.api_search = slow  # type: ignore[method-assign]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_both_hooks_hand_out_the_same_pages(apollo_connection: ApolloEmulator, concurrency: int) -> None:
    apollo_connection.seed_contacts(450)
    filters = {"sort_by_field": "contact_created_at", "sort_ascending": True}
    sync_pages = list(ApolloHook().search_contact_pages(filters, concurrency=concurrency))
    async_pages = run(lambda hook: collect(hook.search_contact_pages(filters, concurrency=concurrency)))
    assert [(p.page, p.total_pages, p.total_entries) for p in async_pages] == [
        (page, 5, 450) for page in range(1, 6)
    ]
    assert async_pages == sync_pages
    contacts = run(lambda hook: collect(hook.search_contacts(filters, concurrency=concurrency)))
    assert [contact["id"] for contact in contacts] == list(apollo_connection.contacts)


def test_the_async_hook_reads_pages_at_once_after_the_first(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(500)
    slow_pages(apollo_connection, 0.5, {2, 3, 4, 5})
    started = time.monotonic()
    pages = run(lambda hook: collect(hook.search_contact_pages(concurrency=4)))
    elapsed = time.monotonic() - started
    assert [page.page for page in pages] == [1, 2, 3, 4, 5]
    # Pages 2 to 5 were gathered: about one wait of 0.5 s, not four.
    assert elapsed < 1.8, elapsed


def test_the_async_hook_starts_at_a_later_page_and_stops_at_max_records(
    apollo_connection: ApolloEmulator,
) -> None:
    apollo_connection.seed_contacts(450)
    resumed = run(lambda hook: collect(hook.search_contact_pages(start_page=4)))
    assert [(page.page, len(page.contacts)) for page in resumed] == [(4, 100), (5, 50)]
    first = run(lambda hook: collect(hook.search_contacts(max_records=130, concurrency=3)))
    assert [contact["id"] for contact in first] == list(apollo_connection.contacts)[:130]
    assert apollo_connection.request_count("/contacts/search") == 2 + 2


def test_the_async_hook_rewinds_when_contacts_vanish_in_front(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(450)
    original = apollo_connection.api_search

    def delete_after_page_1(request: Any) -> Any:
        answer = original(request)
        if int(request.value("page") or 1) == 1 and apollo_connection.contact_count == 450:
            apollo_connection.delete_contacts(ids[10:13])
        return answer

    apollo_connection.api_search = delete_after_page_1  # type: ignore[method-assign]
    read = run(lambda hook: collect(hook.search_contacts(concurrency=4)))
    assert sorted(contact["id"] for contact in read) == sorted(ids)
    assert apollo_connection.request_count("/contacts/search") > 5, "the pager rewound"


def test_both_hooks_count_alike(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(7, stage="Replied")
    apollo_connection.seed_contacts(5, stage="Cold")
    filters = {"contact_stages": ["replied"]}
    assert run(lambda hook: hook.count_contacts(filters)) == ApolloHook().count_contacts(filters) == 7
    assert run(lambda hook: hook.count_contacts()) == 12
    counts = [r.body for r in apollo_connection.requests if r.path.endswith("/contacts/search")]
    assert {body["per_page"] for body in counts} == {1}


def test_both_hooks_drive_an_export_plan_alike(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(320)
    sync_plan = ExportPlan(max_records=250, concurrency=2)
    sync_batches = list(ApolloHook().export_contacts(sync_plan))
    async_plan = ExportPlan(max_records=250, concurrency=2)
    async_batches = run(lambda hook: collect(hook.export_contacts(async_plan)))
    assert async_batches == sync_batches and [len(batch) for batch in async_batches] == [100, 100, 50]
    assert async_plan.state() == sync_plan.state()


def test_the_async_hook_refuses_bad_search_arguments_before_any_request(
    apollo_connection: ApolloEmulator,
) -> None:
    for arguments, message in (
        ({"concurrency": 0}, "^concurrency must be"),
        ({"start_page": 0}, "^start_page must be"),
        ({"per_page": 101}, "^per_page must be"),
    ):
        with pytest.raises(ApolloArgumentError, match=message):
            run(lambda hook, arguments=arguments: collect(hook.search_contact_pages(**arguments)))
    with pytest.raises(ApolloArgumentError, match="^search filters must not contain 'page'"):
        run(lambda hook: hook.count_contacts({"page": 2}))
    assert apollo_connection.request_count() == 0
