"""ApolloAsyncHook: the aiohttp transport for triggers, driving the same request lifecycle as the sync hook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from airflow.providers.common.compat.connection import get_async_connection

from airflow_provider_apollo.core import (
    SEARCH_PER_PAGE_MAX,
    Answered,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    Outcome,
    adrive,
    get_contact_request,
    no_answer,
    operations,
    paging,
    validate_contact_ids,
)
from airflow_provider_apollo.core.contacts import BulkUpdateResult
from airflow_provider_apollo.core.export import ExportPlan
from airflow_provider_apollo.core.lifecycle import aiter_steps, arun_steps
from airflow_provider_apollo.core.paging import SearchPage
from airflow_provider_apollo.core.sequences import EnrollmentResult, SequenceRef
from airflow_provider_apollo.hooks.base import ApolloBaseHook

# aiohttp raises these before a byte of the request is sent (DNS, refused, connect timeout).
_NEVER_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


class ApolloAsyncHook(ApolloBaseHook):
    """
    Call the Apollo.io API from an event loop (a trigger), with the sync hook's behaviour.

    Only moving bytes lives here: pacing, retries, error mapping and paging are the core's
    (:func:`~airflow_provider_apollo.core.request_lifecycle`,
    :class:`~airflow_provider_apollo.core.SearchPager`), shared with
    :class:`~airflow_provider_apollo.hooks.apollo.ApolloHook`, and so are the overrides, key
    masking and :attr:`stats`. The connection is resolved with ``get_async_connection`` (a sync
    lookup deadlocks inside the triggerer's loop). Use it as an async context manager so its HTTP
    session is closed::

        async with ApolloAsyncHook("apollo_default") as hook:
            contact = await hook.get_contact(contact_id)

    :param apollo_conn_id: the Airflow connection id.
    :param timeout: seconds per request; overrides the connection's extra.
    :param max_retries: retry budget; overrides the connection's extra.
    :param max_retry_wait: longest single wait; overrides the connection's extra.
    :param stats: a :class:`~airflow_provider_apollo.core.RequestStats` to count requests into.
    """

    def __init__(self, apollo_conn_id: str = ApolloBaseHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(apollo_conn_id, **kwargs)
        self._config: ApolloConfig | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApolloAsyncHook:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ transport

    @property
    def request_count(self) -> int:
        """Requests this hook sent (answered or not); see :attr:`stats` for the breakdown."""
        return self.stats.requests

    async def get_config(self) -> ApolloConfig:
        """The connection's config, looked up once without blocking the event loop."""
        if self._config is None:
            self._config = self._config_from(await get_async_connection(self.apollo_conn_id))
        return self._config

    async def call(self, request: ApiRequest) -> Any:
        """Send one request through the request lifecycle; its JSON body, or an ``ApolloApiError``."""
        config = await self.get_config()
        return await adrive(self._lifecycle(request, config), self._transmit)

    async def _transmit(self, request: ApiRequest) -> Outcome:
        config = await self.get_config()
        if self._session is None:
            # Created inside the running loop: an aiohttp session is bound to the loop that made it.
            self._session = aiohttp.ClientSession(headers=config.headers())
        try:
            async with self._session.request(
                request.method,
                config.url(request.path),
                params=list(request.params) or None,
                data=None if request.json_body is None else json.dumps(request.json_body),
                timeout=aiohttp.ClientTimeout(total=request.timeout or config.timeout),
            ) as raw:
                body = await raw.read()
                return Answered(ApiResponse(raw.status, {k.lower(): v for k, v in raw.headers.items()}, body))
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return no_answer(error, _NEVER_SENT)

    # ------------------------------------------------------------------ contacts

    async def get_contact(self, contact_id: str) -> dict[str, Any]:
        """One contact by id."""
        contact_id = validate_contact_ids([contact_id], "contact_id")[0]
        return dict((await self.call(get_contact_request(contact_id)))["contact"])

    # ------------------------------------------------------------------ search (the sync hook's steps)

    async def search_contacts(
        self,
        filters: dict[str, Any] | None = None,
        *,
        per_page: int = SEARCH_PER_PAGE_MAX,
        max_records: int | None = None,
        concurrency: int = 1,
    ) -> AsyncIterator[dict[str, Any]]:
        """
        Every contact a search matches, one page in memory at a time: the sync hook's
        :meth:`~airflow_provider_apollo.hooks.apollo.ApolloHook.search_contacts`, same steps
        (:func:`~airflow_provider_apollo.core.paging.search_pages`), pages fetched at once gathered.
        """
        pages = self.search_contact_pages(
            filters, per_page=per_page, max_records=max_records, concurrency=concurrency
        )
        async for page in pages:
            for contact in page.contacts:
                yield contact

    async def search_contact_pages(
        self,
        filters: dict[str, Any] | None = None,
        *,
        per_page: int = SEARCH_PER_PAGE_MAX,
        max_records: int | None = None,
        concurrency: int = 1,
        start_page: int = 1,
    ) -> AsyncIterator[SearchPage]:
        """Like :meth:`search_contacts`, page by page, with Apollo's totals."""
        steps = paging.search_pages(
            filters,
            per_page=per_page,
            max_records=max_records,
            concurrency=concurrency,
            start_page=start_page,
            lookups=self.lookups,
        )
        async for page in aiter_steps(steps, self.call):
            yield page

    async def count_contacts(self, filters: dict[str, Any] | None = None) -> int:
        """How many contacts a search matches (one request of one record; not limited by the cap)."""
        return await arun_steps(paging.count_contacts(filters, lookups=self.lookups), self.call)

    async def export_contacts(self, plan: ExportPlan) -> AsyncIterator[list[dict[str, Any]]]:
        """Drive an :class:`~airflow_provider_apollo.core.export.ExportPlan`: lists of contacts to write, in order."""
        async for contacts in aiter_steps(plan.steps(self.lookups), self.call):
            yield contacts

    # ------------------------------------------------------------------ team look-ups (once per hook)

    async def list_contact_stages(self) -> list[dict[str, Any]]:
        """The team's contact stages, fetched once per hook."""
        return await arun_steps(self.lookups.stages(), self.call)

    async def resolve_contact_stage_id(self, stage: str) -> str:
        """The id of a stage given by id or display name (case-insensitive)."""
        return await arun_steps(self.lookups.stage_id(stage), self.call)

    async def find_sequence(self, sequence: str) -> SequenceRef:
        """A sequence given by id or name (case-insensitive)."""
        return await arun_steps(self.lookups.sequence(sequence), self.call)

    async def resolve_owner_id(self, owner: str, argument: str = "owner") -> str:
        """The user id for an owner given by id or email."""
        return await arun_steps(self.lookups.owner_id(owner, argument), self.call)

    async def resolve_contact_fields(
        self, fields: dict[str, Any], argument: str = "fields"
    ) -> dict[str, Any]:
        """Contact fields with ``custom_fields`` labels and an ``owner_id`` email resolved."""
        return await arun_steps(self.lookups.contact_fields(fields, argument), self.call)

    # ------------------------------------------------------------------ operations (the sync hook's, same core generators)
    # Keyword arguments are the sync hook's; see airflow_provider_apollo.core.operations for each.

    async def create_contact(self, contact: dict[str, Any], *, run_dedupe: bool = False) -> dict[str, Any]:
        """Create one contact (with ``run_dedupe``, a matching contact is updated instead)."""
        return await arun_steps(
            operations.create_contact(self.lookups, contact, run_dedupe=run_dedupe), self.call
        )

    async def bulk_create_contacts(
        self, contacts: Sequence[dict[str, Any]], **options: Any
    ) -> list[dict[str, Any]]:
        """Create contacts 100 a request; one contact per input, in input order."""
        return await arun_steps(operations.bulk_create_contacts(self.lookups, contacts, **options), self.call)

    async def update_contact(self, contact_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Update one contact's fields."""
        return await arun_steps(operations.update_contact(self.lookups, contact_id, fields), self.call)

    async def update_contact_stages(
        self, contact_ids: Sequence[str], contact_stage_id: str, **options: Any
    ) -> BulkUpdateResult:
        """Move contacts to a stage (id or name), 100 a request."""
        steps = operations.update_contact_stages(self.lookups, contact_ids, contact_stage_id, **options)
        return await arun_steps(steps, self.call)

    async def update_contact_owners(
        self, contact_ids: Sequence[str], owner_id: str, **options: Any
    ) -> BulkUpdateResult:
        """Assign contacts to an owner (a user id or email), 100 a request."""
        return await arun_steps(
            operations.update_contact_owners(self.lookups, contact_ids, owner_id, **options), self.call
        )

    async def bulk_update_contacts(
        self, updates: Sequence[dict[str, Any]] | None = None, **options: Any
    ) -> BulkUpdateResult:
        """Per-contact ``updates``, or shared ``values=`` for ``contact_ids=``, through bulk update."""
        return await arun_steps(operations.bulk_update_contacts(self.lookups, updates, **options), self.call)

    async def add_to_sequence(
        self, sequence: str, contact_ids: Sequence[str], *, mailbox: str, **options: Any
    ) -> EnrollmentResult:
        """Enroll contacts in a sequence from a mailbox, 100 a request; ``flags=`` are Apollo's enrollment flags."""
        steps = operations.add_to_sequence(self.lookups, sequence, contact_ids, mailbox=mailbox, **options)
        return await arun_steps(steps, self.call)

    async def remove_from_sequence(
        self, sequence: str, contact_ids: Sequence[str], *, mode: str = "finish"
    ) -> list[str]:
        """Finish, remove or stop contacts in a sequence; the ids Apollo answered for."""
        steps = operations.remove_from_sequence(self.lookups, sequence, contact_ids, mode=mode)
        return await arun_steps(steps, self.call)

    async def add_to_lists(
        self, contact_ids: Sequence[str], list_names: Sequence[str], **options: Any
    ) -> list[str]:
        """Add contacts to lists by name, 1,000 ids a request."""
        return await arun_steps(operations.change_lists(True, contact_ids, list_names, **options), self.call)

    async def remove_from_lists(
        self, contact_ids: Sequence[str], list_names: Sequence[str], **options: Any
    ) -> list[str]:
        """Remove contacts from lists by name, 1,000 ids a request."""
        return await arun_steps(operations.change_lists(False, contact_ids, list_names, **options), self.call)
