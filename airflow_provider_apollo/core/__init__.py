"""Apollo's protocol decisions without I/O, one concern a module; import from here.

The hooks (``requests`` and ``aiohttp``) only move bytes. Every decision about what to send,
whether to retry, how long to wait and how to read a page lives in this package, once:

- ``config``: connection config and auth
- ``endpoints``: paths, limits and request building
- ``validation``: argument checks before any request
- ``responses``: responses and the error each maps to
- ``retries``: the retry policy
- ``ratelimit``: rate-limit headers and pacing
- ``paging``: search arguments and paging
- ``contacts``: bulk-create results matched to inputs
- ``stages``: stage names and ids
- ``stage_check``: the stage check shared by the sensor and the trigger
"""

from __future__ import annotations

from airflow_provider_apollo.core.config import (
    AUTH_API_KEY,
    AUTH_BEARER,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    ApolloConfig,
    normalise_base_url,
)
from airflow_provider_apollo.core.contacts import (
    order_bulk_result,
)
from airflow_provider_apollo.core.endpoints import (
    BULK_CREATE_MAX,
    ID_BATCH_SIZE,
    PATH_BULK_CREATE,
    PATH_CONTACT,
    PATH_CONTACTS,
    PATH_HEALTH,
    PATH_SEARCH,
    PATH_STAGES,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    SEARCH_SORT_FIELDS,
    ApiRequest,
    batched,
    contact_path,
    ids_params,
)
from airflow_provider_apollo.core.paging import (
    Pagination,
    SearchPager,
    check_search_cap,
    read_pagination,
    validate_search,
)
from airflow_provider_apollo.core.ratelimit import (
    MINUTE_WINDOW_SECONDS,
    PROBE_POLL,
    RESET_MARGIN,
    RESET_MARGIN_SHARE,
    RateLimiter,
    WindowUsage,
    read_rate_limit_headers,
)
from airflow_provider_apollo.core.responses import (
    ApiResponse,
    decode_body,
    error_for,
    parse_json_body,
    parse_retry_after,
)
from airflow_provider_apollo.core.retries import (
    BACKOFF_INITIAL,
    BACKOFF_MAX,
    RetryPolicy,
)
from airflow_provider_apollo.core.stage_check import (
    MISSING_PROBES_PER_CHECK,
    PER_CONTACT_CHECK_MAX,
    REQUIRE_ALL,
    REQUIRE_ANY,
    REQUIRE_CHOICES,
    Require,
    StageCheck,
    StageCheckResult,
    arun_check,
    run_check,
    stage_check,
    validate_require,
)
from airflow_provider_apollo.core.stages import (
    match_stage,
    stage_name,
)
from airflow_provider_apollo.core.validation import (
    check_int_range,
    validate_contact_ids,
)

__all__ = [
    "AUTH_API_KEY",
    "AUTH_BEARER",
    "ApiRequest",
    "ApiResponse",
    "ApolloConfig",
    "BACKOFF_INITIAL",
    "BACKOFF_MAX",
    "BULK_CREATE_MAX",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_WAIT",
    "DEFAULT_TIMEOUT",
    "ID_BATCH_SIZE",
    "MINUTE_WINDOW_SECONDS",
    "MISSING_PROBES_PER_CHECK",
    "PATH_BULK_CREATE",
    "PATH_CONTACT",
    "PATH_CONTACTS",
    "PATH_HEALTH",
    "PATH_SEARCH",
    "PATH_STAGES",
    "PATH_UPDATE_OWNERS",
    "PATH_UPDATE_STAGES",
    "PER_CONTACT_CHECK_MAX",
    "PROBE_POLL",
    "Pagination",
    "REQUIRE_ALL",
    "REQUIRE_ANY",
    "REQUIRE_CHOICES",
    "RESET_MARGIN",
    "RESET_MARGIN_SHARE",
    "RateLimiter",
    "Require",
    "RetryPolicy",
    "SEARCH_PER_PAGE_MAX",
    "SEARCH_RESULT_CAP",
    "SEARCH_SORT_FIELDS",
    "SearchPager",
    "StageCheck",
    "StageCheckResult",
    "USER_AGENT",
    "WindowUsage",
    "arun_check",
    "batched",
    "check_int_range",
    "check_search_cap",
    "contact_path",
    "decode_body",
    "error_for",
    "ids_params",
    "match_stage",
    "normalise_base_url",
    "order_bulk_result",
    "parse_json_body",
    "parse_retry_after",
    "read_pagination",
    "read_rate_limit_headers",
    "run_check",
    "stage_check",
    "stage_name",
    "validate_contact_ids",
    "validate_require",
    "validate_search",
]
