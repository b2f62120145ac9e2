"""Connection config and auth: what an Airflow connection says, validated; headers; key redaction."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_apollo import __version__
from airflow_provider_apollo.exceptions import ApolloAuthError, ApolloValidationError

DEFAULT_BASE_URL = "https://api.apollo.io/api/v1"
USER_AGENT = f"airflow-provider-apollo/{__version__}"

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_WAIT = 60.0

AUTH_API_KEY = "api_key"
AUTH_BEARER = "bearer"


@dataclass(frozen=True)
class ApolloConfig:
    """
    What a connection says, validated: credentials, base URL and the retry budget.

    ``api_key`` is excluded from ``repr`` so a config never prints the key.
    """

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    auth_type: str = AUTH_API_KEY
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT

    @classmethod
    def from_connection(
        cls, *, conn_id: str, password: str | None, host: str | None, extra: Mapping[str, Any] | None
    ) -> ApolloConfig:
        """Build a config from an Airflow connection's fields; a missing key fails before any request."""
        if not password:
            raise ApolloAuthError(
                f"Connection {conn_id!r} has no API key: put the Apollo API key in the connection's password."
            )
        extra = dict(extra or {})
        auth_type = str(extra.get("auth_type") or AUTH_API_KEY).lower()
        if auth_type not in (AUTH_API_KEY, AUTH_BEARER):
            raise ApolloValidationError(
                f"Connection {conn_id!r}: extra 'auth_type' must be 'api_key' or 'bearer', got {auth_type!r}."
            )
        return cls(
            api_key=password,
            base_url=normalise_base_url(host),
            auth_type=auth_type,
            timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, conn_id, positive=True),
            max_retries=int(_number(extra, "max_retries", DEFAULT_MAX_RETRIES, conn_id)),
            max_retry_wait=_number(extra, "max_retry_wait", DEFAULT_MAX_RETRY_WAIT, conn_id),
        )

    def headers(self) -> dict[str, str]:
        """Headers for every request: authentication, JSON, and a User-Agent naming this package."""
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "User-Agent": USER_AGENT,
        }
        if self.auth_type == AUTH_BEARER:
            headers["Authorization"] = f"Bearer {self.api_key}"
        else:
            headers["x-api-key"] = self.api_key
        return headers

    def url(self, path: str) -> str:
        return self.base_url + path

    def redact(self, text: str) -> str:
        """Remove the key from text that may echo a request (URLs, bodies) before it is shown."""
        return text.replace(self.api_key, "***") if self.api_key else text


def normalise_base_url(host: str | None) -> str:
    """The connection's host as a base URL: default Apollo, scheme added, no trailing slash."""
    if not host:
        return DEFAULT_BASE_URL
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = "https://" + host
    if host.rstrip("/") in ("https://api.apollo.io", "http://api.apollo.io"):
        host += "/api/v1"
    return host


def _number(
    extra: Mapping[str, Any], name: str, default: float, conn_id: str, positive: bool = False
) -> float:
    value = extra.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ApolloValidationError(
            f"Connection {conn_id!r}: extra {name!r} must be a number, got {value!r}."
        ) from None
    if number < 0 or (positive and number == 0) or math.isnan(number):
        raise ApolloValidationError(
            f"Connection {conn_id!r}: extra {name!r} must be {'> 0' if positive else '>= 0'}, got {value!r}."
        )
    return number
