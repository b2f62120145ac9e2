"""Request statistics: requests by status (no answer is status 0), 429s, retries and waits by reason."""

from __future__ import annotations

from airflow_provider_apollo.core.stats import RequestStats


def test_stats_count_no_answers_as_status_0_and_render_every_field() -> None:
    stats = RequestStats()
    stats.record_response(200)
    stats.record_response(429)
    stats.record_response(429)
    stats.record_no_answer()
    stats.record_wait("retry", 0.12345)
    stats.record_wait("retry", 1.0)
    stats.record_wait("pacing", 2.00049)
    snapshot = stats.snapshot()
    assert snapshot.by_status == {200: 1, 429: 2, 0: 1}
    assert snapshot.as_dict() == {
        "requests": 4,
        "by_status": {"0": 1, "200": 1, "429": 2},
        "rate_limited": 2,
        "retries": 2,
        "retry_wait_seconds": 1.123,
        "pacing_wait_seconds": 2.0,
    }
    assert (stats.requests, stats.rate_limited) == (4, 2)
    assert repr(stats) == f"RequestStats({snapshot.as_dict()})"


def test_waits_are_added_up_by_reason_and_only_retries_count_as_retries() -> None:
    stats = RequestStats()
    stats.record_wait("pacing", 0.5)
    stats.record_wait("pacing", 0.25)
    stats.record_wait("retry", 1.5)
    snapshot = stats.snapshot()
    assert (snapshot.retries, snapshot.retry_wait_seconds, snapshot.pacing_wait_seconds) == (1, 1.5, 0.75)


def test_waits_of_a_new_reason_start_from_zero_and_pacing_is_rounded() -> None:
    stats = RequestStats()
    stats.record_wait("other", 0.5)
    stats.record_wait("pacing", 0.12345)
    assert stats.snapshot().as_dict()["pacing_wait_seconds"] == 0.123
    assert stats._waits["other"] == 0.5
