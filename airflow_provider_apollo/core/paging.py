"""Paging: reading Apollo's pagination, search arguments, the pager that walks a search, and its step generators.

A search is read by :func:`search_pages`, a step generator (see
:mod:`~airflow_provider_apollo.core.lifecycle`): it resolves stage names in the filters, asks for the
first page alone (it tells the totals), then for up to ``concurrency`` pages at once, and emits one
:class:`SearchPage` at a time, in order. :class:`SearchPager` decides which pages those are: repeated
ids dropped, a rewind when records vanish in front, the 50,000-record cap, ``max_records``.
:func:`count_contacts` is the one-request count. Both hooks drive the same generators.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_apollo.core.endpoints import (
    PATH_SEARCH,
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    SEARCH_SORT_FIELDS,
    ApiRequest,
    list_stages_request,
)
from airflow_provider_apollo.core.lifecycle import MAX_CONCURRENT_REQUESTS, Concurrently, Emit, Steps
from airflow_provider_apollo.core.stages import needs_stage_names, resolve_stage_filters, stages_of
from airflow_provider_apollo.core.validation import check_int_range
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloSearchCapError,
)

if TYPE_CHECKING:
    # Not at run time: core.lookups imports core.sequences, which imports this module.
    from airflow_provider_apollo.core.lookups import TeamLookups

# The most search pages in flight at once: the step driver's limit. Apollo's per-minute quota, not
# sockets, is what really bounds a search's speed.
MAX_SEARCH_CONCURRENCY = MAX_CONCURRENT_REQUESTS


@dataclass(frozen=True)
class SearchPage:
    """One page of a search: its number, the totals Apollo reported, and its contacts (repeats dropped)."""

    page: int
    total_pages: int
    total_entries: int
    contacts: list[dict[str, Any]]


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


def check_search(filters: Any, per_page: Any, max_records: Any) -> dict[str, Any]:
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

    def __init__(
        self, filters: Mapping[str, Any], *, per_page: int, max_records: int | None, start_page: int = 1
    ) -> None:
        self.filters = dict(filters)
        self.per_page = per_page
        self.max_records = max_records
        self.next_page: int | None = start_page if max_records != 0 else None
        self.emitted = 0
        self.rewinds = 0
        self.pagination: Pagination | None = None
        # The ids this search handed out (see accept's seen), when it is read through read().
        self.seen: set[str] = set()

    def body_for(self, page: int) -> dict[str, Any]:
        return {**self.filters, "page": page, "per_page": self.per_page}

    def request_for(self, page: int) -> ApiRequest:
        return ApiRequest("POST", PATH_SEARCH, json_body=self.body_for(page), rate_group=PATH_SEARCH)

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

    def pages_to_request(self, concurrency: int = 1) -> range:
        """
        The page numbers to ask for at once: the next page alone while the totals are unknown (the
        first page tells them) or with ``concurrency`` 1; else up to ``concurrency`` pages, none past
        the last worth reading. Empty when the search is done, or when a rewind came after
        ``max_records`` were handed out (nothing more is wanted).
        """
        first = self.next_page
        if first is None:
            return range(0)
        if self.pagination is None:
            return range(first, first + 1)
        last = self.last_page_worth_reading()
        if last < first:
            return range(0)
        return range(first, min(last, first + max(1, concurrency) - 1) + 1)

    def next_step(self, concurrency: int = 1) -> ApiRequest | Concurrently | None:
        """
        What to send next; ``None`` when the search is done. One request while the totals are
        unknown or with ``concurrency`` 1; after that, with more, the pages to send at once
        (:class:`~airflow_provider_apollo.core.lifecycle.Concurrently`, even a last page alone, so
        a concurrent search reads every page after the first off the caller's thread).
        """
        numbers = self.pages_to_request(concurrency)
        if not numbers:
            return None
        if concurrency <= 1 or self.pagination is None:
            return self.request_for(numbers[0])
        return Concurrently(tuple(self.request_for(number) for number in numbers))

    def read(self, step: ApiRequest | Concurrently, answer: Any) -> Iterator[SearchPage]:
        """
        The pages in the answer to :meth:`next_step`'s ``step``, in order, each accepted in turn.

        ``answer`` is what the step driver sent back: a body, or a list of bodies and
        ``ApolloApiError`` instances. An error raises when its page comes, after the pages before it
        were handed out. A page that rewinds the pager or ends the search ends the read: the pages
        after it were asked for before that was known, and are stale or not wanted.
        """
        if isinstance(step, Concurrently):
            requests, answers = step.requests, list(answer)
        else:
            requests, answers = (step,), [answer]
        for request, body in zip(requests, answers, strict=True):
            if isinstance(body, ApolloApiError):
                raise body
            number = int((request.json_body or {})["page"])
            self.next_page = number
            contacts = self.accept(body, seen=self.seen)
            totals = self.pagination
            assert totals is not None  # set by accept
            yield SearchPage(number, totals.total_pages, totals.total_entries, contacts)
            if self.next_page != number + 1:
                return

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


# --------------------------------------------------------------------------- step generators


def search_filters(
    filters: Mapping[str, Any], *, lookups: TeamLookups | None = None
) -> Steps[dict[str, Any]]:
    """Filters as Apollo takes them: stage names in ``contact_stages`` resolved to ``contact_stage_ids``."""
    if not needs_stage_names(filters):
        return dict(filters)
    if lookups is not None:
        stages = yield from lookups.stages()
    else:
        stages = stages_of((yield list_stages_request()))
    return resolve_stage_filters(dict(filters), stages)


def search_pages(
    filters: Mapping[str, Any] | None = None,
    *,
    per_page: int = SEARCH_PER_PAGE_MAX,
    max_records: int | None = None,
    concurrency: int = 1,
    start_page: int = 1,
    lookups: TeamLookups | None = None,
) -> Steps[SearchPager]:
    """
    Every page a search matches, emitted one :class:`SearchPage` at a time, in order.

    The arguments are checked now, before any request; the steps then resolve stage names (through
    ``lookups``, once per hook), read the first page alone, then up to ``concurrency`` pages at once
    (:class:`~airflow_provider_apollo.core.lifecycle.Concurrently`). Repeated ids are dropped, a rewind
    reads again pages whose records shifted back, and a search above the 50,000-record cap raises
    ``ApolloSearchCapError`` on its first page, before any contact, unless ``max_records`` is within
    the cap. Returns the pager (its ``rewinds``, ``emitted``).

    :param filters: Apollo search filters; ``contact_stages`` may name stages.
    :param per_page: page size, 1 to 100.
    :param max_records: stop after this many contacts.
    :param concurrency: pages asked for at once after the first, 1 to :data:`MAX_SEARCH_CONCURRENCY`.
    :param start_page: the first page to read (a resumed read goes on from its page).
    :param lookups: the hook's team facts (stages), so stage names cost one request per hook.
    """
    checked = check_search(filters, per_page, max_records)
    concurrency = check_int_range(concurrency, "concurrency", 1, MAX_SEARCH_CONCURRENCY)
    start_page = check_int_range(start_page, "start_page", 1, max(1, SEARCH_RESULT_CAP // per_page))
    return _search_pages(checked, per_page, max_records, concurrency, start_page, lookups)


def _search_pages(
    filters: dict[str, Any],
    per_page: int,
    max_records: int | None,
    concurrency: int,
    start_page: int,
    lookups: TeamLookups | None,
) -> Steps[SearchPager]:
    resolved = yield from search_filters(filters, lookups=lookups)
    pager = SearchPager(resolved, per_page=per_page, max_records=max_records, start_page=start_page)
    while (step := pager.next_step(concurrency)) is not None:
        for page in pager.read(step, (yield step)):
            yield Emit(page)
    return pager


def count_contacts(
    filters: Mapping[str, Any] | None = None, *, lookups: TeamLookups | None = None
) -> Steps[int]:
    """How many contacts a search matches: one request of one record (not limited by the cap)."""
    checked = check_search(filters, 1, None)
    return _count(checked, lookups)


def _count(filters: dict[str, Any], lookups: TeamLookups | None) -> Steps[int]:
    resolved = yield from search_filters(filters, lookups=lookups)
    body = yield SearchPager(resolved, per_page=1, max_records=None).request_for(1)
    return read_pagination(body).total_entries
