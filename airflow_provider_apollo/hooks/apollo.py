"""ApolloHook: the Apollo.io Contacts API over one reused ``requests`` session."""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_apollo.core import (
    BULK_CREATE_MAX,
    HEALTH_POLICY,
    ID_BATCH_SIZE,
    PATH_BULK_CREATE,
    PATH_CONTACT,
    PATH_CONTACTS,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    Answered,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    BulkUpdateResult,
    Outcome,
    RetryPolicy,
    SearchPager,
    batched,
    check_contact,
    check_contacts,
    check_fields,
    check_int_range,
    check_non_empty_string,
    contact_path,
    drive,
    get_contact_request,
    health_failure,
    health_request,
    health_result,
    ids_params,
    list_stages_request,
    match_stage,
    needs_stage_names,
    no_answer,
    order_bulk_result,
    read_pagination,
    resolve_stage_filters,
    stage_name,
    stages_of,
    validate_contact_ids,
    validate_search,
)
from airflow_provider_apollo.core.export import ExportPlan
from airflow_provider_apollo.core.fields import (
    BULK_UPDATE_MAX,
    BULK_UPDATE_SYNC_MAX,
    CustomField,
    apply_custom_fields,
    bulk_update_request,
    check_bulk_fields,
    check_contact_updates,
    custom_fields_of,
    fields_request,
    needs_custom_fields,
    read_bulk_update,
)
from airflow_provider_apollo.core.lists import (
    LIST_BATCH_SIZE,
    check_list_names,
    list_membership_request,
    read_list_answer,
)
from airflow_provider_apollo.core.sequences import (
    ENROLLMENT_STATUSES,
    NOT_REPORTED,
    SEQUENCE_BATCH_SIZE,
    EnrollmentResult,
    Mailbox,
    SequenceRef,
    check_enrollment_flags,
    check_remove_mode,
    email_accounts_of,
    email_accounts_request,
    enroll_request,
    match_mailbox,
    membership,
    read_enrollment,
    remove_request,
    resolve_sequence,
)
from airflow_provider_apollo.core.steps import run_steps
from airflow_provider_apollo.core.users import (
    check_owner,
    list_users,
    looks_like_email,
    master_key_error,
    match_owner,
)
from airflow_provider_apollo.exceptions import (
    ApolloArgumentError,
    ApolloAuthError,
    ApolloNotFoundError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.base import ApolloBaseHook

if TYPE_CHECKING:
    import requests

_T = TypeVar("_T")

# Upper bound on pages fetched at once; Apollo's per-minute quota, not sockets, is the real limit.
MAX_SEARCH_CONCURRENCY = 8


@dataclass(frozen=True)
class SearchPage:
    """One page of a search: its number, the totals Apollo reported, and its contacts."""

    page: int
    total_pages: int
    total_entries: int
    contacts: list[dict[str, Any]]


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
        """
        Create one contact; with ``run_dedupe`` a matching contact is updated instead.

        Without dedupe Apollo always creates, so the request is retried only when it cannot have
        been applied (429, connection refused); with dedupe every retry is safe.
        """
        contact = check_contact(contact, "contact")
        request = ApiRequest(
            "POST",
            PATH_CONTACTS,
            json_body={**contact, "run_dedupe": bool(run_dedupe)},
            idempotent=bool(run_dedupe),
        )
        return dict(self.call(request)["contact"])

    def bulk_create_contacts(
        self,
        contacts: Sequence[dict[str, Any]],
        *,
        run_dedupe: bool = False,
        start_batch: int = 0,
        on_batch: Callable[[int, list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """
        Create contacts in batches of 100; one contact object per input, created or existing, in input order.

        :param start_batch: the first batch to send (a resumed job skips the batches it applied).
        :param on_batch: called after each applied batch with its index and its contacts, so a
            long job can record its progress; the return value holds the contacts of the
            batches this call sent.
        """
        results: list[dict[str, Any]] = []
        batches = list(batched(check_contacts(contacts), BULK_CREATE_MAX))
        for index in range(start_batch, len(batches)):
            batch = batches[index]
            request = ApiRequest(
                "POST",
                PATH_BULK_CREATE,
                json_body={"contacts": batch, "run_dedupe": bool(run_dedupe)},
                idempotent=bool(run_dedupe),
            )
            body = self.call(request)
            ordered = order_bulk_result(
                batch, body.get("created_contacts") or [], body.get("existing_contacts") or []
            )
            results.extend(ordered)
            if on_batch is not None:
                on_batch(index, ordered)
        return results

    def update_contact(self, contact_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Update one contact's fields (``label_names`` replaces its lists)."""
        contact_id = validate_contact_ids([contact_id], "contact_id")[0]
        request = ApiRequest(
            "PATCH", contact_path(contact_id), json_body=check_fields(fields), endpoint=PATH_CONTACT
        )
        return dict(self.call(request)["contact"])

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
        start_page: int = 1,
    ) -> Iterator[SearchPage]:
        """
        Like :meth:`search_contacts`, page by page, with Apollo's totals (for progress reports).

        :param start_page: the first page to read (a resumed export goes on from its cursor's page).
        """
        checked = validate_search(filters, per_page, max_records)
        concurrency = check_int_range(concurrency, "concurrency", 1, MAX_SEARCH_CONCURRENCY)
        start_page = check_int_range(start_page, "start_page", 1, max(1, SEARCH_RESULT_CAP // per_page))
        pager = SearchPager(self.search_filters(checked), per_page=per_page, max_records=max_records)
        if pager.next_page is not None:
            pager.next_page = start_page
        return self._pages(pager, concurrency)

    def search_filters(self, filters: dict[str, Any]) -> dict[str, Any]:
        """Filters as Apollo takes them: stage names in ``contact_stages`` resolved to ``contact_stage_ids``."""
        if not needs_stage_names(filters):
            return dict(filters)
        return resolve_stage_filters(filters, self.list_contact_stages())

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
        first = pager.next_page
        if first is None:
            return
        yield page_of(first, self.call(pager.request_for(first)))
        pending: deque[tuple[int, Future[Any]]] = deque()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="apollo-search") as pool:
            try:
                to_send = pager.next_page
                while pager.next_page is not None:
                    last_page = pager.last_page_worth_reading()
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
        pager = SearchPager(
            self.search_filters(validate_search(filters, 1, None)), per_page=1, max_records=None
        )
        request = pager.next_request()
        assert request is not None
        return read_pagination(self.call(request)).total_entries

    # ------------------------------------------------------------------ stages and owners

    def list_contact_stages(self) -> list[dict[str, Any]]:
        """The team's contact stages, fetched once per hook."""
        if self._stages is None:
            self._stages = stages_of(self.call(list_stages_request()))
        return list(self._stages)

    def resolve_contact_stage_id(self, stage: str) -> str:
        """The id of a stage given by id or display name (case-insensitive)."""
        return match_stage(self.list_contact_stages(), stage)

    def contact_stage_name(self, stage_id: str) -> str:
        """A stage's display name, for messages in the user's terms."""
        return stage_name(self.list_contact_stages(), stage_id)

    def update_contact_stages(
        self,
        contact_ids: Sequence[str],
        contact_stage_id: str,
        *,
        skip_deleted: bool = False,
        start_batch: int = 0,
        on_batch: Callable[[int, BulkUpdateResult], None] | None = None,
    ) -> BulkUpdateResult:
        """
        Move contacts to a stage (id or name), in batches of 100; returns the updated contacts.

        A batch naming deleted contacts is refused by Apollo as a whole (422 with
        ``deleted_contact_ids``): by default that raises ``ApolloValidationError`` carrying the ids;
        with ``skip_deleted`` the batch is sent again without them, and the result's
        ``skipped_deleted_ids`` lists them. ``start_batch`` and ``on_batch`` work as for
        :meth:`bulk_create_contacts`.
        """
        ids = validate_contact_ids(contact_ids)
        stage_id = self.resolve_contact_stage_id(contact_stage_id)
        return self._update_in_batches(
            PATH_UPDATE_STAGES, ids, {"contact_stage_id": stage_id}, skip_deleted, start_batch, on_batch
        )

    def update_contact_owners(
        self,
        contact_ids: Sequence[str],
        owner_id: str,
        *,
        skip_deleted: bool = False,
        start_batch: int = 0,
        on_batch: Callable[[int, BulkUpdateResult], None] | None = None,
    ) -> BulkUpdateResult:
        """
        Assign contacts to an owner (a user id), in batches of 100; returns the updated contacts
        (with ``skipped_deleted_ids``, as :meth:`update_contact_stages`).
        """
        ids = validate_contact_ids(contact_ids)
        owner_id = check_non_empty_string(owner_id, "owner_id", "an Apollo user id")
        return self._update_in_batches(
            PATH_UPDATE_OWNERS, ids, {"owner_id": owner_id}, skip_deleted, start_batch, on_batch
        )

    def _update_in_batches(
        self,
        path: str,
        contact_ids: list[str],
        value: dict[str, str],
        skip_deleted: bool,
        start_batch: int,
        on_batch: Callable[[int, BulkUpdateResult], None] | None,
    ) -> BulkUpdateResult:
        # A request's rate-limit window defaults to its path: these paths are their own endpoints.
        updated: list[dict[str, Any]] = []
        skipped: list[str] = []
        batches = list(batched(list(dict.fromkeys(contact_ids)), ID_BATCH_SIZE))
        for index in range(start_batch, len(batches)):
            batch = batches[index]
            done = BulkUpdateResult()
            while batch:
                request = ApiRequest("POST", path, params=ids_params("contact_ids", batch, value))
                try:
                    body = self.call(request)
                except ApolloValidationError as error:
                    if not (skip_deleted and error.deleted_contact_ids):
                        raise
                    deleted = set(error.deleted_contact_ids)
                    done.skipped_deleted_ids.extend(i for i in batch if i in deleted)
                    self.log.warning("Skipping %d deleted contacts: %s", len(deleted), sorted(deleted))
                    batch = [i for i in batch if i not in deleted]
                    continue
                done.extend(body.get("contacts") or [])
                break
            updated.extend(done)
            skipped.extend(done.skipped_deleted_ids)
            if on_batch is not None:
                on_batch(index, done)
        return BulkUpdateResult(updated, skipped_deleted_ids=skipped)

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

    def export_contacts(self, search: dict[str, Any] | None = None, **options: Any) -> ExportPlan:
        """
        Every contact a search matches, as an :class:`~airflow_provider_apollo.core.export.ExportPlan`.

        Iterate over it for lists of contacts to write; it splits a search above the 50,000 cap by
        contact stage, keeps only contacts updated in ``[updated_since, updated_before)`` when
        given, hands each contact out once, and its ``state()`` is a small JSON cursor to resume
        from (``cursor=``). ``options`` are :class:`ExportPlan`'s keyword arguments.
        """
        return ExportPlan(self, search, **options)

    # ------------------------------------------------------------------ outreach: sequences, owners, lists, fields

    @cached_property
    def _outreach_cache(self) -> dict[str, Any]:
        # Team facts looked up once per hook: sequences by name, mailboxes, users, custom fields.
        return {"sequences": {}}

    def find_sequence(self, sequence: str) -> SequenceRef:
        """
        A sequence given by id or name (case-insensitive), looked up once per hook.

        Unknown or ambiguous names raise ``ApolloArgumentError`` listing the candidates.
        """
        found: dict[str, SequenceRef] = self._outreach_cache["sequences"]
        key = sequence.strip() if isinstance(sequence, str) else sequence
        if key not in found:
            found[key] = run_steps(resolve_sequence(sequence), self.call)
        return found[key]

    def list_email_accounts(self) -> list[dict[str, Any]]:
        """The team's mailboxes (``GET /email_accounts``), fetched once per hook."""
        if "email_accounts" not in self._outreach_cache:
            self._outreach_cache["email_accounts"] = email_accounts_of(self.call(email_accounts_request()))
        return list(self._outreach_cache["email_accounts"])

    def resolve_mailbox(self, mailbox: str) -> Mailbox:
        """A mailbox given by its email account id or its address; unknown: an error listing the active ones."""
        return match_mailbox(self.list_email_accounts(), mailbox)

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
        """
        Enroll contacts in a sequence from a mailbox, 100 contacts a request (needs a master key).

        ``flags`` (or ``enrollment_flags``, a dict) are Apollo's enrollment flags
        (``sequence_no_email``, ``sequence_active_in_other_campaigns`` ...), all False unless given. Contacts Apollo
        declines come back in ``skipped`` with its reason; a contact already in the sequence counts
        as enrolled, so a retry enrolls nobody twice. Contacts Apollo's answer does not mention are
        looked up (one GET each) and counted by what their membership shows.
        """
        ids = list(dict.fromkeys(validate_contact_ids(contact_ids)))
        checked_flags = check_enrollment_flags({**(enrollment_flags or {}), **flags})
        if status is not None and status not in ENROLLMENT_STATUSES:
            raise ApolloArgumentError(f"status must be 'active' or 'paused', got {status!r}.")
        target = self.find_sequence(sequence)
        sender = self.resolve_mailbox(mailbox)
        result = EnrollmentResult()
        batches = list(batched(ids, SEQUENCE_BATCH_SIZE))
        for index in range(start_batch, len(batches)):
            batch = batches[index]
            request = enroll_request(
                target.id,
                batch,
                sender,
                checked_flags,
                status=status,
                auto_unpause_at=auto_unpause_at,
                user_id=user_id,
            )
            try:
                answer = self.call(request)
            except ApolloAuthError as error:
                if error.status_code != 403:
                    raise
                raise ApolloAuthError(
                    f"Enrolling contacts in sequence {target.name!r} needs an API key with access to "
                    "api/v1/emailer_campaigns/add_contact_ids or a master API key, and this connection's "
                    f"key was refused (403): nothing in this batch was enrolled ({index} batch(es) of "
                    f"{SEQUENCE_BATCH_SIZE} before it were). Give the key access to that endpoint (Apollo: "
                    "Settings > Integrations > API keys) or put a master key in the connection. "
                    f"Apollo said: {error.message}",
                    status_code=403,
                    body=error.body,
                ) from None
            done, unreported = read_enrollment(batch, answer)
            for contact_id in unreported:
                try:
                    contact = self.get_contact(contact_id)
                except (ApolloValidationError, ApolloNotFoundError):
                    done.skipped[contact_id] = "contact_not_found"
                    continue
                if membership(contact, target.id) is not None:
                    done.enrolled.append(contact_id)
                    done.already_enrolled.append(contact_id)
                else:
                    done.skipped[contact_id] = NOT_REPORTED
            result.merge(done)
            if on_batch is not None:
                on_batch(index, done)
        return result

    def remove_from_sequence(
        self, sequence: str, contact_ids: Sequence[str], *, mode: str = "finish"
    ) -> list[str]:
        """
        Mark contacts finished in a sequence (``mode="finish"``), remove them, or stop them; 100 a request.

        Returns the ids Apollo answered for (contacts that exist).
        """
        ids = list(dict.fromkeys(validate_contact_ids(contact_ids)))
        mode = check_remove_mode(mode)
        target = self.find_sequence(sequence)
        answered: list[str] = []
        for batch in batched(ids, SEQUENCE_BATCH_SIZE):
            body = self.call(remove_request(target.id, batch, mode))
            contacts = body.get("contacts") if isinstance(body, dict) else None
            if isinstance(contacts, list):
                returned = {str(c.get("id")) for c in contacts if isinstance(c, dict)}
                answered.extend(i for i in batch if i in returned)
            else:  # a background job: Apollo took the whole batch
                answered.extend(batch)
        return answered

    def list_users(self) -> list[dict[str, Any]]:
        """The team's users (``GET /users/search``; needs a master key), fetched once per hook."""
        if "users" not in self._outreach_cache:
            self._outreach_cache["users"] = run_steps(list_users(), self.call)
        return list(self._outreach_cache["users"])

    def resolve_owner_id(self, owner: str, argument: str = "owner") -> str:
        """
        The user id for an owner given by id or email. An id is used as given (no request); an email
        is looked up in the team's users once per hook, which needs a master key: a 403 becomes an
        ``ApolloAuthError`` saying so and how to pass the id instead.
        """
        owner = check_owner(owner, argument)
        if not looks_like_email(owner):
            return owner
        try:
            users = self.list_users()
        except ApolloAuthError as error:
            if error.status_code == 403:
                raise master_key_error(error, owner) from None
            raise
        return match_owner(users, owner, argument)

    def list_custom_fields(self) -> list[CustomField]:
        """The team's custom contact fields (``GET /fields?source=custom``), fetched once per hook."""
        if "fields" not in self._outreach_cache:
            self._outreach_cache["fields"] = custom_fields_of(self.call(fields_request()))
        return list(self._outreach_cache["fields"])

    def resolve_contact_fields(self, fields: dict[str, Any], argument: str = "fields") -> dict[str, Any]:
        """
        Contact fields with names resolved: ``custom_fields`` (labels, picklist texts) into
        ``typed_custom_fields``, and an ``owner_id`` given as an email into the user's id.

        Sends no request when there is nothing to resolve; an unknown field, picklist value or
        owner raises ``ApolloArgumentError`` listing the known ones.
        """
        resolved = dict(fields)
        if needs_custom_fields(resolved):
            resolved = apply_custom_fields(resolved, self.list_custom_fields(), argument)
        owner = resolved.get("owner_id")
        if isinstance(owner, str) and looks_like_email(owner):
            resolved["owner_id"] = self.resolve_owner_id(owner, f"{argument}['owner_id']")
        return resolved

    def add_to_lists(
        self,
        contact_ids: Sequence[str],
        list_names: Sequence[str],
        *,
        start_batch: int = 0,
        on_batch: Callable[[int, list[str]], None] | None = None,
    ) -> list[str]:
        """Add contacts to lists by name (a missing list is created by Apollo), 1,000 ids a request."""
        return self._change_lists(True, contact_ids, list_names, start_batch, on_batch)

    def remove_from_lists(
        self,
        contact_ids: Sequence[str],
        list_names: Sequence[str],
        *,
        start_batch: int = 0,
        on_batch: Callable[[int, list[str]], None] | None = None,
    ) -> list[str]:
        """Remove contacts from lists by name, 1,000 ids a request."""
        return self._change_lists(False, contact_ids, list_names, start_batch, on_batch)

    def _change_lists(
        self,
        add: bool,
        contact_ids: Sequence[str],
        list_names: Sequence[str],
        start_batch: int,
        on_batch: Callable[[int, list[str]], None] | None,
    ) -> list[str]:
        ids = list(dict.fromkeys(validate_contact_ids(contact_ids)))
        names = check_list_names(list_names)
        sent: list[str] = []
        batches = list(batched(ids, LIST_BATCH_SIZE))
        for index in range(start_batch, len(batches)):
            read_list_answer(self.call(list_membership_request(add, batches[index], names)))
            sent.extend(batches[index])
            if on_batch is not None:
                on_batch(index, batches[index])
        return sent

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
        """
        Update many contacts' fields through ``POST /contacts/bulk_update``: per-contact ``updates``
        (``[{"id": ..., field: value}]``) or the same ``values`` for all ``contact_ids``.

        ``custom_fields`` (by label) and ``owner_id`` (id or email) are resolved first, for every
        contact, so a bad name fails before the first write. Batches of ``batch_size`` (up to 100
        Apollo answers with the updated contacts; up to 1,000 it answers with a background job).
        Returns the updated contacts (``{"id": ...}`` for a background job's).
        """
        batch_size = check_int_range(batch_size, "batch_size", 1, BULK_UPDATE_MAX)
        if (updates is None) == (contact_ids is None):
            raise ApolloArgumentError(
                "bulk_update_contacts takes either updates=[...] or contact_ids= with values=."
            )
        if updates is not None:
            checked = check_contact_updates(updates)
            resolved = [self.resolve_contact_fields(u, f"contacts[{i}]") for i, u in enumerate(checked)]
            requests_ = [
                bulk_update_request(contact_attributes=batch, run_async=batch_size > BULK_UPDATE_SYNC_MAX)
                for batch in batched(resolved, batch_size)
            ]
            sent = [[str(u["id"]) for u in batch] for batch in batched(resolved, batch_size)]
        else:
            ids = list(dict.fromkeys(validate_contact_ids(contact_ids)))
            if not ids:
                raise ApolloArgumentError("contact_ids is empty: give at least one contact id.")
            shared = check_bulk_fields(check_fields(values, "values"), "values")
            shared = self.resolve_contact_fields(shared, "values")
            sent = list(batched(ids, batch_size))
            requests_ = [
                bulk_update_request(
                    contact_ids=batch, values=shared, run_async=batch_size > BULK_UPDATE_SYNC_MAX
                )
                for batch in sent
            ]
        updated = BulkUpdateResult()
        for index in range(start_batch, len(requests_)):
            done = BulkUpdateResult(read_bulk_update(self.call(requests_[index]), sent[index]))
            updated.extend(done)
            if on_batch is not None:
                on_batch(index, done)
        return updated


def _request_errors() -> type[Exception]:
    from requests.exceptions import RequestException

    return RequestException


def _never_sent_types() -> tuple[type[BaseException], ...]:
    # urllib3 raises these before a byte of the request is sent (DNS, refused, connect timeout).
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return (NewConnectionError, ConnectTimeoutError)
