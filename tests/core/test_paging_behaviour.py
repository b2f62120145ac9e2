"""Paging (``core/paging.py``): search arguments checked, and how many pages a search is worth reading.

To be merged into ``test_paging.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests_mock as requests_mock_module
from core_support import MOCKED_BASE, use_connection

from airflow_provider_apollo.core.endpoints import PATH_SEARCH
from airflow_provider_apollo.core.paging import SearchPager, validate_search
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.hooks.apollo import ApolloHook

# --------------------------------------------------------------------------- search arguments


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
        validate_search(filters, per_page, max_records)


def test_search_argument_messages_say_what_to_use_instead() -> None:
    with pytest.raises(ApolloArgumentError, match=re.escape("(use per_page= and max_records=).")):
        validate_search({"page": 1}, 10, None)
    with pytest.raises(ApolloArgumentError, match="contact_created_at, contact_updated_at; got .x.\\.$"):
        validate_search({"sort_by_field": "x"}, 10, None)


def test_valid_search_arguments_pass_as_a_copy() -> None:
    filters = {"sort_by_field": "contact_updated_at"}
    checked = validate_search(filters, 100, 0)
    assert checked == filters and checked is not filters
    assert validate_search(None, 1, None) == {}


# --------------------------------------------------------------------------- pages worth reading


def _page(page: int, total_entries: int, per_page: int, ids: range) -> dict[str, object]:
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
    pager.accept(_page(1, 95, 10, range(10)))
    assert pager.planned_pages() == 10 and pager.last_page_worth_reading() == 10
    capped = SearchPager({}, per_page=10, max_records=25)
    capped.accept(_page(1, 95, 10, range(10)))
    assert capped.planned_pages() == 3
    # Two pages still to read for the 15 records still wanted, after page 1.
    assert capped.last_page_worth_reading() == 3
    capped.accept(_page(2, 95, 10, range(10, 20)))
    capped.accept(_page(3, 95, 10, range(20, 30)))
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
