"""Apollo's protocol decisions without I/O, one concern a module.

The hooks (``requests`` and ``aiohttp``) only move bytes. Every decision about what to send,
whether to retry, how long to wait and how to read a page lives in this package, once. The other
layers import what they use from here (``__all__`` is exactly that); tests import a module's own
names from the module they test.

- ``config``: connection config and auth; ``health``: the connection test
- ``endpoints``: every path and limit, the ``ApiRequest`` value; ``validation``: argument checks
- ``responses``: answers and the error each maps to; ``retries``: the retry policy
- ``ratelimit``: rate-limit headers and pacing; ``stats``: request statistics
- ``lifecycle``: one request from pacing to its answer or error, and the step driver that runs
  work of many requests (``run_steps``, ``iter_steps``, ``arun_steps``, ``aiter_steps``)
- ``lookups``: team facts fetched once per hook (stages, sequences, mailboxes, users, fields)
- ``operations``: every operation of more than one request, as a step generator
- ``records``: contacts, accounts and deals described as record types
- ``paging``: search arguments and paging; ``export``: the export plan and its cursor
- ``contacts``, ``stages``, ``sequences``, ``users``, ``lists``, ``fields``: requests and answers
  of each topic
- ``stage_check``, ``sequence_check``: the checks the polling sensors and triggers share
- ``upsert``: warehouse rows to Apollo; ``quota``: waiting out hourly and daily quotas

See ``docs/architecture.md`` for how a request flows through them.
"""

from __future__ import annotations

from airflow_provider_apollo.core import operations, paging
from airflow_provider_apollo.core.config import ApolloConfig, check_overrides
from airflow_provider_apollo.core.contacts import BulkUpdateResult
from airflow_provider_apollo.core.endpoints import (
    BULK_CREATE_MAX,
    BULK_UPDATE_MAX,
    BULK_UPDATE_SYNC_MAX,
    ID_BATCH_SIZE,
    LIST_BATCH_SIZE,
    PATH_ACCOUNT_BULK_CREATE,
    PATH_ACCOUNT_BULK_UPDATE,
    PATH_ACCOUNT_UPDATE_OWNERS,
    PATH_BULK_CREATE,
    PATH_BULK_UPDATE,
    PATH_LABELS_ADD,
    PATH_LABELS_REMOVE,
    PATH_SEQUENCE_ADD,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    ApiRequest,
)
from airflow_provider_apollo.core.export import (
    CREATED_SORT_FIELD,
    UPDATED_SORT_FIELD,
    ExportPlan,
    export_file_format,
    parse_timestamp,
)
from airflow_provider_apollo.core.fields import check_contact_updates
from airflow_provider_apollo.core.health import HEALTH_POLICY, health_failure, health_request, health_result
from airflow_provider_apollo.core.lifecycle import (
    Answered,
    Lifecycle,
    Outcome,
    Steps,
    adrive,
    aiter_steps,
    arun_steps,
    drive,
    iter_steps,
    no_answer,
    request_lifecycle,
    run_steps,
)
from airflow_provider_apollo.core.lists import check_list_names
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.core.paging import MAX_SEARCH_CONCURRENCY, SearchPage
from airflow_provider_apollo.core.quota import (
    CHECKPOINT_KEY,
    CHECKPOINT_PART_KEY,
    DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_MAX_QUOTA_WAIT,
    LONG_JOB_DEFERRAL_BACKSTOP,
    PART_MAX_IDS,
    SENSOR_DEFERRAL_BACKSTOP,
    BatchCursor,
    QuotaExhausted,
    SavedCheckpoint,
    SaveSchedule,
    argument_digests,
    check_checkpoint_interval,
    check_max_quota_wait,
    decide_quota_wait,
    describe_plan,
    estimate_seconds,
    is_quota_exhausted,
    quota_pause,
    quota_reset_wait,
    why_not_resume,
)
from airflow_provider_apollo.core.ratelimit import RateLimiter, WindowUsage
from airflow_provider_apollo.core.records import (
    ACCOUNTS,
    DEALS,
    RecordType,
    check_record_fields,
    check_record_ids,
    check_records,
)
from airflow_provider_apollo.core.responses import ApiResponse
from airflow_provider_apollo.core.retries import RetryPolicy
from airflow_provider_apollo.core.sequence_check import (
    SequenceCheckResult,
    check_reply_classes,
    check_target_statuses,
    sequence_check,
)
from airflow_provider_apollo.core.sequences import (
    ENROLLMENT_STATUSES,
    EnrollmentResult,
    SequenceRef,
    check_remove_mode,
    describe_skipped,
)
from airflow_provider_apollo.core.stage_check import (
    REQUIRE_ALL,
    CheckResult,
    StageCheck,
    StageCheckResult,
    check_require,
    stage_check,
)
from airflow_provider_apollo.core.stages import match_stage, stage_name
from airflow_provider_apollo.core.stats import RequestStats
from airflow_provider_apollo.core.upsert import (
    Reject,
    Upsert,
    UpsertCursor,
    check_column_map,
    check_mapped_columns,
    check_max_rejects,
    describe_threshold,
    rejects_exceed,
)
from airflow_provider_apollo.core.validation import check_contact_ids, check_int_range, check_non_empty_string

