"""Helpers shared by the core's tests: a connection's config, Apollo's answers, limiter tickets, errors."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests

from airflow_provider_apollo.core.config import ApolloConfig
from airflow_provider_apollo.core.endpoints import PATH_SEARCH, ApiRequest
from airflow_provider_apollo.core.ratelimit import RateLimiter
from airflow_provider_apollo.core.responses import ApiResponse
from airflow_provider_apollo.exceptions import ApolloArgumentError

KEY = "sekrit-key"
SEARCH = ApiRequest("POST", PATH_SEARCH, rate_group=PATH_SEARCH)
MINUTE = SEARCH.rate_key  # the limiter's key for a search: "POST /contacts/search"
MOCKED_BASE = "http://apollo.test/api/v1"  # a base URL for requests_mock to answer


def argument_error(call: Any, *args: Any, **kwargs: Any) -> str:
    """The message of the ``ApolloArgumentError`` that ``call(*args, **kwargs)`` must raise."""
    with pytest.raises(ApolloArgumentError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def connection(
    host: str | None = None, password: str | None = KEY, conn_id: str = "apollo_x", **extra: Any
) -> ApolloConfig:
    """The config of an Airflow connection with these fields and extras."""
    return ApolloConfig.from_connection(conn_id=conn_id, password=password, host=host, extra=extra)


def use_connection(monkeypatch: pytest.MonkeyPatch, host: str, password: str = "k", **extra: Any) -> None:
    """Point Airflow's ``apollo_default`` connection at ``host`` for one test."""
    fields = {"conn_type": "apollo", "password": password, "host": host}
    if extra:
        fields["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(fields))


def answer(status: int, body: bytes = b"{}", **headers: str) -> ApiResponse:
    """Apollo's answer; ``retry_after="3"`` is the header ``retry-after``."""
    return ApiResponse(status, {name.replace("_", "-"): value for name, value in headers.items()}, body)


def minute_answer(status: int, limit: int, used: int, retry_after: float | None = None) -> ApiResponse:
    """An answer whose headers say ``used`` of the minute window's ``limit`` are spent."""
    headers = {
        "x-rate-limit-minute": str(limit),
        "x-minute-usage": str(used),
        "x-minute-requests-left": str(max(0, limit - used)),
    }
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return ApiResponse(status, headers, b"{}")


def ticket(limiter: RateLimiter, now: float, key: str = MINUTE) -> int:
    """The ticket of a request the limiter lets go at once (it fails the test if told to wait)."""
    wait, granted = limiter.acquire(key, now)
    assert wait == 0.0 and granted is not None, f"expected a ticket at {now}, got a wait of {wait}"
    return granted


def dns_failure() -> requests.exceptions.ConnectionError:
    """What ``requests`` raises when the host name does not resolve, chained as urllib3 chains it."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    reason = NameResolutionError("apollo.test", None, socket.gaierror(-2, "Name or service not known"))  # type: ignore[arg-type]
    reason.__cause__ = socket.gaierror(-2, "Name or service not known")  # as urllib3 raises it
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/contacts", reason))  # type: ignore[arg-type]
