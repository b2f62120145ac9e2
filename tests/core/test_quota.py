"""The quota decisions of ``core/quota.py``, one behaviour each (the quota tests run them end to end, slowly)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_apollo.core.quota import (
    LONG_JOB_DEFERRAL_BACKSTOP,
    SENSOR_DEFERRAL_BACKSTOP,
    BatchCursor,
    QuotaExhausted,
    WindowUsage,
    binding_window,
    check_max_quota_wait,
    decide_quota_wait,
    describe_plan,
    estimate_seconds,
    is_quota_exhausted,
    quota_pause,
    quota_reset_wait,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloRateLimitError, ApolloServerError


def limited(retry_after: float | None) -> ApolloRateLimitError:
    return ApolloRateLimitError("Apollo POST /contacts answered 429.", retry_after=retry_after)


def stop(retry_after: float = 3600.0, work_left: str = "3,200 of 5,000 contacts") -> QuotaExhausted:
    return QuotaExhausted(limited(retry_after), {"next_batch": 18}, work_left)


# --------------------------------------------------------------------------- max_quota_wait


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(timedelta(hours=2), 7200.0), (5, 5.0), (0.5, 0.5), (timedelta(milliseconds=1), 0.001)],
)
def test_max_quota_wait_takes_seconds_or_a_timedelta(value: Any, seconds: float) -> None:
    result = check_max_quota_wait(value)
    assert result == seconds
    assert type(result) is float


@pytest.mark.parametrize(
    "value", [0, -1, 0.0, timedelta(0), timedelta(seconds=-5), True, "60", None, math.nan, math.inf]
)
def test_max_quota_wait_refuses_anything_else_naming_the_argument(value: Any) -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        check_max_quota_wait(value)
    assert str(raised.value).startswith(
        "max_quota_wait must be a number of seconds or a timedelta greater than 0, got "
    )
    with pytest.raises(ApolloArgumentError, match=r"^quota_wait_cap must be"):
        check_max_quota_wait(value, "quota_wait_cap")


# --------------------------------------------------------------------------- exhausted or not


def test_a_quota_is_exhausted_only_by_a_429_resetting_beyond_max_retry_wait() -> None:
    assert is_quota_exhausted(limited(61.0), max_retry_wait=60.0)
    assert not is_quota_exhausted(limited(60.0), max_retry_wait=60.0)
    assert not is_quota_exhausted(limited(None), max_retry_wait=60.0)
    server_error = ApolloServerError("Apollo answered 503.", status_code=503)
    server_error.retry_after = 3600.0  # type: ignore[attr-defined]
    assert not is_quota_exhausted(server_error, max_retry_wait=60.0)


def test_a_quota_is_waited_for_until_its_reset_plus_one_second_and_one_percent() -> None:
    assert quota_reset_wait(3600.0) == pytest.approx(3637.0)
    assert quota_reset_wait(100.0) == pytest.approx(102.0)
    assert quota_reset_wait(0.0) == 1.0


def test_sensors_and_long_jobs_wait_the_same_time_for_one_reset() -> None:
    for retry_after in (61.0, 3600.0, 86400.0):
        decision = decide_quota_wait(stop(retry_after), waited=0.0, wait_for_quota=True, max_quota_wait=1e9)
        assert quota_pause(limited(retry_after), 60.0) == decision.seconds == quota_reset_wait(retry_after)


def test_a_deferrals_backstop_is_a_minute_for_a_sensor_and_ten_for_a_long_job() -> None:
    # A sensor's backstop only replaces a timeout already due; a long job's would fail hours of waiting.
    assert (SENSOR_DEFERRAL_BACKSTOP, LONG_JOB_DEFERRAL_BACKSTOP) == (60.0, 600.0)


def test_a_sensor_pauses_until_the_reset_plus_a_margin() -> None:
    assert quota_pause(limited(3600.0), 60.0) == pytest.approx(3600.0 * 1.01 + 1.0)
    assert quota_pause(limited(100.0), 60.0) == pytest.approx(102.0)
    assert quota_pause(limited(30.0), 60.0) is None
    assert quota_pause(ValueError("no"), 60.0) is None


def test_quota_exhausted_carries_the_error_the_checkpoint_and_what_is_left() -> None:
    error = limited(1800.0)
    exhausted = QuotaExhausted(error, {"next_batch": 4}, "600 of 1,000 contacts")
    assert str(exhausted) == str(error)
    assert (exhausted.error, exhausted.checkpoint, exhausted.work_left) == (
        error,
        {"next_batch": 4},
        "600 of 1,000 contacts",
    )
    assert exhausted.retry_after == 1800.0
    assert QuotaExhausted(limited(None), None, "all").retry_after == 0.0


# --------------------------------------------------------------------------- wait or fail


def test_a_job_waits_for_the_reset_when_it_stays_within_max_quota_wait() -> None:
    decision = decide_quota_wait(stop(3600.0), waited=0.0, wait_for_quota=True, max_quota_wait=86400.0)
    assert decision.defer
    assert decision.seconds == pytest.approx(3637.0)
    assert decision.message == (
        "Apollo's quota is used up; 3,200 of 5,000 contacts left. Waiting 60 min for the reset in the "
        "triggerer (no worker slot held), then resuming where the job stopped."
    )


def test_a_wait_ending_exactly_at_max_quota_wait_still_waits() -> None:
    seconds = 3600.0 * 1.01 + 1.0
    at_limit = decide_quota_wait(
        stop(3600.0), waited=100.0, wait_for_quota=True, max_quota_wait=100.0 + seconds
    )
    assert at_limit.defer
    past = decide_quota_wait(stop(3600.0), waited=100.5, wait_for_quota=True, max_quota_wait=100.0 + seconds)
    assert past.defer is False  # a bool, as declared, not merely falsy
    assert past.seconds == pytest.approx(seconds)


def test_past_max_quota_wait_the_job_fails_saying_how_long_and_what_is_left() -> None:
    decision = decide_quota_wait(stop(7200.0), waited=3637.0, wait_for_quota=True, max_quota_wait=7200.0)
    assert not decision.defer
    assert decision.message == (
        "Apollo POST /contacts answered 429. Waiting 2.0 h more for Apollo's quota would pass max_quota_wait "
        "(2.0 h; 61 min waited so far); 3,200 of 5,000 contacts left."
    )


def test_without_wait_for_quota_the_job_fails_at_once() -> None:
    decision = decide_quota_wait(stop(45.0), waited=0.0, wait_for_quota=False, max_quota_wait=86400.0)
    assert decision.defer is False
    assert decision.seconds == pytest.approx(45.0 * 1.01 + 1.0)
    assert decision.message == (
        "Apollo POST /contacts answered 429. Apollo's quota resets in 45.0 s; 3,200 of 5,000 contacts left. "
        "wait_for_quota=False, so the task fails instead of waiting (a retry resumes from the saved "
        "checkpoint where Airflow has a task state store, 3.3 and later; before 3.3 it starts from the top)."
    )


@pytest.mark.parametrize(
    ("retry_after", "words"),
    [
        (89.9, "89.9 s"),
        (90.0, "2 min"),
        (5399.0, "90 min"),
        (5400.0, "1.5 h"),
        (36180.0, "10.1 h"),
        (86400.0, "24.0 h"),
    ],
)
def test_durations_are_given_in_readable_units(retry_after: float, words: str) -> None:
    decision = decide_quota_wait(stop(retry_after), waited=0.0, wait_for_quota=False, max_quota_wait=1.0)
    assert f"resets in {words};" in decision.message


# --------------------------------------------------------------------------- plan and estimate


def usage(**windows: tuple[int | None, int | None]) -> dict[str, WindowUsage]:
    return {
        name: WindowUsage(limit, None if limit is None or left is None else limit - left, left)
        for name, (limit, left) in windows.items()
    }


def test_the_binding_window_is_the_hourly_or_daily_one_with_fewest_calls_left() -> None:
    assert binding_window(usage(minute=(50, 1), hour=(400, 12), day=(2000, 900))) == ("hour", 12, 400)
    assert binding_window(usage(hour=(400, 300), day=(2000, 40))) == ("day", 40, 2000)
    assert binding_window(usage(hour=(400, 40), day=(2000, 40))) == ("hour", 40, 400)
    assert binding_window(usage(minute=(50, 0))) is None
    assert binding_window(usage(hour=(None, 5), day=(2000, None))) is None
    assert binding_window(None) is None
    assert binding_window({}) is None


def test_the_estimate_counts_whole_windows_past_the_calls_left() -> None:
    assert estimate_seconds(12, usage(hour=(400, 12))) == 0.0
    assert estimate_seconds(13, usage(hour=(400, 12))) == 3600.0
    assert estimate_seconds(412, usage(hour=(400, 12))) == 3600.0
    assert estimate_seconds(413, usage(hour=(400, 12))) == 7200.0
    assert estimate_seconds(3000, usage(day=(1000, 0))) == 3 * 86400.0
    assert estimate_seconds(5, usage(hour=(0, 0))) == 5 * 3600.0
    assert estimate_seconds(10**6, None) == 0.0


def test_the_plan_says_calls_quota_left_and_time_needed() -> None:
    assert describe_plan("3,000 contacts", 3000, "/contacts/search", usage(hour=(400, 12))) == (
        "3,000 contacts: 3,000 calls to /contacts/search; 12 left in this hour's quota (400 an hour): "
        "about 8.0 hours, waiting for quota resets in the triggerer"
    )
    assert describe_plan("5 contacts", 1, "/contacts", usage(day=(2000, 1500))) == (
        "5 contacts: 1 call to /contacts; 1,500 left in this day's quota (2,000 a day): fits in the quota left"
    )
    assert describe_plan("5 contacts", 12, "/contacts", usage(hour=(400, 12))).endswith(
        ": fits in the quota left"
    )
    assert describe_plan("all", 2, "/contacts", None) == (
        "all: 2 calls to /contacts; no hourly or daily quota reported"
    )


def test_a_plan_over_many_days_counts_hours_exactly() -> None:
    # A day's quota used up: WindowUsage(limit=1000, used=1000, left=0).
    assert describe_plan("all", 8000, "/contacts", usage(day=(1000, 0))).endswith(
        ": about 192.0 hours, waiting for quota resets in the triggerer"
    )


# --------------------------------------------------------------------------- batch cursor


def test_a_batch_cursor_round_trips_through_json() -> None:
    cursor = BatchCursor(next_batch=7, skipped_deleted_ids=["a", "b"], saved_chunks=2)
    assert cursor.to_json() == {"next_batch": 7, "skipped_deleted_ids": ["a", "b"], "saved_chunks": 2}
    assert BatchCursor.from_json(cursor.to_json()) == cursor
    assert BatchCursor.from_json({"next_batch": "3"}) == BatchCursor(3, [], 0)
    assert BatchCursor().to_json() == {"next_batch": 0, "skipped_deleted_ids": [], "saved_chunks": 0}


def test_a_batch_cursor_starts_at_the_first_batch_and_refuses_a_non_dict() -> None:
    assert BatchCursor.from_json(None) == BatchCursor()
    with pytest.raises(ApolloArgumentError, match=r"a batch checkpoint must be a dict, got \[1\]\."):
        BatchCursor.from_json([1])


def test_the_json_form_does_not_share_the_cursors_list() -> None:
    cursor = BatchCursor(skipped_deleted_ids=["a"])
    cursor.to_json()["skipped_deleted_ids"].append("b")
    assert cursor.skipped_deleted_ids == ["a"]
    source = {"skipped_deleted_ids": ["x"]}
    BatchCursor.from_json(source).skipped_deleted_ids.append("y")  # type: ignore[union-attr]
    assert source == {"skipped_deleted_ids": ["x"]}


def test_an_empty_batch_cursor_starts_at_zero() -> None:
    assert BatchCursor.from_json({}) == BatchCursor(0, [], 0)
