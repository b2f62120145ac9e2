"""Connection config and auth: what an Airflow connection says, validated; headers; key redaction."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_apollo import __version__
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError

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
            raise ApolloArgumentError(
                f"Connection {conn_id!r}: extra 'auth_type' must be 'api_key' or 'bearer', got {auth_type!r}."
            )
        return cls(
            api_key=password,
            base_url=normalise_base_url(host),
            auth_type=auth_type,
            **_retry_budget(extra, lambda name: f"Connection {conn_id!r}: extra {name!r}"),
        )

    def with_overrides(self, **overrides: Any) -> ApolloConfig:
        """
        This config with a hook's own ``timeout``, ``max_retries`` or ``max_retry_wait``.

        Checked by the same rules as the connection's extras; ``None`` keeps the connection's value.
        """
        return replace(self, **check_overrides(overrides))

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
    if host in ("https://api.apollo.io", "http://api.apollo.io"):
        host += "/api/v1"
    return host


# The retry budget's settings: (default, must be > 0 rather than >= 0, integer).
RETRY_BUDGET_DEFAULTS: dict[str, tuple[float, bool, bool]] = {
    "timeout": (DEFAULT_TIMEOUT, True, False),
    "max_retries": (DEFAULT_MAX_RETRIES, False, True),
    "max_retry_wait": (DEFAULT_MAX_RETRY_WAIT, False, False),
}


def check_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A hook's own retry-budget arguments (``None`` dropped), checked as the connection's extras are."""
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = sorted(set(given) - set(RETRY_BUDGET_DEFAULTS))
    if unknown:
        raise ApolloArgumentError(
            f"unknown config overrides {unknown}; known: {sorted(RETRY_BUDGET_DEFAULTS)}."
        )
    checked = _retry_budget(given, lambda name: f"ApolloHook argument {name!r}")
    return {name: checked[name] for name in given}


def _retry_budget(source: Mapping[str, Any], label: Callable[[str], str]) -> dict[str, Any]:
    """The retry budget read from ``source`` (extras or hook arguments), each value checked."""
    budget: dict[str, Any] = {}
    for name, (default, positive, integer) in RETRY_BUDGET_DEFAULTS.items():
        number = _number(source.get(name), default, label(name), positive=positive)
        if integer and number != int(number):
            raise ApolloArgumentError(f"{label(name)} must be a whole number, got {source.get(name)!r}.")
        budget[name] = int(number) if integer else number
    return budget


def _number(value: Any, default: float, label: str, *, positive: bool) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ApolloArgumentError(f"{label} must be a number, got {value!r}.") from None
    if isinstance(value, bool) or number < 0 or (positive and number == 0) or not math.isfinite(number):
        raise ApolloArgumentError(f"{label} must be {'> 0' if positive else '>= 0'}, got {value!r}.")
    return number
