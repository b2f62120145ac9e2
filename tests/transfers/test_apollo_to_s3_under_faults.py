"""ApolloSearchToS3Operator under faults (the fault suite of docs/reliability.md): the S3 object is complete
and exact, or absent; the s3 fixture is tests/transfers/conftest.py's."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from reliability_support import (
    FaultCase,
    after_applied,
    assert_no_key,
    connection,
    expect_failure,
    persistent_params,
    settle,
    transient_params,
)

from airflow_provider_apollo.exceptions import ApolloApiError, ApolloAuthError
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

Outcome = Callable[[str, str, str], None]
KEY = "exports/contacts.jsonl"
SEEDED = 250


def export(bucket: str, **kwargs: Any) -> ApolloSearchToS3Operator:
    return ApolloSearchToS3Operator(task_id="export", s3_bucket=bucket, s3_key=KEY, **kwargs)


def exported_ids(s3: Any, bucket: str) -> list[str]:
    data = s3.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    return [json.loads(line)["id"] for line in data.decode("utf-8").splitlines()]


def keys_in(s3: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("concurrency", [1, 4], ids=["sequential", "4-pages-at-once"])
@pytest.mark.parametrize("fault", transient_params())
def test_export_under_a_transient_fault_is_complete_and_exact(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    concurrency: int,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    emulator.seed_contacts(SEEDED)
    reconnect(**fault.extra)
    fault.inject(emulator)
    ids = export(s3_bucket, concurrency=concurrency, push_contact_ids=True).execute(context)
    settle(emulator, fault)
    written = exported_ids(s3, s3_bucket)
    assert len(written) == len(set(written)) == SEEDED
    assert set(written) == set(emulator.contacts)
    assert ids == written
    assert context["ti"].xcoms["record_count"] == SEEDED
    assert_no_key(ids, context["ti"].xcoms)
    outcome(
        fault.name,
        f"ApolloSearchToS3Operator (concurrency {concurrency})",
        "survived, object complete and exact",
    )


@pytest.mark.parametrize("fault", persistent_params())
def test_export_failing_after_the_first_page_leaves_no_object_and_keeps_the_old_one(
    emulator: ApolloEmulator,
    reconnect: Callable[..., None],
    fault: FaultCase,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    outcome: Outcome,
) -> None:
    emulator.seed_contacts(SEEDED)
    reconnect(**fault.extra)
    # Yesterday's export at the same key, and a second bucket key that must stay absent.
    s3.put_object(Bucket=s3_bucket, Key=KEY, Body=b'{"id": "yesterday"}\n')
    # From the second page on, every search request meets the fault: page one is already on disk.
    after_applied(emulator, "api_search", 1, lambda: fault.inject(emulator, path="/contacts/search"))
    expect_failure(lambda: export(s3_bucket).execute(context), ApolloApiError)
    settle(emulator, fault)
    assert exported_ids(s3, s3_bucket) == ["yesterday"]
    fresh_key = "exports/never.jsonl"
    # The same fault with no previous object: nothing at all appears.
    emulator.clear_faults()
    after_applied(emulator, "api_search", 1, lambda: fault.inject(emulator, path="/contacts/search"))
    expect_failure(
        lambda: ApolloSearchToS3Operator(task_id="e", s3_bucket=s3_bucket, s3_key=fresh_key).execute(context),
        ApolloApiError,
    )
    settle(emulator, fault)
    assert fresh_key not in keys_in(s3, s3_bucket)
    assert "record_count" not in context["ti"].xcoms
    outcome(fault.name, "ApolloSearchToS3Operator", "failed clearly; object absent, previous object intact")


def test_export_with_key_revoked_mid_run_leaves_no_object(
    emulator: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any], outcome: Outcome
) -> None:
    emulator.seed_contacts(SEEDED)
    after_applied(emulator, "api_search", 1, lambda: setattr(emulator, "api_key", "revoked"))
    error = expect_failure(lambda: export(s3_bucket).execute(context), ApolloAuthError)
    assert "401" in str(error)
    assert keys_in(s3, s3_bucket) == []
    outcome("key revoked mid-run", "ApolloSearchToS3Operator", "failed clearly (401); object absent")


def test_export_under_a_minute_rate_limit_paces_and_is_exact(
    s3_bucket: str, s3: Any, context: dict[str, Any], monkeypatch: pytest.MonkeyPatch, outcome: Outcome
) -> None:
    # 3 requests per emulated minute of 0.6 s; 8 pages need three windows, so two resets.
    from reliability_support import MARKER_KEY

    window = 0.6
    with ApolloEmulator(api_key=MARKER_KEY, rate_limits={"minute": 3}, time_scale=window / 60) as limited:
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", connection(limited, max_retry_wait=2))
        limited.seed_contacts(800)
        started = time.monotonic()
        ids = export(s3_bucket, push_contact_ids=True).execute(context)
        elapsed = time.monotonic() - started
        assert exported_ids(s3, s3_bucket) == ids
        assert set(ids) == set(limited.contacts) and len(ids) == 800
        searches = limited.request_count("/contacts/search")
        rejected = limited.status_counts().get(429, 0)
    # Paced from Apollo's headers: one 429 teaches the limiter when the window resets, and the
    # later windows meet none. A client that only waits out each 429 meets one per window.
    assert rejected == 1, f"{rejected} 429s in {searches} search requests: the export did not pace"
    windows = math.ceil((searches - rejected) / 3)
    assert elapsed < (windows - 1) * window * 1.5 + 1.5, f"{elapsed:.2f}s for {windows} windows"
    outcome(
        "minute rate limit (429 + retry-after)",
        "ApolloSearchToS3Operator",
        "paced (one 429 to learn the window), object complete and exact",
    )


def test_export_with_a_contact_deleted_mid_run_loses_no_other_contact(
    emulator: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any], outcome: Outcome
) -> None:
    """
    A contact on page one deleted after page one was read shifts every later record one place
    forward in Apollo's offset paging: the export must still hold every contact that lived
    throughout, or fail and upload nothing.
    """
    ids = emulator.seed_contacts(SEEDED)
    outcome(
        "contact deleted mid-run", "ApolloSearchToS3Operator", "every surviving contact exported, or absent"
    )
    after_applied(emulator, "api_search", 1, lambda: emulator.delete_contacts([ids[10]]))
    try:
        exported = export(s3_bucket, push_contact_ids=True).execute(context)
    except ApolloApiError as error:
        assert_no_key(error)
        assert keys_in(s3, s3_bucket) == []
        return
    survivors = set(ids) - {ids[10]}
    written = exported_ids(s3, s3_bucket)
    assert len(written) == len(set(written))
    assert exported == written
    missing = survivors - set(written)
    assert not missing, f"{len(missing)} live contact(s) silently missing from the export: {sorted(missing)}"
