"""The search pager's and search checks' decisions: kills the mutants of ``core/paging.py`` listed
in docs/mutation-testing.md."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core import SearchPager, validate_search
from airflow_provider_apollo.core.paging import Pagination, check_search_cap, read_pagination
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError, ApolloSearchCapError


def _page(ids: list[str], total_entries: int, total_pages: int, page: Any = None) -> dict[str, Any]:
    pagination: dict[str, Any] = {"per_page": 2, "total_entries": total_entries, "total_pages": total_pages}
    if page is not None:
        pagination["page"] = page
    return {"contacts": [{"id": i} for i in ids], "pagination": pagination}


@pytest.mark.parametrize("reserved", ["page", "per_page", "api_key"])
def test_reserved_search_filters_are_refused_saying_how_paging_is_done(reserved: str) -> None:
    with pytest.raises(ApolloArgumentError) as info:
        validate_search({reserved: 1}, 100, None)
    assert str(info.value) == (
        f"search filters must not contain {reserved!r}: paging is done for you (use per_page= and max_records=)."
    )


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
