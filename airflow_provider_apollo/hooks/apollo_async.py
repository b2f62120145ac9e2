"""ApolloAsyncHook: the aiohttp transport for triggers, driving the same protocol core as the sync hook."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp
import tenacity
from airflow.providers.common.compat.connection import get_async_connection
from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_apollo.core import (
    PATH_CONTACT,
    PATH_STAGES,
    SEARCH_PER_PAGE_MAX,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    RateLimiter,
    RetryPolicy,
    SearchPager,
    contact_path,
    error_for,
    match_stage,
    parse_json_body,
    validate_contact_ids,
    validate_search,
)
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloConnectionError


class ApolloAsyncHook(BaseHook):
    """
    Call the Apollo.io API from an event loop (a trigger), with the sync hook's policies.

    Only moving bytes lives here: what to send, whether and how long to retry
    (:class:`~airflow_provider_apollo.core.RetryPolicy` through ``tenacity.AsyncRetrying``), rate-limit
    pacing (:class:`~airflow_provider_apollo.core.RateLimiter`), error mapping and paging
    (:class:`~airflow_provider_apollo.core.SearchPager`) are the protocol core's, shared with
    :class:`~airflow_provider_apollo.hooks.apollo.ApolloHook`. The connection is resolved with
    ``get_async_connection`` (a sync lookup deadlocks inside the triggerer's loop). Use it as an
    async context manager so its HTTP session is closed::

        async with ApolloAsyncHook("apollo_default") as hook:
            contact = await hook.get_contact(contact_id)

    :param apollo_conn_id: the Airflow connection id.
    """

    conn_name_attr = "apollo_conn_id"
    default_conn_name = "apollo_default"
    conn_type = "apollo"
    hook_name = "Apollo.io"

    def __init__(self, apollo_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.apollo_conn_id = apollo_conn_id
        self._config: ApolloConfig | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stages: list[dict[str, Any]] | None = None
        self.rate_limiter = RateLimiter()
        self.request_count = 0

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

    # ------------------------------------------------------------------ plumbing

    async def get_config(self) -> ApolloConfig:
        """The connection's config, looked up once without blocking the event loop."""
        if self._config is None:
            conn = await get_async_connection(self.apollo_conn_id)
            self._config = ApolloConfig.from_connection(
                conn_id=self.apollo_conn_id, password=conn.password, host=conn.host, extra=conn.extra_dejson
            )
        return self._config

    async def _get_session(self, config: ApolloConfig) -> aiohttp.ClientSession:
        # Created inside the running loop: an aiohttp session is bound to the loop that made it.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=config.headers(), timeout=aiohttp.ClientTimeout(total=config.timeout)
            )
        return self._session

    async def call(self, request: ApiRequest) -> Any:
        """Send one request under the shared retry policy; its JSON body, or an ``ApolloApiError``."""
        config = await self.get_config()
        policy = RetryPolicy.from_config(config)
        async for attempt in tenacity.AsyncRetrying(**policy.tenacity_kwargs(request)):
            with attempt:
                response = await self._send(config, request)
                if not 200 <= response.status < 300:
                    raise error_for(request, response, config)
                return parse_json_body(request, response)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _send(self, config: ApolloConfig, request: ApiRequest) -> ApiResponse:
        session = await self._get_session(config)
        while True:
            delay, ticket = self.rate_limiter.acquire(request.rate_key, time.monotonic())
            if ticket is not None:
                break
            # Short waits are polls while another request learns the reset: not worth a log line.
            level = logging.INFO if delay >= 1 else logging.DEBUG
            self.log.log(
                level, "Pacing Apollo %s: waiting %.2f s for the rate-limit window", request.describe(), delay
            )
            await asyncio.sleep(delay)
        sent_at = time.monotonic()
        self.request_count += 1
        try:
            async with session.request(
                request.method,
                config.url(request.path),
                params=list(request.params) or None,
                data=None if request.json_body is None else json.dumps(request.json_body),
            ) as raw:
                body = await raw.read()
                response = ApiResponse(raw.status, {k.lower(): v for k, v in raw.headers.items()}, body)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            self.rate_limiter.release(request.rate_key, ticket)
            # A connection never made cannot have applied the request; anything later might have.
            never_sent = isinstance(error, aiohttp.ClientConnectorError)
            raise ApolloConnectionError(
                config.redact(f"Apollo {request.describe()} failed: {type(error).__name__} ({error})"),
                maybe_applied=not never_sent,
            ) from None
        self.rate_limiter.observe(request.rate_key, response, sent_at, time.monotonic(), ticket)
        return response

    # ------------------------------------------------------------------ contacts

    async def get_contact(self, contact_id: str) -> dict[str, Any]:
        """One contact by id."""
        contact_id = validate_contact_ids([contact_id], "contact_id")[0]
        body = await self.call(ApiRequest("GET", contact_path(contact_id), endpoint=PATH_CONTACT))
        return dict(body["contact"])

    async def search_contacts(
        self,
        filters: dict[str, Any] | None = None,
        *,
        per_page: int = SEARCH_PER_PAGE_MAX,
        max_records: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every contact a search matches, page by page (same cap and stop rules as the sync hook)."""
        pager = SearchPager(
            validate_search(filters, per_page, max_records), per_page=per_page, max_records=max_records
        )
        # The pager drops repeated ids and rewinds when deletions shift pages, as for the sync hook.
        seen: set[str] = set()
        while (request := pager.next_request()) is not None:
            for contact in pager.accept(await self.call(request), seen=seen):
                yield contact

    async def list_contact_stages(self) -> list[dict[str, Any]]:
        """The team's contact stages, fetched once per hook."""
        if self._stages is None:
            body = await self.call(ApiRequest("GET", PATH_STAGES, endpoint=PATH_STAGES))
            if not isinstance(body, dict):
                raise ApolloApiError(f"Apollo GET {PATH_STAGES} answered an unexpected body", body=body)
            self._stages = list(body.get("contact_stages") or [])
        return list(self._stages)

    async def resolve_contact_stage_id(self, stage: str) -> str:
        """The id of a stage given by id or display name (case-insensitive)."""
        return match_stage(await self.list_contact_stages(), stage)
