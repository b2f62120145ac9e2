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
- ``stages``: stage names and ids, stage names in search filters
- ``stage_check``: the stage check shared by the sensor and the trigger
- ``export``: the export plan (stage slices, time bounds, de-duplication) and its resumable cursor
- ``sequences``, ``users``, ``lists``, ``fields``: outreach (sequences and mailboxes by name,
  owners by email, lists, custom fields by label, bulk update)
- ``sequence_check``: the sequence-status check shared by its sensor and trigger
- ``stats``: request statistics
- ``lifecycle``: one request from pacing to its answer or error, for both transports
- ``health``: the connection test
- ``quota``: waiting out hourly and daily quotas: decisions, plans, batch cursors

See ``docs/architecture.md`` for how a request flows through them.
"""

from __future__ import annotations

from airflow_provider_apollo.core.config import (
    AUTH_API_KEY,
    AUTH_BEARER,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
    RETRY_BUDGET_DEFAULTS,
    USER_AGENT,
    ApolloConfig,
    check_overrides,
    normalise_base_url,
)
from airflow_provider_apollo.core.contacts import (
    BulkUpdateResult,
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
    get_contact_request,
    ids_params,
    list_stages_request,
)
from airflow_provider_apollo.core.export import (
    ExportCursor,
    ExportPlan,
    parse_time_bound,
)
from airflow_provider_apollo.core.fields import (
    BULK_UPDATE_MAX,
    BULK_UPDATE_SYNC_MAX,
    PATH_BULK_UPDATE,
    PATH_FIELDS,
    CustomField,
    resolve_custom_fields,
)
from airflow_provider_apollo.core.health import (
    EXAMPLE_BASE_URL,
    HEALTH_POLICY,
    HEALTH_TIMEOUT,
    health_failure,
    health_request,
    health_result,
)
from airflow_provider_apollo.core.lifecycle import (
    PACING_LOG_THRESHOLD,
    Answered,
    Lifecycle,
    NoAnswer,
    Outcome,
    Send,
    Sleep,
    adrive,
    drive,
    no_answer,
    request_lifecycle,
)
from airflow_provider_apollo.core.lists import LIST_BATCH_SIZE, PATH_LABELS_ADD, PATH_LABELS_REMOVE
from airflow_provider_apollo.core.paging import (
    Pagination,
    SearchPager,
    check_search_cap,
    read_pagination,
    validate_search,
)
from airflow_provider_apollo.core.quota import (
    DEFAULT_MAX_QUOTA_WAIT,
    QUOTA_RESET_MARGIN,
    BatchCursor,
    QuotaDecision,
    QuotaExhausted,
    binding_window,
    check_max_quota_wait,
    decide_quota_wait,
    describe_plan,
    estimate_seconds,
    is_quota_exhausted,
    quota_pause,
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
from airflow_provider_apollo.core.sequence_check import (
    REPLY_CLASSES,
    SEQUENCE_STATUSES,
    SequenceCheckResult,
    sequence_check,
)
from airflow_provider_apollo.core.sequences import (
    ENROLLMENT_FLAGS,
    PATH_EMAIL_ACCOUNTS,
    PATH_SEQUENCE_ADD,
    PATH_SEQUENCE_REMOVE,
    PATH_SEQUENCE_SEARCH,
    SEQUENCE_BATCH_SIZE,
    EnrollmentResult,
    Mailbox,
    SequenceRef,
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
    stage_check,
    validate_require,
)
from airflow_provider_apollo.core.stages import (
    STAGE_NAMES_FILTER,
    match_stage,
    needs_stage_names,
    resolve_stage_filters,
    stage_name,
    stages_of,
)
from airflow_provider_apollo.core.stats import (
    NO_ANSWER,
    RequestStats,
    StatsSnapshot,
)
from airflow_provider_apollo.core.steps import (
    MAX_CONCURRENT_REQUESTS,
    Concurrently,
    Emit,
    Steps,
    aiter_steps,
    arun_steps,
    iter_steps,
    run_steps,
)
from airflow_provider_apollo.core.validation import (
    check_contact,
    check_contacts,
    check_fields,
    check_int_range,
    check_json,
    check_non_empty_string,
    validate_contact_ids,
)

__all__ = [
    "ExportCursor",
    "ExportPlan",
    "parse_time_bound",
    "BULK_UPDATE_MAX",
    "BULK_UPDATE_SYNC_MAX",
    "CustomField",
    "ENROLLMENT_FLAGS",
    "EnrollmentResult",
    "LIST_BATCH_SIZE",
    "Mailbox",
    "PATH_BULK_UPDATE",
    "PATH_EMAIL_ACCOUNTS",
    "PATH_FIELDS",
    "PATH_LABELS_ADD",
    "PATH_LABELS_REMOVE",
    "PATH_SEQUENCE_ADD",
    "PATH_SEQUENCE_REMOVE",
    "PATH_SEQUENCE_SEARCH",
    "SEQUENCE_BATCH_SIZE",
    "SEQUENCE_STATUSES",
    "REPLY_CLASSES",
    "SequenceCheckResult",
    "SequenceRef",
    "arun_steps",
    "resolve_custom_fields",
    "run_steps",
    "sequence_check",
    "BatchCursor",
    "DEFAULT_MAX_QUOTA_WAIT",
    "QUOTA_RESET_MARGIN",
    "QuotaDecision",
    "QuotaExhausted",
    "check_max_quota_wait",
    "decide_quota_wait",
    "describe_plan",
    "estimate_seconds",
    "is_quota_exhausted",
    "quota_pause",
    "binding_window",
    "check_overrides",
    "stages_of",
    "get_contact_request",
    "list_stages_request",
    "BulkUpdateResult",
    "AUTH_API_KEY",
    "AUTH_BEARER",
    "Answered",
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
    "EXAMPLE_BASE_URL",
    "HEALTH_POLICY",
    "HEALTH_TIMEOUT",
    "ID_BATCH_SIZE",
    "Lifecycle",
    "MINUTE_WINDOW_SECONDS",
    "MISSING_PROBES_PER_CHECK",
    "NO_ANSWER",
    "NoAnswer",
    "Outcome",
    "PACING_LOG_THRESHOLD",
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
    "RETRY_BUDGET_DEFAULTS",
    "RateLimiter",
    "RequestStats",
    "Require",
    "RetryPolicy",
    "SEARCH_PER_PAGE_MAX",
    "SEARCH_RESULT_CAP",
    "SEARCH_SORT_FIELDS",
    "STAGE_NAMES_FILTER",
    "SearchPager",
    "Send",
    "Sleep",
    "StageCheck",
    "StageCheckResult",
    "StatsSnapshot",
    "Steps",
    "Concurrently",
    "Emit",
    "MAX_CONCURRENT_REQUESTS",
    "aiter_steps",
    "iter_steps",
    "USER_AGENT",
    "WindowUsage",
    "adrive",
    "batched",
    "check_contact",
    "check_contacts",
    "check_fields",
    "check_int_range",
    "check_json",
    "check_non_empty_string",
    "check_search_cap",
    "contact_path",
    "decode_body",
    "drive",
    "error_for",
    "health_failure",
    "health_request",
    "health_result",
    "ids_params",
    "match_stage",
    "needs_stage_names",
    "no_answer",
    "normalise_base_url",
    "order_bulk_result",
    "parse_json_body",
    "parse_retry_after",
    "read_pagination",
    "read_rate_limit_headers",
    "request_lifecycle",
    "resolve_stage_filters",
    "stage_check",
    "stage_name",
    "validate_contact_ids",
    "validate_require",
    "validate_search",
]
