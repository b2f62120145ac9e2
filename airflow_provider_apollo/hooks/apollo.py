"""ApolloHook: the Apollo.io Contacts API over one reused ``requests`` session."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_apollo.core import (
    HEALTH_POLICY,
    ID_BATCH_SIZE,
    SEARCH_PER_PAGE_MAX,
    Answered,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    BulkUpdateResult,
    Outcome,
    RetryPolicy,
    drive,
    get_contact_request,
    health_failure,
    health_request,
    health_result,
    no_answer,
    operations,
    paging,
    validate_contact_ids,
)
from airflow_provider_apollo.core.endpoints import BULK_UPDATE_SYNC_MAX
from airflow_provider_apollo.core.export import ExportPlan
from airflow_provider_apollo.core.fields import CustomField
from airflow_provider_apollo.core.lifecycle import iter_steps, run_steps
from airflow_provider_apollo.core.paging import MAX_SEARCH_CONCURRENCY, SearchPage
from airflow_provider_apollo.core.sequences import (
    EnrollmentResult,
    Mailbox,
    SequenceRef,
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

    # ------------------------------------------------------------------ contacts

    def create_contact(self, contact: dict[str, Any], *, run_dedupe: bool = False) -> dict[str, Any]:
        """Create one contact; with ``run_dedupe`` a matching contact is updated instead (see :func:`~airflow_provider_apollo.core.operations.create_contact`)."""
        return run_steps(operations.create_contact(self.lookups, contact, run_dedupe=run_dedupe), self.call)

    def bulk_create_contacts(
        self,
        contacts: Sequence[dict[str, Any]],
        *,
        run_dedupe: bool = False,
        start_batch: int = 0,
        on_batch: Callable[[int, list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Create contacts 100 a request; one contact per input, in input order (see :func:`~airflow_provider_apollo.core.operations.bulk_create_contacts`)."""
        steps = operations.bulk_create_contacts(
            self.lookups, contacts, run_dedupe=run_dedupe, start_batch=start_batch, on_batch=on_batch
        )
        return run_steps(steps, self.call)

    def update_contact(self, contact_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Update one contact's fields (``label_names`` replaces its lists)."""
        return run_steps(operations.update_contact(self.lookups, contact_id, fields), self.call)

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """One contact by id."""
        contact_id = validate_contact_ids([contact_id], "contact_id")[0]
        return dict(self.call(get_contact_request(contact_id))["contact"])

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

    def search_filters(self, filters: dict[str, Any]) -> dict[str, Any]:
        """Filters as Apollo takes them: stage names in ``contact_stages`` resolved to ``contact_stage_ids``."""
        return run_steps(paging.search_filters(filters, lookups=self.lookups), self.call)

    def count_contacts(self, filters: dict[str, Any] | None = None) -> int:
        """How many contacts a search matches (one request of one record; not limited by the cap)."""
        return run_steps(paging.count_contacts(filters, lookups=self.lookups), self.call)

    # ------------------------------------------------------------------ stages and owners

    def list_contact_stages(self) -> list[dict[str, Any]]:
        """The team's contact stages, fetched once per hook."""
        return run_steps(self.lookups.stages(), self.call)

    def resolve_contact_stage_id(self, stage: str) -> str:
        """The id of a stage given by id or display name (case-insensitive)."""
        return run_steps(self.lookups.stage_id(stage), self.call)

    def contact_stage_name(self, stage_id: str) -> str:
        """A stage's display name, for messages in the user's terms."""
        return run_steps(self.lookups.stage_name(stage_id), self.call)

    def update_contact_stages(
        self,
        contact_ids: Sequence[str],
        contact_stage_id: str,
        *,
        skip_deleted: bool = False,
        start_batch: int = 0,
        on_batch: Callable[[int, BulkUpdateResult], None] | None = None,
    ) -> BulkUpdateResult:
        """Move contacts to a stage (id or name), 100 a request (see :func:`~airflow_provider_apollo.core.operations.update_in_batches`)."""
        steps = operations.update_contact_stages(
            self.lookups,
            contact_ids,
            contact_stage_id,
            skip_deleted=skip_deleted,
            start_batch=start_batch,
            on_batch=on_batch,
        )
        return run_steps(steps, self.call)

    def update_contact_owners(
        self,
        contact_ids: Sequence[str],
        owner_id: str,
        *,
        skip_deleted: bool = False,
        start_batch: int = 0,
        on_batch: Callable[[int, BulkUpdateResult], None] | None = None,
    ) -> BulkUpdateResult:
        """Assign contacts to an owner (a user id or email), 100 a request; as :meth:`update_contact_stages`."""
        steps = operations.update_contact_owners(
            self.lookups,
            contact_ids,
            owner_id,
            skip_deleted=skip_deleted,
            start_batch=start_batch,
            on_batch=on_batch,
        )
        return run_steps(steps, self.call)

    def batch_count(self, items: int, batch_size: int = ID_BATCH_SIZE) -> int:
        """How many requests a batched call over ``items`` ids or contacts sends."""
        return math.ceil(items / batch_size)

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

    # ------------------------------------------------------------------ outreach: sequences, owners, lists, fields

    def find_sequence(self, sequence: str) -> SequenceRef:
        """A sequence given by id or name (case-insensitive), looked up once per hook."""
        return run_steps(self.lookups.sequence(sequence), self.call)

    def list_email_accounts(self) -> list[dict[str, Any]]:
        """The team's mailboxes (``GET /email_accounts``), fetched once per hook."""
        return run_steps(self.lookups.email_accounts(), self.call)

    def resolve_mailbox(self, mailbox: str) -> Mailbox:
        """A mailbox given by its email account id or its address; unknown: an error listing the active ones."""
        return run_steps(self.lookups.mailbox(mailbox), self.call)

    def add_to_sequence(
        self,
        sequence: str,
        contact_ids: Sequence[str],
        *,
        mailbox: str,
        status: str | None = None,
        auto_unpause_at: str | None = None,
        user_id: str | None = None,
        start_batch: int = 0,
        on_batch: Callable[[int, EnrollmentResult], None] | None = None,
        enrollment_flags: dict[str, bool] | None = None,
        **flags: bool,
    ) -> EnrollmentResult:
        """Enroll contacts in a sequence from a mailbox, 100 a request (see :func:`~airflow_provider_apollo.core.operations.add_to_sequence`)."""
        steps = operations.add_to_sequence(
            self.lookups,
            sequence,
            contact_ids,
            mailbox=mailbox,
            status=status,
            auto_unpause_at=auto_unpause_at,
            user_id=user_id,
            flags={**(enrollment_flags or {}), **flags},
            start_batch=start_batch,
            on_batch=on_batch,
        )
        return run_steps(steps, self.call)

    def remove_from_sequence(
        self, sequence: str, contact_ids: Sequence[str], *, mode: str = "finish"
    ) -> list[str]:
        """Finish, remove or stop contacts in a sequence, 100 a request; the ids Apollo answered for."""
        return run_steps(
            operations.remove_from_sequence(self.lookups, sequence, contact_ids, mode=mode), self.call
        )

    def list_users(self) -> list[dict[str, Any]]:
        """The team's users (``GET /users/search``; needs a master key), fetched once per hook."""
        return run_steps(self.lookups.users(), self.call)

    def resolve_owner_id(self, owner: str, argument: str = "owner") -> str:
        """The user id for an owner given by id (no request) or email (the team's users, once per hook)."""
        return run_steps(self.lookups.owner_id(owner, argument), self.call)

    def list_custom_fields(self) -> list[CustomField]:
        """The team's custom contact fields (``GET /fields?source=custom``), fetched once per hook."""
        return run_steps(self.lookups.custom_fields(), self.call)

    def resolve_contact_fields(self, fields: dict[str, Any], argument: str = "fields") -> dict[str, Any]:
        """Contact fields with ``custom_fields`` labels and an ``owner_id`` email resolved (no request when none)."""
        return run_steps(self.lookups.contact_fields(fields, argument), self.call)

    def add_to_lists(
        self,
        contact_ids: Sequence[str],
        list_names: Sequence[str],
        *,
        start_batch: int = 0,
        on_batch: Callable[[int, list[str]], None] | None = None,
    ) -> list[str]:
        """Add contacts to lists by name (a missing list is created by Apollo), 1,000 ids a request."""
        steps = operations.change_lists(
            True, contact_ids, list_names, start_batch=start_batch, on_batch=on_batch
        )
        return run_steps(steps, self.call)

    def remove_from_lists(
        self,
        contact_ids: Sequence[str],
        list_names: Sequence[str],
        *,
        start_batch: int = 0,
        on_batch: Callable[[int, list[str]], None] | None = None,
    ) -> list[str]:
        """Remove contacts from lists by name, 1,000 ids a request."""
        steps = operations.change_lists(
            False, contact_ids, list_names, start_batch=start_batch, on_batch=on_batch
        )
        return run_steps(steps, self.call)

    def bulk_update_contacts(
        self,
        updates: Sequence[dict[str, Any]] | None = None,
        *,
        contact_ids: Sequence[str] | None = None,
        values: dict[str, Any] | None = None,
        batch_size: int = BULK_UPDATE_SYNC_MAX,
        start_batch: int = 0,
        on_batch: Callable[[int, BulkUpdateResult], None] | None = None,
    ) -> BulkUpdateResult:
        """Per-contact ``updates`` or shared ``values`` for ``contact_ids`` (see :func:`~airflow_provider_apollo.core.operations.bulk_update_contacts`)."""
        steps = operations.bulk_update_contacts(
            self.lookups,
            updates,
            contact_ids=contact_ids,
            values=values,
            batch_size=batch_size,
            start_batch=start_batch,
            on_batch=on_batch,
        )
        return run_steps(steps, self.call)


def _request_errors() -> type[Exception]:
    from requests.exceptions import RequestException

    return RequestException


def _never_sent_types() -> tuple[type[BaseException], ...]:
    # urllib3 raises these before a byte of the request is sent (DNS, refused, connect timeout).
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return (NewConnectionError, ConnectTimeoutError)
