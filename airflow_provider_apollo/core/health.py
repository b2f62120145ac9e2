"""The connection test: one cheap request, no retries, and a short readable answer for each failure."""

from __future__ import annotations

from typing import Any

from airflow_provider_apollo.core.config import ApolloConfig
from airflow_provider_apollo.core.endpoints import PATH_HEALTH, ApiRequest
from airflow_provider_apollo.core.retries import RetryPolicy
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloNotFoundError,
    ApolloRateLimitError,
)

# A test answers within seconds: no retry storm, and no 30-second wait on a black-holed host.
HEALTH_TIMEOUT = 5.0
HEALTH_POLICY = RetryPolicy(max_retries=0)
EXAMPLE_BASE_URL = "https://api.apollo.io/api/v1"


def health_request(config: ApolloConfig) -> ApiRequest:
    return ApiRequest("GET", PATH_HEALTH, rate_group=PATH_HEALTH, timeout=min(config.timeout, HEALTH_TIMEOUT))


def health_result(body: Any, config: ApolloConfig) -> tuple[bool, str]:
    """What the UI shows for a 2xx answer."""
    if isinstance(body, dict) and body.get("is_logged_in") is False:
        return False, "Apollo answered, but the key is not logged in."
    return True, f"Connected to Apollo at {config.base_url}"


def health_failure(error: BaseException, config: ApolloConfig | None) -> str:
    """One readable sentence for a failed test; never the key, never a raw library error."""
    where = config.base_url if config is not None else "the configured Base URL"
    if isinstance(error, ApolloAuthError):
        if error.status_code == 403:
            return (
                f"Apollo refused access (403): the key is valid but not allowed to call {PATH_HEALTH}. "
                f"Apollo said: {_apollo_said(error)}"
            )
        return f"Apollo rejected the API key (401): check the connection's API key. Apollo said: {_apollo_said(error)}"
    if isinstance(error, ApolloNotFoundError):
        return (
            f"{where} answered 404 for {PATH_HEALTH}: this is not Apollo's API. The Base URL should end "
            f"in /api/v1 (for example {EXAMPLE_BASE_URL}), or be left empty."
        )
    if isinstance(error, ApolloConnectionError):
        if error.reason == "answer is not JSON":
            return f"{where} answered, but not with JSON: is the Base URL Apollo's API ({EXAMPLE_BASE_URL})?"
        return f"Could not reach Apollo at {where}: {error.reason}."
    if isinstance(error, ApolloRateLimitError):
        return f"Apollo answered 429 (rate limit reached); the key works. Try again in {error.retry_after or 60:.0f} s."
    if isinstance(error, ApolloApiError):
        if error.status_code is not None and not isinstance(error.body, dict):
            return f"{where} answered {error.status_code} with a non-JSON body: is the Base URL Apollo's API?"
        return str(error)
    return f"{type(error).__name__}: {error}"


def _apollo_said(error: ApolloApiError) -> str:
    body = error.body
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:300]
    return str(body or "").strip()[:300] or "(empty answer)"
