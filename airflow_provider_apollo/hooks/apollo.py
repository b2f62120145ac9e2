"""ApolloHook: the Apollo.io Contacts API over one reused ``requests`` session."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import tenacity
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_apollo import UI_FIELD_BEHAVIOUR
from airflow_provider_apollo.core import (
    BULK_CREATE_MAX,
    ID_BATCH_SIZE,
    PATH_BULK_CREATE,
    PATH_CONTACT,
    PATH_CONTACTS,
    PATH_HEALTH,
    PATH_STAGES,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
    SEARCH_PER_PAGE_MAX,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    RateLimiter,
    RetryPolicy,
    SearchPager,
    batched,
    check_int_range,
    contact_path,
    error_for,
    ids_params,
    match_stage,
    order_bulk_result,
    parse_json_body,
    read_pagination,
    stage_name,
    validate_contact_ids,
    validate_search,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloConnectionError,
    ApolloValidationError,
)

if TYPE_CHECKING:
    import requests

# Upper bound on pages fetched at once; Apollo's per-minute quota, not sockets, is the real limit.
MAX_SEARCH_CONCURRENCY = 8


@dataclass(frozen=True)
class SearchPage:
    """One page of a search: its number, the totals Apollo reported, and its contacts."""

    page: int
    total_pages: int
    total_entries: int
    contacts: list[dict[str, Any]]


class ApolloHook(BaseHook):
    """
    Interact with the Apollo.io Contacts API.

    Credentials come from an Airflow connection of type ``apollo``: the API key in the password,
    an optional base URL in the host, and extras ``auth_type``, ``timeout``, ``max_retries`` and
    ``max_retry_wait``. The connection is read on the first call, not at construction. Every call
    goes through one ``requests.Session``; 429, 5xx and connection errors are retried by one policy
    (:class:`~airflow_provider_apollo.core.RetryPolicy`), and requests are paced from Apollo's
    rate-limit headers.

    :param apollo_conn_id: the Airflow connection id.
    :param timeout: seconds per request; overrides the connection's extra.
    :param max_retries: retry budget; overrides the connection's extra.
    :param max_retry_wait: longest single wait; overrides the connection's extra.
    """

    conn_name_attr = "apollo_conn_id"
    default_conn_name = "apollo_default"
    conn_type = "apollo"
    hook_name = "Apollo.io"

    def __init__(
        self,
        apollo_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.apollo_conn_id = apollo_conn_id
        self._overrides = {
            name: value
            for name, value in (
                ("timeout", timeout),
                ("max_retries", max_retries),
                ("max_retry_wait", max_retry_wait),
            )
            if value is not None
        }
        self._stages: list[dict[str, Any]] | None = None
        # Ids the last stage/owner update skipped as deleted (with skip_deleted=True).
        self.skipped_deleted_contact_ids: list[str] = []
        self.rate_limiter = RateLimiter()
        # Responses by status, and 429s met: what a run cost, for logs and the demo's summary.
        self.status_counts: Counter[int] = Counter()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: hide unused fields, call the password "API key" and the host "Base URL"."""
        return UI_FIELD_BEHAVIOUR

    # ------------------------------------------------------------------ plumbing

    @cached_property
    def config(self) -> ApolloConfig:
        conn = self.get_connection(self.apollo_conn_id)
        config = ApolloConfig.from_connection(
            conn_id=self.apollo_conn_id, password=conn.password, host=conn.host, extra=conn.extra_dejson
        )
        mask_secret(config.api_key)
        if self._overrides:
            config = ApolloConfig(**{**config.__dict__, **self._overrides})
        return config

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy.from_config(self.config)

    @cached_property
    def session(self) -> requests.Session:
        """One session for every call: connection reuse, auth headers set once."""
        # requests loads on the first call, not when a DAG file imports an operator.
        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_SEARCH_CONCURRENCY)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update(self.config.headers())
        return session

    def get_conn(self) -> requests.Session:
        return self.session

    @property
    def request_count(self) -> int:
        return sum(self.status_counts.values())

    def call(self, request: ApiRequest) -> Any:
        """Send one request under the retry policy and return its JSON body, or raise ``ApolloApiError``."""
        for attempt in tenacity.Retrying(**self.retry_policy.tenacity_kwargs(request)):
            with attempt:
                response = self._send(request)
                if not 200 <= response.status < 300:
                    raise error_for(request, response, self.config)
                return parse_json_body(request, response)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _send(self, request: ApiRequest) -> ApiResponse:
        while True:
            delay, ticket = self.rate_limiter.acquire(request.rate_key, time.monotonic())
            if ticket is not None:
                break
            # Short waits are polls while another request learns the reset: not worth a log line.
            level = logging.INFO if delay >= 1 else logging.DEBUG
            self.log.log(
                level, "Pacing Apollo %s: waiting %.2f s for the rate-limit window", request.describe(), delay
            )
            time.sleep(delay)
        sent_at = time.monotonic()
        try:
            raw = self.session.request(
                request.method,
                self.config.url(request.path),
                params=list(request.params) or None,
                data=None if request.json_body is None else json.dumps(request.json_body),
                timeout=self.config.timeout,
            )
            body = raw.content
        except _request_errors() as error:
            self.rate_limiter.release(request.rate_key, ticket)
            raise self._connection_error(request, error) from None
        response = ApiResponse(raw.status_code, {k.lower(): v for k, v in raw.headers.items()}, body)
        self.status_counts[response.status] += 1
        self.rate_limiter.observe(request.rate_key, response, sent_at, time.monotonic(), ticket)
        return response

    def _connection_error(self, request: ApiRequest, error: Exception) -> ApolloApiError:
        # A connection never made cannot have applied the request; anything later might have.
        from requests import exceptions

        never_sent = isinstance(error, exceptions.ConnectTimeout) or (
            isinstance(error, exceptions.ConnectionError)
            and "NewConnectionError" in repr(error.args[0] if error.args else error)
        )
        self.status_counts[0] += 1
        reason = type(error).__name__
        return ApolloConnectionError(
            self.config.redact(f"Apollo {request.describe()} failed: {reason} ({error})"),
            maybe_applied=not never_sent,
        )

    # ------------------------------------------------------------------ contacts

    def create_contact(self, contact: dict[str, Any], *, run_dedupe: bool = False) -> dict[str, Any]:
        """
        Create one contact; with ``run_dedupe`` a matching contact is updated instead.

        Without dedupe Apollo always creates, so the request is retried only when it cannot have
        been applied (429, connection refused); with dedupe every retry is safe.
        """
        _check_contact(contact, "contact")
        request = ApiRequest(
            "POST",
            PATH_CONTACTS,
            json_body={**contact, "run_dedupe": bool(run_dedupe)},
            idempotent=bool(run_dedupe),
            endpoint=PATH_CONTACTS,
        )
        return dict(self.call(request)["contact"])

    def bulk_create_contacts(
        self, contacts: Sequence[dict[str, Any]], *, run_dedupe: bool = False
    ) -> list[dict[str, Any]]:
        """Create contacts in batches of 100; one contact object per input, created or existing, in input order."""
        if isinstance(contacts, (str, bytes, Mapping)) or not isinstance(contacts, Sequence):
            raise ApolloValidationError(f"contacts must be a list of dicts, got {type(contacts).__name__}.")
        for index, contact in enumerate(contacts):
            _check_contact(contact, f"contacts[{index}]")
        results: list[dict[str, Any]] = []
        for batch in batched(list(contacts), BULK_CREATE_MAX):
            request = ApiRequest(
                "POST",
                PATH_BULK_CREATE,
                json_body={"contacts": batch, "run_dedupe": bool(run_dedupe)},
                idempotent=bool(run_dedupe),
                endpoint=PATH_BULK_CREATE,
            )
            body = self.call(request)
            results.extend(
                order_bulk_result(
                    batch, body.get("created_contacts") or [], body.get("existing_contacts") or []
                )
            )
        return results

    def update_contact(self, contact_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Update one contact's fields (``label_names`` replaces its lists)."""
        contact_id = validate_contact_ids([contact_id], "contact_id")[0]
        if not isinstance(fields, Mapping) or not fields:
            raise ApolloValidationError(f"fields must be a non-empty dict, got {fields!r}.")
        _check_json(fields, "fields")
        request = ApiRequest("PATCH", contact_path(contact_id), json_body=dict(fields), endpoint=PATH_CONTACT)
        return dict(self.call(request)["contact"])

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """One contact by id."""
        contact_id = validate_contact_ids([contact_id], "contact_id")[0]
        return dict(self.call(ApiRequest("GET", contact_path(contact_id), endpoint=PATH_CONTACT))["contact"])

    def search_contacts(
        self,
        filters: dict[str, Any] | None = None,
        *,
        per_page: int = SEARCH_PER_PAGE_MAX,
        max_records: int | None = None,
        concurrency: int = 1,
    ) -> Iterator[dict[str, Any]]:
        """
        A lazy iterator over every contact the search matches, one page in memory at a time.

        Contacts seen on an earlier page (records shifting while paging) are not repeated. A search
        matching more than Apollo's 50,000-record cap raises
        :class:`~airflow_provider_apollo.exceptions.ApolloSearchCapError` before the first contact,
        unless ``max_records`` asks for at most that many.

        :param filters: Apollo search filters (``q_keywords``, ``contact_stage_ids``, ``sort_by_field`` ...).
        :param per_page: page size, 1 to 100.
        :param max_records: stop after this many contacts.
        :param concurrency: pages fetched at once after the first (results still come in order).
        """
        pages = self.search_contact_pages(
            filters, per_page=per_page, max_records=max_records, concurrency=concurrency
        )

        def contacts() -> Iterator[dict[str, Any]]:
            for page in pages:
                yield from page.contacts

        return contacts()

    def search_contact_pages(
        self,
        filters: dict[str, Any] | None = None,
        *,
        per_page: int = SEARCH_PER_PAGE_MAX,
        max_records: int | None = None,
        concurrency: int = 1,
    ) -> Iterator[SearchPage]:
        """Like :meth:`search_contacts`, page by page, with Apollo's totals (for progress reports)."""
        pager = SearchPager(
            validate_search(filters, per_page, max_records), per_page=per_page, max_records=max_records
        )
        return self._pages(pager, check_int_range(concurrency, "concurrency", 1, MAX_SEARCH_CONCURRENCY))

    def _pages(self, pager: SearchPager, concurrency: int) -> Iterator[SearchPage]:
        seen: set[str] = set()

        def page_of(page_number: int, body: Any) -> SearchPage:
            contacts = pager.accept(body, seen=seen)
            totals = pager.pagination
            assert totals is not None
            return SearchPage(page_number, totals.total_pages, totals.total_entries, contacts)

        if concurrency > 1:
            yield from self._pages_concurrently(pager, concurrency, page_of)
            return
        while (page_number := pager.next_page) is not None:
            yield page_of(page_number, self.call(pager.request_for(page_number)))

    def _pages_concurrently(
        self, pager: SearchPager, concurrency: int, page_of: Callable[[int, Any], SearchPage]
    ) -> Iterator[SearchPage]:
        """
        Read the first page, then up to ``concurrency`` pages in flight, handed out in order.

        When the pager rewinds (contacts deleted while paging), pages in flight are dropped and
        reading resumes from where the pager says.
        """
        if pager.next_page is None:
            return
        yield page_of(1, self.call(pager.request_for(1)))
        pending: deque[tuple[int, Future[Any]]] = deque()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="apollo-search") as pool:
            try:
                to_send = pager.next_page
                while pager.next_page is not None:
                    last_page = pager.planned_pages() or 0
                    while to_send is not None and to_send <= last_page and len(pending) < concurrency:
                        pending.append((to_send, pool.submit(self.call, pager.request_for(to_send))))
                        to_send += 1
                    if not pending:
                        break
                    page_number, future = pending.popleft()
                    pager.next_page = page_number
                    yield page_of(page_number, future.result())
                    if pager.next_page is not None and pager.next_page != page_number + 1:
                        for _, stale in pending:
                            stale.cancel()
                        pending.clear()
                        to_send = pager.next_page
            finally:
                for _, future in pending:
                    future.cancel()

    def count_contacts(self, filters: dict[str, Any] | None = None) -> int:
        """How many contacts a search matches (one request of one record; not limited by the cap)."""
        pager = SearchPager(validate_search(filters, 1, None), per_page=1, max_records=None)
        request = pager.next_request()
        assert request is not None
        return read_pagination(self.call(request)).total_entries

    # ------------------------------------------------------------------ stages and owners

    def list_contact_stages(self) -> list[dict[str, Any]]:
        """The team's contact stages, fetched once per hook."""
        if self._stages is None:
            body = self.call(ApiRequest("GET", PATH_STAGES, endpoint=PATH_STAGES))
            self._stages = list(body.get("contact_stages") or [])
        return list(self._stages)

    def resolve_contact_stage_id(self, stage: str) -> str:
        """The id of a stage given by id or display name (case-insensitive)."""
        return match_stage(self.list_contact_stages(), stage)

    def contact_stage_name(self, stage_id: str) -> str:
        """A stage's display name, for messages in the user's terms."""
        return stage_name(self.list_contact_stages(), stage_id)

    def update_contact_stages(
        self, contact_ids: Sequence[str], contact_stage_id: str, *, skip_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """
        Move contacts to a stage (id or name), in batches of 100; returns the updated contacts.

        A batch naming deleted contacts is refused by Apollo as a whole (422 with
        ``deleted_contact_ids``): by default that raises ``ApolloValidationError`` carrying the ids;
        with ``skip_deleted`` the batch is sent again without them.
        """
        ids = validate_contact_ids(contact_ids)
        stage_id = self.resolve_contact_stage_id(contact_stage_id)
        return self._update_in_batches(PATH_UPDATE_STAGES, ids, {"contact_stage_id": stage_id}, skip_deleted)

    def update_contact_owners(
        self, contact_ids: Sequence[str], owner_id: str, *, skip_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Assign contacts to an owner (a user id), in batches of 100; returns the updated contacts."""
        ids = validate_contact_ids(contact_ids)
        if not isinstance(owner_id, str) or not owner_id.strip():
            raise ApolloValidationError(f"owner_id must be a non-empty user id string, got {owner_id!r}.")
        return self._update_in_batches(PATH_UPDATE_OWNERS, ids, {"owner_id": owner_id}, skip_deleted)

    def _update_in_batches(
        self, path: str, contact_ids: list[str], value: dict[str, str], skip_deleted: bool
    ) -> list[dict[str, Any]]:
        updated: list[dict[str, Any]] = []
        self.skipped_deleted_contact_ids = []
        unique_ids = list(dict.fromkeys(contact_ids))
        for batch in batched(unique_ids, ID_BATCH_SIZE):
            while batch:
                request = ApiRequest(
                    "POST", path, params=ids_params("contact_ids", batch, value), endpoint=path
                )
                try:
                    body = self.call(request)
                except ApolloValidationError as error:
                    if not (skip_deleted and error.deleted_contact_ids):
                        raise
                    deleted = set(error.deleted_contact_ids)
                    self.skipped_deleted_contact_ids.extend(i for i in batch if i in deleted)
                    self.log.warning("Skipping %d deleted contacts: %s", len(deleted), sorted(deleted))
                    batch = [i for i in batch if i not in deleted]
                    continue
                updated.extend(body.get("contacts") or [])
                break
        return updated

    # ------------------------------------------------------------------ connection test

    def test_connection(self) -> tuple[bool, str]:
        """Call ``GET /auth/health``; never raises."""
        try:
            body = self.call(ApiRequest("GET", PATH_HEALTH, endpoint=PATH_HEALTH))
        except Exception as error:  # the UI shows the message; it must not crash
            message = str(error)
            with contextlib.suppress(Exception):
                message = self.config.redact(message)
            return False, message
        if isinstance(body, dict) and body.get("is_logged_in") is False:
            return False, "Apollo answered, but the key is not logged in."
        return True, f"Connected to Apollo at {self.config.base_url}"


def _request_errors() -> type[Exception]:
    from requests.exceptions import RequestException

    return RequestException


def _check_contact(contact: Any, argument: str) -> None:
    if not isinstance(contact, Mapping) or not contact:
        raise ApolloValidationError(
            f"{argument} must be a non-empty dict of Apollo contact fields, got {contact!r}."
        )
    if "api_key" in contact:
        raise ApolloValidationError(
            f"{argument} must not contain 'api_key': the key comes from the connection."
        )
    _check_json(contact, argument)


def _check_json(fields: Mapping[str, Any], argument: str) -> None:
    # Caught here, the error names the field; from json.dumps inside a request it would not.
    for name, value in fields.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as error:
            raise ApolloValidationError(
                f"{argument}[{name!r}] must be a JSON value (str, number, bool, None, list or dict), "
                f"got {type(value).__name__}: {error}."
            ) from None
