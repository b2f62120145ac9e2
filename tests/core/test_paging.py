"""Paging (core/paging.py): search arguments checked, reading Apollo's pagination, the search pager's
decisions (how many pages a search is worth reading), and the search and count step generators both
hooks drive, against a scripted Apollo (no HTTP); last, paging through the hook against a mocked Apollo."""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests_mock as requests_mock_module
from core_support import MOCKED_BASE, use_connection

from airflow_provider_apollo.core import SEARCH_RESULT_CAP
from airflow_provider_apollo.core.endpoints import PATH_SEARCH, ApiRequest
from airflow_provider_apollo.core.lifecycle import Concurrently, Emit, aiter_steps, iter_steps, run_steps
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.core.paging import (
    MAX_SEARCH_CONCURRENCY,
    Pagination,
    SearchPage,
    SearchPager,
    check_search,
    check_search_cap,
    count_contacts,
    read_pagination,
    search_filters,
    search_pages,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloRateLimitError,
    ApolloSearchCapError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator


def page(
    number: object, total_pages: object, total: int, ids: list[str], per_page: object = 100
) -> dict[str, object]:
    return {
        "contacts": [{"id": i} for i in ids],
        "pagination": {
            "page": number,
            "per_page": per_page,
            "total_entries": total,
            "total_pages": total_pages,
        },
    }


def _page(ids: list[str], total_entries: int, total_pages: int, page: Any = None) -> dict[str, Any]:
    pagination: dict[str, Any] = {"per_page": 2, "total_entries": total_entries, "total_pages": total_pages}
    if page is not None:
        pagination["page"] = page
    return {"contacts": [{"id": i} for i in ids], "pagination": pagination}


STAGES = [{"id": "s-cold", "display_name": "Cold"}, {"id": "s-replied", "display_name": "Replied"}]


class Apollo:
    """
    A scripted Apollo behind ``call``: ``total`` contacts ``c0``, ``c1`` ... in pages, and its stages.

    :param before_answer: called with the page number before a search page is answered (deletes
        contacts, raises an error ...).
    """

    def __init__(self, total: int, *, before_answer: Callable[[Apollo, int], None] | None = None) -> None:
        self.ids = [f"c{index}" for index in range(total)]
        self.before_answer = before_answer
        self.requests: list[ApiRequest] = []
        self._lock = threading.Lock()

    def call(self, request: ApiRequest) -> Any:
        with self._lock:
            self.requests.append(request)
        if request.path == "/contact_stages":
            return {"contact_stages": STAGES}
        assert request.path == PATH_SEARCH
        body = dict(request.json_body or {})
        number, per_page = body["page"], body["per_page"]
        if self.before_answer is not None:
            self.before_answer(self, number)
        ids = self.ids[(number - 1) * per_page : number * per_page]
        return page(number, max(1, math.ceil(len(self.ids) / per_page)), len(self.ids), ids, per_page)

    async def acall(self, request: ApiRequest) -> Any:
        return self.call(request)

    def pages_asked(self) -> list[int]:
        return [request.json_body["page"] for request in self.requests if request.path == PATH_SEARCH]


def read(steps: Any, apollo: Apollo) -> list[SearchPage]:
    return list(iter_steps(steps, apollo.call))


def ids_of(pages: list[SearchPage]) -> list[str]:
    return [contact["id"] for found in pages for contact in found.contacts]


def cids(first: int, last: int) -> list[str]:
    return [f"c{index}" for index in range(first, last + 1)]


# --------------------------------------------------------------------------- pagination and arguments


def test_pagination_tolerates_numbers_sent_as_strings() -> None:
    pagination = read_pagination(page("2", "3", 250, [], per_page="100"))
    assert (pagination.page, pagination.per_page, pagination.total_pages) == (2, 100, 3)


def test_missing_or_unreadable_pagination_numbers_take_their_defaults() -> None:
    assert read_pagination({"pagination": {}}) == Pagination(1, 0, 0, 0)
    assert read_pagination(
        {"pagination": {"page": "", "per_page": None, "total_entries": "x", "total_pages": []}}
    ) == (Pagination(1, 0, 0, 0))
    assert read_pagination(
        {"pagination": {"page": "3", "per_page": "25", "total_entries": 60, "total_pages": "3"}}
    ) == (Pagination(3, 25, 60, 3))


@pytest.mark.parametrize("body", [{}, {"pagination": None}, {"pagination": []}, None, []])
def test_a_search_answer_without_pagination_is_an_api_error_saying_so(body: Any) -> None:
    with pytest.raises(ApolloApiError) as info:
        read_pagination(body)
    assert str(info.value) == "Apollo search answered without a 'pagination' object"


@pytest.mark.parametrize(
    ("filters", "per_page", "max_records", "message"),
    [
        ([], 100, None, "filters must be a dict"),
        ({"page": 2}, 100, None, "must not contain 'page'"),
        ({}, 0, None, "per_page must be an integer from 1 to 100"),
        ({}, 101, None, "per_page must be an integer from 1 to 100"),
        ({}, 100, -1, "max_records must be a non-negative integer"),
        ({"sort_by_field": "name"}, 100, None, "sort_by_field must be one of"),
    ],
)
def test_search_arguments_are_checked_before_any_request(
    filters: object, per_page: object, max_records: object, message: str
) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        check_search(filters, per_page, max_records)


@pytest.mark.parametrize("reserved", ["page", "per_page", "api_key"])
def test_reserved_search_filters_are_refused_saying_how_paging_is_done(reserved: str) -> None:
    with pytest.raises(ApolloArgumentError) as info:
        check_search({reserved: 1}, 100, None)
    assert str(info.value) == (
        f"search filters must not contain {reserved!r}: paging is done for you (use per_page= and max_records=)."
    )


@pytest.mark.parametrize(
    "filters, per_page, max_records, named",
    [
        ("q", 10, None, "search filters must be a dict, got str"),
        ({"page": 2}, 10, None, "must not contain 'page'"),
        ({"per_page": 2}, 10, None, "must not contain 'per_page'"),
        ({"api_key": "k"}, 10, None, "must not contain 'api_key'"),
        ({}, 0, None, "per_page must be an integer from 1 to 100"),
        ({}, 101, None, "per_page must be an integer from 1 to 100"),
        ({}, 10, -1, "max_records must be a non-negative integer or None, got -1"),
        ({}, 10, True, "max_records must be a non-negative integer or None, got True"),
        ({}, 10, 2.5, "max_records"),
        ({"sort_by_field": "name"}, 10, None, "sort_by_field must be one of"),
    ],
)
def test_search_arguments_are_refused_naming_the_argument(
    filters: object, per_page: object, max_records: object, named: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=re.escape(named)):
        check_search(filters, per_page, max_records)


def test_search_argument_messages_say_what_to_use_instead() -> None:
    with pytest.raises(ApolloArgumentError, match=re.escape("(use per_page= and max_records=).")):
        check_search({"page": 1}, 10, None)
    with pytest.raises(ApolloArgumentError, match="contact_created_at, contact_updated_at; got .x.\\.$"):
        check_search({"sort_by_field": "x"}, 10, None)


def test_valid_search_arguments_pass_as_a_copy() -> None:
    filters = {"sort_by_field": "contact_updated_at"}
    checked = check_search(filters, 100, 0)
    assert checked == filters and checked is not filters
    assert check_search(None, 1, None) == {}


def test_the_search_cap_error_carries_the_total_and_the_cap() -> None:
    check_search_cap(50_000, None)
    with pytest.raises(ApolloSearchCapError) as info:
        check_search_cap(50_001, None)
    assert (info.value.total_entries, info.value.cap) == (50_001, 50_000)
    assert str(info.value) == (
        "This search matches 50,001 contacts, more than the 50,000 Apollo returns for one query, so "
        "reading it would silently miss 1 of them. Narrow the filters (contact_stage_ids, "
        "contact_label_ids, q_keywords), split the search into several, or pass max_records<=50,000 "
        "to read only the first records on purpose. ApolloSearchToS3Operator splits by contact stage for you."
    )


# --------------------------------------------------------------------------- the pager


def test_pager_walks_pages_until_total_pages() -> None:
    pager = SearchPager({}, per_page=2, max_records=None)
    seen = []
    bodies = iter([page(1, 3, 5, ["a", "b"]), page(2, 3, 5, ["c", "d"]), page(3, 3, 5, ["e"])])
    while (request := pager.next_request()) is not None:
        assert request.json_body["page"] == len(seen) // 2 + 1
        seen += [c["id"] for c in pager.accept(next(bodies))]
    assert seen == ["a", "b", "c", "d", "e"]


def test_the_pager_advances_by_the_page_it_asked_for_when_apollo_omits_the_page_number() -> None:
    pager = SearchPager({}, per_page=2, max_records=None)
    asked = []
    bodies = [_page(["a", "b"], 6, 3), _page(["c", "d"], 6, 3), _page(["e", "f"], 6, 3)]
    handed: list[str] = []
    while (request := pager.next_request()) is not None and len(asked) < 5:
        asked.append(request.json_body["page"])
        handed += [c["id"] for c in pager.accept(bodies[len(asked) - 1])]
    assert asked == [1, 2, 3]
    assert handed == ["a", "b", "c", "d", "e", "f"]


def test_pager_stops_at_max_records_mid_page() -> None:
    pager = SearchPager({}, per_page=2, max_records=3)
    assert [c["id"] for c in pager.accept(page(1, 5, 10, ["a", "b"]))] == ["a", "b"]
    assert [c["id"] for c in pager.accept(page(2, 5, 10, ["c", "d"]))] == ["c"]
    assert pager.next_request() is None


def test_pager_stops_on_an_empty_page() -> None:
    pager = SearchPager({}, per_page=2, max_records=None)
    pager.accept(page(1, 5, 10, ["a", "b"]))
    pager.accept(page(2, 5, 10, []))
    assert pager.next_request() is None


def test_pager_refuses_a_search_beyond_the_cap_before_any_record() -> None:
    pager = SearchPager({}, per_page=100, max_records=None)
    with pytest.raises(ApolloSearchCapError, match="50,000") as caught:
        pager.accept(page(1, 500, SEARCH_RESULT_CAP + 1, ["a"]))
    assert caught.value.total_entries == SEARCH_RESULT_CAP + 1


def test_pager_allows_a_deliberate_partial_read_beyond_the_cap() -> None:
    pager = SearchPager({}, per_page=100, max_records=1000)
    assert len(pager.accept(page(1, 500, 80_000, ["a"]))) == 1


def test_pager_drops_contacts_it_already_handed_out() -> None:
    pager, seen = SearchPager({}, per_page=2, max_records=None), set()
    pager.accept(page(1, 2, 4, ["a", "b"]), seen=seen)
    assert [c["id"] for c in pager.accept(page(2, 2, 4, ["b", "c"]), seen=seen)] == ["c"]


def test_pager_rewinds_when_contacts_deleted_in_front_shift_records_back() -> None:
    pager, seen = SearchPager({}, per_page=2, max_records=None), set()
    got = [c["id"] for c in pager.accept(page(1, 3, 6, ["a", "b"]), seen=seen)]
    # "a" was deleted: every record moved back one place, so page 2 now starts at "d".
    got += [c["id"] for c in pager.accept(page(2, 3, 5, ["d", "e"]), seen=seen)]
    assert pager.next_page == 1 and pager.rewinds == 1
    got += [c["id"] for c in pager.accept(page(1, 3, 5, ["b", "c"]), seen=seen)]
    got += [c["id"] for c in pager.accept(page(2, 3, 5, ["d", "e"]), seen=seen)]
    got += [c["id"] for c in pager.accept(page(3, 3, 5, ["f"]), seen=seen)]
    assert got == ["a", "b", "d", "e", "c", "f"]
    assert pager.next_request() is None


def test_max_records_holds_when_a_rewind_reads_a_page_again() -> None:
    # Page 2 shows one contact deleted in front: the pager hands out one more (reaching
    # max_records=3) and rewinds to page 1. Page 1, read again, must hand out nothing.
    pager = SearchPager({}, per_page=2, max_records=3)
    handed = [c["id"] for c in pager.accept(_page(["a", "b"], 6, 3, page=1))]
    handed += [c["id"] for c in pager.accept(_page(["d", "e"], 5, 3, page=2))]
    assert (handed, pager.next_page) == (["a", "b", "d"], 1)
    handed += [c["id"] for c in pager.accept(_page(["b", "c"], 5, 3, page=1))]
    assert handed == ["a", "b", "d"]
    assert pager.next_page is None


def test_a_rewind_goes_back_by_the_pages_that_went_missing_and_each_is_counted() -> None:
    pager = SearchPager({}, per_page=2, max_records=None)
    pager.accept(_page(["a", "b"], 10, 5, page=1))
    pager.accept(_page(["c", "d"], 10, 5, page=2))
    pager.accept(_page(["e", "f"], 10, 5, page=3))
    # Page 4 shows 1 contact gone: go back 1 page (not to page 1).
    pager.accept(_page(["h", "i"], 9, 5, page=4))
    assert (pager.next_page, pager.rewinds) == (3, 1)
    # Page 3 read again shows 3 more gone: back ceil(3 / 2) = 2 pages.
    pager.accept(_page(["i", "j"], 6, 3, page=3))
    assert (pager.next_page, pager.rewinds) == (1, 2)


def test_page_one_read_again_after_a_rewind_moves_on_even_if_more_went_missing() -> None:
    pager = SearchPager({}, per_page=2, max_records=None)
    pager.accept(_page(["a", "b"], 10, 5, page=1))
    pager.accept(_page(["d", "e"], 9, 5, page=2))
    assert (pager.next_page, pager.rewinds) == (1, 1)
    # There is nothing before page 1 to go back to: read on.
    pager.accept(_page(["b", "d"], 8, 4, page=1))
    assert (pager.next_page, pager.rewinds) == (2, 1)


def test_the_pager_asks_for_the_first_page_alone_then_up_to_concurrency_worth_reading() -> None:
    pager = SearchPager({"q_keywords": "x"}, per_page=2, max_records=7, start_page=1)
    assert pager.next_step(4) == pager.request_for(1)
    pager.accept(page(1, 10, 20, ["a", "b"], per_page=2))
    step = pager.next_step(4)
    assert isinstance(step, Concurrently)
    # Five records still wanted: pages 2 to 4 (of 10) are worth reading, not 5.
    assert [request.json_body for request in step.requests] == [
        {"q_keywords": "x", "page": number, "per_page": 2} for number in (2, 3, 4)
    ]
    assert pager.next_step(1) == pager.request_for(2)


def test_no_page_is_asked_for_once_max_records_were_handed_out_even_after_a_rewind() -> None:
    pager = SearchPager({}, per_page=2, max_records=4)
    pager.accept(page(1, 5, 10, ["a", "b"], per_page=2))
    pager.accept(page(2, 5, 9, ["d", "e"], per_page=2))
    assert pager.next_page == 1 and pager.emitted == 4
    assert pager.next_step(1) is None and pager.next_step(4) is None


def _page_of_range(page: int, total_entries: int, per_page: int, ids: range) -> dict[str, object]:
    return {
        "contacts": [{"id": str(i)} for i in ids],
        "pagination": {
            "page": page,
            "per_page": per_page,
            "total_entries": total_entries,
            "total_pages": -(-total_entries // per_page),
        },
    }


def test_planned_and_worth_reading_pages_follow_the_totals_and_max_records() -> None:
    pager = SearchPager({}, per_page=10, max_records=None)
    assert pager.planned_pages() is None and pager.last_page_worth_reading() == 0
    pager.accept(_page_of_range(1, 95, 10, range(10)))
    assert pager.planned_pages() == 10 and pager.last_page_worth_reading() == 10
    capped = SearchPager({}, per_page=10, max_records=25)
    capped.accept(_page_of_range(1, 95, 10, range(10)))
    assert capped.planned_pages() == 3
    # Two pages still to read for the 15 records still wanted, after page 1.
    assert capped.last_page_worth_reading() == 3
    capped.accept(_page_of_range(2, 95, 10, range(10, 20)))
    capped.accept(_page_of_range(3, 95, 10, range(20, 30)))
    assert capped.next_page is None and capped.last_page_worth_reading() == 0


def test_no_page_is_worth_reading_once_max_records_were_handed_out_even_after_a_rewind() -> None:
    pager = SearchPager({}, per_page=10, max_records=20)
    page = {"pagination": {"page": 1, "per_page": 10, "total_entries": 100, "total_pages": 10}}
    pager.accept({**page, "contacts": [{"id": f"a{i}"} for i in range(10)]})
    assert pager.last_page_worth_reading() == 2
    shrunk = {"pagination": {"page": 2, "per_page": 10, "total_entries": 97, "total_pages": 10}}
    pager.accept({**shrunk, "contacts": [{"id": f"b{i}"} for i in range(10)]})
    assert pager.emitted == 20 and pager.next_page == 1  # rewound, but nothing more is wanted
    assert pager.last_page_worth_reading() == 0


def test_a_finished_search_asks_for_no_more_pages() -> None:
    pager = SearchPager({"q_keywords": "x"}, per_page=10, max_records=None)
    assert pager.next_request() == pager.request_for(1)
    pager.accept(
        {
            "contacts": [{"id": "a"}],
            "pagination": {"page": 1, "per_page": 10, "total_entries": 1, "total_pages": 1},
        }
    )
    assert pager.next_request() is None
    assert SearchPager({}, per_page=10, max_records=0).next_request() is None


# --------------------------------------------------------------------------- the search steps


def test_a_search_is_read_page_by_page_on_demand() -> None:
    apollo = Apollo(250)
    pages = iter_steps(search_pages({"q_keywords": "x"}), apollo.call)
    first = next(pages)
    # Lazy: one request for the first page, none ahead of the reader.
    assert (first.page, first.total_pages, first.total_entries, len(first.contacts)) == (1, 3, 250, 100)
    assert apollo.pages_asked() == [1]
    rest = list(pages)
    assert [(found.page, len(found.contacts)) for found in rest] == [(2, 100), (3, 50)]
    assert apollo.requests[0].json_body == {"q_keywords": "x", "page": 1, "per_page": 100}


def test_a_search_yields_requests_and_emits_pages() -> None:
    apollo = Apollo(150)
    steps = search_pages(per_page=100)
    assert isinstance(step := next(steps), ApiRequest)
    assert isinstance(emitted := steps.send(apollo.call(step)), Emit)
    assert emitted.value.page == 1
    assert isinstance(step := steps.send(None), ApiRequest)
    assert steps.send(apollo.call(step)).value.contacts[-1] == {"id": "c149"}
    with pytest.raises(StopIteration) as done:
        steps.send(None)
    assert isinstance(done.value.value, SearchPager) and done.value.value.emitted == 150


def test_concurrent_pages_go_out_together_and_come_back_in_order() -> None:
    apollo = Apollo(950)
    steps = search_pages(concurrency=4)
    shapes: list[int] = []
    reply: Any = None
    found: list[SearchPage] = []
    while True:
        try:
            step = steps.send(reply)
        except StopIteration:
            break
        reply = None
        if isinstance(step, Emit):
            found.append(step.value)
        elif isinstance(step, Concurrently):
            shapes.append(len(step.requests))
            reply = [apollo.call(request) for request in reversed(step.requests)][::-1]
        else:
            shapes.append(1)
            reply = apollo.call(step)
    assert shapes == [1, 4, 4, 1]
    assert [found_page.page for found_page in found] == list(range(1, 11))
    assert ids_of(found) == cids(0, 949)


def test_the_thread_driver_reads_the_same_pages_concurrently() -> None:
    apollo = Apollo(950)
    assert ids_of(read(search_pages(concurrency=3), apollo)) == cids(0, 949)
    assert sorted(apollo.pages_asked()) == list(range(1, 11))


def test_a_rewind_drops_the_pages_asked_for_with_the_page_that_showed_it() -> None:
    deleted = False

    def delete_after_page_one(apollo: Apollo, number: int) -> None:
        nonlocal deleted
        if number == 2 and not deleted:
            deleted = True
            del apollo.ids[:3]  # c0 to c2 gone: every later contact moves back three places

    apollo = Apollo(500, before_answer=delete_after_page_one)
    found = read(search_pages(concurrency=4), apollo)
    # Page 2 showed the rewind: pages 3 to 5, asked for with it, were dropped and read again.
    assert [found_page.page for found_page in found] == [1, 2, 1, 2, 3, 4, 5]
    assert sorted(ids_of(found)) == sorted(cids(0, 499))
    assert len(ids_of(found)) == 500


def test_an_error_among_concurrent_pages_raises_after_the_pages_before_it() -> None:
    def quota_at_page_three(apollo: Apollo, number: int) -> None:
        if number == 3:
            raise ApolloRateLimitError("hourly quota", retry_after=60.0)

    apollo = Apollo(700, before_answer=quota_at_page_three)
    pages = iter_steps(search_pages(concurrency=4), apollo.call)
    assert [next(pages).page, next(pages).page] == [1, 2]
    with pytest.raises(ApolloRateLimitError, match="hourly quota"):
        next(pages)


def test_an_error_of_a_single_request_is_raised_to_the_reader() -> None:
    def refuse(apollo: Apollo, number: int) -> None:
        raise ApolloApiError("no", status_code=500)

    with pytest.raises(ApolloApiError, match="no"):
        read(search_pages(), Apollo(10, before_answer=refuse))


def test_a_search_can_start_at_a_later_page() -> None:
    apollo = Apollo(450)
    found = read(search_pages(start_page=3), apollo)
    assert [found_page.page for found_page in found] == [3, 4, 5]
    assert ids_of(found) == cids(200, 449)


def test_a_search_over_the_cap_raises_on_its_first_page_before_any_contact() -> None:
    apollo = Apollo(SEARCH_RESULT_CAP + 1)
    with pytest.raises(ApolloSearchCapError):
        next(iter_steps(search_pages(concurrency=8), apollo.call))
    assert apollo.pages_asked() == [1]
    partial = read(search_pages(max_records=150, concurrency=8), Apollo(SEARCH_RESULT_CAP + 1))
    assert ids_of(partial) == cids(0, 149)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"concurrency": 0},
            rf"^concurrency must be an integer from 1 to {MAX_SEARCH_CONCURRENCY}, got 0\.$",
        ),
        ({"concurrency": MAX_SEARCH_CONCURRENCY + 1}, r"^concurrency must be an integer"),
        ({"start_page": 0}, r"^start_page must be an integer from 1 to 500, got 0\.$"),
        ({"per_page": 30, "start_page": 1667}, r"^start_page must be an integer from 1 to 1666, got 1667\.$"),
        ({"max_records": -1}, r"^max_records"),
        ({"filters": {"page": 1}}, r"^search filters must not contain 'page'"),
    ],
)
def test_search_steps_check_their_arguments_when_made(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        search_pages(**arguments)


def test_stage_names_are_resolved_through_the_lookups_once() -> None:
    apollo = Apollo(5)
    lookups = TeamLookups()
    for names in (["replied"], ["Cold", "s-replied"]):
        read(search_pages({"contact_stages": names}, lookups=lookups), apollo)
    searches = [request.json_body for request in apollo.requests if request.path == PATH_SEARCH]
    assert [body["contact_stage_ids"] for body in searches] == [["s-replied"], ["s-cold", "s-replied"]]
    assert all("contact_stages" not in body for body in searches)
    assert [request.path for request in apollo.requests].count("/contact_stages") == 1
    # Without lookups: one stages request for the search; none when no name needs resolving.
    apollo = Apollo(5)
    assert run_steps(search_filters({"contact_stages": "cold"}), apollo.call) == {
        "contact_stage_ids": ["s-cold"]
    }
    assert run_steps(search_filters({"q_keywords": "x"}), apollo.call) == {"q_keywords": "x"}
    assert [request.path for request in apollo.requests] == ["/contact_stages"]


def test_an_unknown_stage_name_fails_before_any_search() -> None:
    apollo = Apollo(5)
    with pytest.raises(ApolloArgumentError, match=r"Unknown contact stage 'Hot'"):
        read(search_pages({"contact_stages": ["Hot"]}), apollo)
    assert apollo.pages_asked() == []


def test_count_contacts_asks_for_one_record_and_reads_the_total() -> None:
    apollo = Apollo(SEARCH_RESULT_CAP + 10)
    assert run_steps(count_contacts({"contact_stages": ["cold"]}), apollo.call) == SEARCH_RESULT_CAP + 10
    assert [request.json_body for request in apollo.requests if request.path == PATH_SEARCH] == [
        {"contact_stage_ids": ["s-cold"], "page": 1, "per_page": 1}
    ]
    with pytest.raises(ApolloArgumentError, match="sort_by_field"):
        count_contacts({"sort_by_field": "nope"})


def test_the_async_driver_runs_the_same_steps() -> None:
    apollo = Apollo(950)

    async def main() -> tuple[list[SearchPage], int]:
        found = [found_page async for found_page in aiter_steps(search_pages(concurrency=4), apollo.acall)]
        total = await asyncio.ensure_future(_count(apollo))
        return found, total

    found, total = asyncio.run(main())
    assert ids_of(found) == cids(0, 949)
    assert total == 950


async def _count(apollo: Apollo) -> int:
    from airflow_provider_apollo.core.lifecycle import arun_steps

    return await arun_steps(count_contacts(), apollo.acall)


def test_the_hooks_check_search_arguments_before_any_request(apollo_connection: ApolloEmulator) -> None:
    hook = ApolloHook()
    for start_page in (0, 501, "2"):
        with pytest.raises(ApolloArgumentError, match="start_page"):
            hook.search_contact_pages({}, start_page=start_page)  # type: ignore[arg-type]
    with pytest.raises(ApolloArgumentError, match="per_page"):
        hook.search_contacts(per_page=101)
    assert apollo_connection.request_count() == 0


# --------------------------------------------------------------------------- paging through the hook


def _numbered_page(page: int, ids: range, total_entries: int, total_pages: int) -> dict[str, Any]:
    return {
        "contacts": [{"id": f"c{i}"} for i in ids],
        "pagination": {
            "page": page,
            "per_page": 10,
            "total_entries": total_entries,
            "total_pages": total_pages,
        },
    }


@pytest.mark.parametrize("concurrency", [1, 4])
def test_paging_with_repeated_ids_and_max_records_reads_on_until_max_records(
    monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    use_connection(monkeypatch, MOCKED_BASE, max_retry_wait=1)
    # Page 2 repeats five contacts of page 1 (records added in front while paging).
    pages = {1: range(0, 10), 2: range(5, 15), 3: range(15, 25), 4: range(25, 35)}
    with requests_mock_module.Mocker() as mock:
        mock.post(
            MOCKED_BASE + PATH_SEARCH,
            [{"json": _numbered_page(n, ids, 40, 4)} for n, ids in pages.items()] * 2,
        )
        # Bodies are served in order of arrival; the answer for each page is looked up by its number.
        mock.post(
            MOCKED_BASE + PATH_SEARCH,
            json=lambda request, _: _numbered_page(
                request.json()["page"], pages[request.json()["page"]], 40, 4
            ),
        )
        found = list(ApolloHook().search_contacts({}, per_page=10, max_records=20, concurrency=concurrency))
    assert [c["id"] for c in found] == [f"c{i}" for i in range(20)]
