"""What the sync and async Apollo hooks share: the connection, its overrides, pacing and statistics."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_apollo import UI_FIELD_BEHAVIOUR
from airflow_provider_apollo._compat import mask_secret
from airflow_provider_apollo.core import (
    ApiRequest,
    ApolloConfig,
    Lifecycle,
    RateLimiter,
    RequestStats,
    RetryPolicy,
    WindowUsage,
    check_overrides,
    request_lifecycle,
)
from airflow_provider_apollo.core.lookups import TeamLookups


class ApolloBaseHook(BaseHook):
    """
    The connection (``apollo`` type) and per-hook state both transports need.

    :param apollo_conn_id: the Airflow connection id.
    :param timeout: seconds per request; overrides the connection's extra.
    :param max_retries: retry budget; overrides the connection's extra.
    :param max_retry_wait: longest single wait; overrides the connection's extra.
    :param stats: a :class:`~airflow_provider_apollo.core.RequestStats` to count this hook's
        requests into (several hooks may share one); a new one when omitted. Read it as ``hook.stats``.
    """

    conn_name_attr = "apollo_conn_id"
    default_conn_name = "apollo_default"
    conn_type = "apollo"
    hook_name = "Apollo.io"

    def __init__(
        self,
        apollo_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        stats: RequestStats | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.apollo_conn_id = apollo_conn_id
        # Checked now, by the rules the connection's extras follow: a bad value fails at construction.
        self._overrides = check_overrides(
            {"timeout": timeout, "max_retries": max_retries, "max_retry_wait": max_retry_wait}
        )
        self.rate_limiter = RateLimiter()
        self.stats = stats if stats is not None else RequestStats()
        # Team facts (stages, sequences, mailboxes, users, custom fields) learned once per hook.
        self.lookups = TeamLookups()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: hide unused fields, call the password "API key" and the host "Base URL"."""
        return UI_FIELD_BEHAVIOUR

    def quota_usage(self, endpoint: str, method: str = "POST") -> dict[str, WindowUsage]:
        """The latest minute, hour and day usage Apollo reported for an endpoint (the team's)."""
        return self.rate_limiter.usage(f"{method} {endpoint}")

    def _config_from(self, conn: Any) -> ApolloConfig:
        """The connection's config with this hook's overrides; the key is masked in task logs."""
        config = ApolloConfig.from_connection(
            conn_id=self.apollo_conn_id, password=conn.password, host=conn.host, extra=conn.extra_dejson
        )
        mask_secret(config.api_key)
        return config.with_overrides(**self._overrides)

    def _lifecycle(
        self, request: ApiRequest, config: ApolloConfig, policy: RetryPolicy | None = None
    ) -> Lifecycle:
        return request_lifecycle(
            request,
            config=config,
            policy=policy or RetryPolicy.from_config(config),
            limiter=self.rate_limiter,
            stats=self.stats,
        )
