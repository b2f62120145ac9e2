"""ApolloAsyncHook: the aiohttp transport for triggers, driving the same request lifecycle as the sync hook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
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
    ExportPlan,
    Outcome,
    SearchPage,
    Steps,
    adrive,
    aiter_steps,
    arun_steps,
    no_answer,
    paging,
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

    def _drive(self, steps: Steps[Any]) -> Awaitable[Any]:
        return arun_steps(steps, self.call)

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

    async def export_contacts(self, plan: ExportPlan) -> AsyncIterator[list[dict[str, Any]]]:
        """Drive an :class:`~airflow_provider_apollo.core.export.ExportPlan`: lists of contacts to write, in order."""
        async for contacts in aiter_steps(plan.steps(self.lookups), self.call):
            yield contacts
