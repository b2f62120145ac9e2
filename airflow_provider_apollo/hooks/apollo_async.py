"""ApolloAsyncHook: the aiohttp transport for triggers, driving the same request lifecycle as the sync hook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
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
    SearchPager,
    adrive,
    get_contact_request,
    list_stages_request,
    match_stage,
    needs_stage_names,
    no_answer,
    resolve_stage_filters,
    stages_of,
    validate_contact_ids,
    validate_search,
)
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

    async def search_contacts(
        self,
        filters: dict[str, Any] | None = None,
        *,
        per_page: int = SEARCH_PER_PAGE_MAX,
        max_records: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every contact a search matches, page by page (same filters, cap and stop rules as the sync hook)."""
        checked = validate_search(filters, per_page, max_records)
        if needs_stage_names(checked):
            checked = resolve_stage_filters(checked, await self.list_contact_stages())
        pager = SearchPager(checked, per_page=per_page, max_records=max_records)
        # The pager drops repeated ids and rewinds when deletions shift pages, as for the sync hook.
        seen: set[str] = set()
        while (request := pager.next_request()) is not None:
            for contact in pager.accept(await self.call(request), seen=seen):
                yield contact

    async def list_contact_stages(self) -> list[dict[str, Any]]:
        """The team's contact stages, fetched once per hook."""
        if self._stages is None:
            self._stages = stages_of(await self.call(list_stages_request()))
        return list(self._stages)

    async def resolve_contact_stage_id(self, stage: str) -> str:
        """The id of a stage given by id or display name (case-insensitive)."""
        return match_stage(await self.list_contact_stages(), stage)
