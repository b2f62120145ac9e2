"""ApolloHook: the Apollo.io Contacts API over one reused ``requests`` session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_apollo.core import (
    HEALTH_POLICY,
    MAX_SEARCH_CONCURRENCY,
    SEARCH_PER_PAGE_MAX,
    Answered,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    ExportPlan,
    Outcome,
    RetryPolicy,
    SearchPage,
    Steps,
    drive,
    health_failure,
    health_request,
    health_result,
    iter_steps,
    no_answer,
    paging,
    run_steps,
)
from airflow_provider_apollo.hooks.base import ApolloBaseHook

if TYPE_CHECKING:
    import requests

_T = TypeVar("_T")


class ApolloHook(ApolloBaseHook):
    """
    Interact with the Apollo.io Contacts API.

    Credentials come from an Airflow connection of type ``apollo``: the API key in the password,
    an optional base URL in the host, and extras ``auth_type``, ``timeout``, ``max_retries`` and
    ``max_retry_wait``. The connection is read on the first call, not at construction. Every call
    goes through one ``requests.Session``; what happens to a request (pacing from Apollo's
    rate-limit headers, 429/5xx/connection-error retries, error mapping) is decided by the core's
    :func:`~airflow_provider_apollo.core.request_lifecycle`; this class only sends bytes.

    :param apollo_conn_id: the Airflow connection id.
    :param timeout: seconds per request; overrides the connection's extra.
    :param max_retries: retry budget; overrides the connection's extra.
    :param max_retry_wait: longest single wait; overrides the connection's extra.
    :param stats: a :class:`~airflow_provider_apollo.core.RequestStats` to count requests into.
    """

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's hidden and relabelled fields (defined here: Airflow before 3.2 reads only the hook's own)."""
        return super().get_ui_field_behaviour()

    # ------------------------------------------------------------------ transport

    @cached_property
    def config(self) -> ApolloConfig:
        return self._config_from(self.get_connection(self.apollo_conn_id))

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
        """Requests this hook sent (answered or not); see :attr:`stats` for the breakdown."""
        return self.stats.requests

    def call(self, request: ApiRequest, *, policy: RetryPolicy | None = None) -> Any:
        """Send one request through the request lifecycle; its JSON body, or an ``ApolloApiError``."""
        return drive(self._lifecycle(request, self.config, policy or self.retry_policy), self._transmit)

    def _drive(self, steps: Steps[Any]) -> Any:
        return run_steps(steps, self.call)

    def _transmit(self, request: ApiRequest) -> Outcome:
        try:
            raw = self.session.request(
                request.method,
                self.config.url(request.path),
                params=list(request.params) or None,
                data=None if request.json_body is None else json.dumps(request.json_body),
                timeout=request.timeout or self.config.timeout,
            )
            body = raw.content
        except _request_errors() as error:
            return no_answer(error, _never_sent_types())
        return Answered(ApiResponse(raw.status_code, {k.lower(): v for k, v in raw.headers.items()}, body))

    # ------------------------------------------------------------------ search and export (lazy: one page in memory)

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
        unless ``max_records`` asks for at most that many. The paging is the core's
        (:func:`~airflow_provider_apollo.core.paging.search_pages`), shared with the async hook.

        :param filters: Apollo search filters (``q_keywords``, ``contact_stage_ids``, ``sort_by_field`` ...).
        :param per_page: page size, 1 to 100.
        :param max_records: stop after this many contacts.
        :param concurrency: pages fetched at once after the first (results still come in order).
        """
        pages = self.search_contact_pages(
            filters, per_page=per_page, max_records=max_records, concurrency=concurrency
        )
        return (contact for page in pages for contact in page.contacts)

    def search_contact_pages(
        self,
        filters: dict[str, Any] | None = None,
        *,
        per_page: int = SEARCH_PER_PAGE_MAX,
        max_records: int | None = None,
        concurrency: int = 1,
        start_page: int = 1,
    ) -> Iterator[SearchPage]:
        """
        Like :meth:`search_contacts`, page by page, with Apollo's totals (for progress reports).

        :param start_page: the first page to read (a resumed export goes on from its cursor's page).
        """
        steps = paging.search_pages(
            filters,
            per_page=per_page,
            max_records=max_records,
            concurrency=concurrency,
            start_page=start_page,
            lookups=self.lookups,
        )
        return iter_steps(steps, self.call)

    # ------------------------------------------------------------------ connection test

    def test_connection(self) -> tuple[bool, str]:
        """
        Call ``GET /auth/health`` once (no retries, at most a few seconds); never raises.

        Each failure is one readable sentence: a bad key (401), a key without access (403), an
        unreachable host, a wrong base URL (404), an answer that is not Apollo's JSON.
        """
        config = None
        try:
            config = self.config
            body = self.call(health_request(config), policy=HEALTH_POLICY)
        except Exception as error:  # the UI shows the message; it must not crash
            message = health_failure(error, config)
            return False, config.redact(message) if config is not None else message
        return health_result(body, config)

    # ------------------------------------------------------------------ export

    def export_contacts(self, plan: ExportPlan) -> Iterator[list[dict[str, Any]]]:
        """
        Drive an :class:`~airflow_provider_apollo.core.export.ExportPlan`: a lazy iterator of lists
        of contacts to write, in export order, each contact once.

        The plan decides what to read (stage slices above the 50,000 cap, ``[updated_since,
        updated_before)``, pages in flight); after each list, ``plan.state()`` is a small JSON cursor
        a new plan resumes from (``ExportPlan(..., cursor=state)``).
        """
        return iter_steps(plan.steps(self.lookups), self.call)


def _request_errors() -> type[Exception]:
    from requests.exceptions import RequestException

    return RequestException


def _never_sent_types() -> tuple[type[BaseException], ...]:
    # urllib3 raises these before a byte of the request is sent (DNS, refused, connect timeout).
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return (NewConnectionError, ConnectTimeoutError)