__all__ = [
    "ACCOUNTS",
    "Answered",
    "ApiRequest",
    "ApiResponse",
    "ApolloConfig",
    "BULK_CREATE_MAX",
    "BULK_UPDATE_MAX",
    "BULK_UPDATE_SYNC_MAX",
    "BatchCursor",
    "BulkUpdateResult",
    "CHECKPOINT_KEY",
    "CHECKPOINT_PART_KEY",
    "CREATED_SORT_FIELD",
    "CheckResult",
    "DEALS",
    "DEFAULT_CHECKPOINT_INTERVAL",
    "DEFAULT_MAX_QUOTA_WAIT",
    "ENROLLMENT_STATUSES",
    "EnrollmentResult",
    "ExportPlan",
    "HEALTH_POLICY",
    "ID_BATCH_SIZE",
    "LIST_BATCH_SIZE",
    "LONG_JOB_DEFERRAL_BACKSTOP",
    "Lifecycle",
    "MAX_SEARCH_CONCURRENCY",
    "Outcome",
    "PART_MAX_IDS",
    "PATH_ACCOUNT_BULK_CREATE",
    "PATH_ACCOUNT_BULK_UPDATE",
    "PATH_ACCOUNT_UPDATE_OWNERS",
    "PATH_BULK_CREATE",
    "PATH_BULK_UPDATE",
    "PATH_LABELS_ADD",
    "PATH_LABELS_REMOVE",
    "PATH_SEQUENCE_ADD",
    "PATH_UPDATE_OWNERS",
    "PATH_UPDATE_STAGES",
    "QuotaExhausted",
    "REQUIRE_ALL",
    "RateLimiter",
    "RecordType",
    "Reject",
    "RequestStats",
    "RetryPolicy",
    "SEARCH_PER_PAGE_MAX",
    "SEARCH_RESULT_CAP",
    "SENSOR_DEFERRAL_BACKSTOP",
    "SaveSchedule",
    "SavedCheckpoint",
    "SearchPage",
    "SequenceCheckResult",
    "SequenceRef",
    "StageCheck",
    "StageCheckResult",
    "Steps",
    "TeamLookups",
    "UPDATED_SORT_FIELD",
    "Upsert",
    "UpsertCursor",
    "WindowUsage",
    "adrive",
    "aiter_steps",
    "argument_digests",
    "arun_steps",
    "check_checkpoint_interval",
    "check_column_map",
    "check_contact_ids",
    "check_contact_updates",
    "check_int_range",
    "check_list_names",
    "check_mapped_columns",
    "check_max_quota_wait",
    "check_max_rejects",
    "check_non_empty_string",
    "check_overrides",
    "check_record_fields",
    "check_record_ids",
    "check_records",
    "check_remove_mode",
    "check_reply_classes",
    "check_require",
    "check_target_statuses",
    "decide_quota_wait",
    "describe_plan",
    "describe_skipped",
    "describe_threshold",
    "drive",
    "estimate_seconds",
    "export_file_format",
    "health_failure",
    "health_request",
    "health_result",
    "is_quota_exhausted",
    "iter_steps",
    "match_stage",
    "no_answer",
    "operations",
    "paging",
    "parse_timestamp",
    "quota_pause",
    "quota_reset_wait",
    "rejects_exceed",
    "request_lifecycle",
    "run_steps",
    "sequence_check",
    "stage_check",
    "stage_name",
    "why_not_resume",
]
