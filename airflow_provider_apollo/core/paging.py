"""Paging: reading Apollo's pagination, search arguments, and the pager that walks a search."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_apollo.core.endpoints import (
    PATH_SEARCH,
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    SEARCH_SORT_FIELDS,
    ApiRequest,
)
from airflow_provider_apollo.core.validation import check_int_range
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloSearchCapError,
)


@dataclass(frozen=True)
class Pagination:
    page: int
    per_page: int
    total_entries: int
    total_pages: int


def read_pagination(body: Any) -> Pagination:
    """Apollo's pagination block; page numbers sometimes arrive as strings."""
    raw = body.get("pagination") if isinstance(body, dict) else None
    if not isinstance(raw, dict):
        raise ApolloApiError("Apollo search answered without a 'pagination' object", body=None)

    def number(name: str, default: int = 0) -> int:
        value = raw.get(name)
        try:
            return int(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            return default

    return Pagination(number("page", 1), number("per_page"), number("total_entries"), number("total_pages"))


def validate_search(filters: Any, per_page: Any, max_records: Any) -> dict[str, Any]:
    """Search arguments checked before any request: filters a dict, per_page 1..100, max_records >= 0."""
    if filters is None:
        filters = {}
    if not isinstance(filters, Mapping):
        raise ApolloArgumentError(f"search filters must be a dict, got {type(filters).__name__}.")
    for reserved in ("page", "per_page", "api_key"):
        if reserved in filters:
            raise ApolloArgumentError(
                f"search filters must not contain {reserved!r}: paging is done for you "
                "(use per_page= and max_records=)."
            )
    check_int_range(per_page, "per_page", 1, SEARCH_PER_PAGE_MAX)
    if max_records is not None and (
        isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 0
    ):
        raise ApolloArgumentError(f"max_records must be a non-negative integer or None, got {max_records!r}.")
    sort = filters.get("sort_by_field")
    if sort is not None and sort not in SEARCH_SORT_FIELDS:
        raise ApolloArgumentError(
            f"search sort_by_field must be one of {', '.join(SEARCH_SORT_FIELDS)}; got {sort!r}."
        )
    return dict(filters)


class SearchPager:
    """
    The paging state of one search: which page to ask for next, and when to stop.

    Stops at ``total_pages``, at ``max_records``, or on an empty page. A search matching more than
    Apollo's 50,000-record cap raises ``ApolloSearchCapError`` on the first page, before any
    record is handed out, unless ``max_records`` is within the cap (a deliberate partial read).
    """

    def __init__(self, filters: Mapping[str, Any], *, per_page: int, max_records: int | None) -> None:
        self.filters = dict(filters)
        self.per_page = per_page
        self.max_records = max_records
        self.next_page: int | None = 1 if max_records != 0 else None
        self.emitted = 0
        self.rewinds = 0
        self.pagination: Pagination | None = None

    def body_for(self, page: int) -> dict[str, Any]:
        return {**self.filters, "page": page, "per_page": self.per_page}

    def request_for(self, page: int) -> ApiRequest:
        return ApiRequest("POST", PATH_SEARCH, json_body=self.body_for(page), endpoint=PATH_SEARCH)

    def next_request(self) -> ApiRequest | None:
        return None if self.next_page is None else self.request_for(self.next_page)

    def accept(self, body: Any, *, seen: set[str] | None = None) -> list[dict[str, Any]]:
        """
        Take one page's body; return the contacts to hand out and advance.

        ``seen`` holds the ids already handed out by this search: a contact shifted onto a later
        page (records added in front while paging) is not handed out twice. Contacts deleted in
        front shift later records back onto pages already read; when the total drops, the pager
        rewinds by as many pages as went missing and reads forward again, so none is skipped.
        """
        pagination = read_pagination(body)
        contacts = [c for c in body.get("contacts") or [] if seen is None or c.get("id") not in seen]
        previous = self.pagination
        if previous is None:
            check_search_cap(pagination.total_entries, self.max_records)
        self.pagination = pagination
        current = self.next_page or pagination.page
        if self.max_records is not None:
            contacts = contacts[: max(0, self.max_records - self.emitted)]
        self.emitted += len(contacts)
        if seen is not None:
            seen.update(c["id"] for c in contacts if c.get("id") is not None)
        if previous is not None and pagination.total_entries < previous.total_entries and current > 1:
            shrunk = previous.total_entries - pagination.total_entries
            self.rewinds += 1
            self.next_page = max(1, current - math.ceil(shrunk / self.per_page))
            return contacts
        done = (
            not body.get("contacts")
            or current >= pagination.total_pages
            or (self.max_records is not None and self.emitted >= self.max_records)
        )
        self.next_page = None if done else current + 1
        return contacts

    def last_page_worth_reading(self) -> int:
        """
        The last page worth requesting now (0 before the first page or after the last).

        Apollo's total pages, or fewer when ``max_records`` will be reached sooner: counted from the
        next page to accept with the records still wanted, so pages whose repeated ids were dropped
        are made up for by reading further, as sequential paging does.
        """
        if self.pagination is None or self.next_page is None:
            return 0
        last = self.pagination.total_pages
        if self.max_records is not None:
            still_wanted = max(0, self.max_records - self.emitted)
            last = min(last, self.next_page - 1 + math.ceil(still_wanted / self.per_page))
        return last

    def planned_pages(self) -> int | None:
        """Pages this search will read, once the first page told the total."""
        if self.pagination is None:
            return None
        pages = self.pagination.total_pages
        if self.max_records is not None:
            pages = min(pages, math.ceil(self.max_records / self.per_page))
        return pages


def check_search_cap(total_entries: int, max_records: int | None) -> None:
    if total_entries > SEARCH_RESULT_CAP and (max_records is None or max_records > SEARCH_RESULT_CAP):
        raise ApolloSearchCapError(
            f"This search matches {total_entries:,} contacts, more than the {SEARCH_RESULT_CAP:,} Apollo "
            "returns for one query, so reading it would silently miss "
            f"{total_entries - SEARCH_RESULT_CAP:,} of them. Narrow the filters (contact_stage_ids, "
            "contact_label_ids, q_keywords), split the search into several, or pass "
            f"max_records<={SEARCH_RESULT_CAP:,} to read only the first records on purpose. "
            "ApolloSearchToS3Operator splits by contact stage for you.",
            total_entries=total_entries,
            cap=SEARCH_RESULT_CAP,
        )
