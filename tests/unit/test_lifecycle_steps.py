"""The request lifecycle step by step: what it yields, what it tells the limiter, the stats and the log.

Driven by hand with a scripted limiter and clock, so every pacing wait, retry and count is exact.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest

from airflow_provider_apollo.core.config import ApolloConfig
from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lifecycle import (
    Answered,
    NoAnswer,
    Send,
    Sleep,
    adrive,
    drive,
    request_lifecycle,
)
from airflow_provider_apollo.core.responses import ApiResponse
from airflow_provider_apollo.core.retries import RetryPolicy
from airflow_provider_apollo.core.stats import RequestStats
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloServerError,
)

SEARCH = ApiRequest("POST", "/contacts/search", json_body={}, endpoint="/contacts/search")
KEY = "k-0123456789"
LOGGER = "airflow_provider_apollo.core.lifecycle"


class ScriptedLimiter:
    """Answers ``acquire`` from a script and records every call the lifecycle makes."""

    def __init__(self, *grants: tuple[float, int | None]) -> None:
        self.grants = list(grants)
        self.calls: list[tuple[Any, ...]] = []

    def acquire(self, key: str, now: float) -> tuple[float, int | None]:
        self.calls.append(("acquire", key, now))
        return self.grants.pop(0) if self.grants else (0.0, 99)

    def observe(self, key: str, response: ApiResponse, sent_at: float, now: float, ticket: int) -> None:
        self.calls.append(("observe", key, response.status, sent_at, now, ticket))

    def release(self, key: str, ticket: int) -> None:
        self.calls.append(("release", key, ticket))


def lifecycle(limiter: ScriptedLimiter, stats: RequestStats, retries: int = 2) -> Any:
    clock = itertools.count(100.0, 1.0)  # each reading one second later
    return request_lifecycle(
        SEARCH,
        config=ApolloConfig(api_key=KEY),
        policy=RetryPolicy(max_retries=retries, max_retry_wait=10.0, backoff_initial=0.01, backoff_max=0.01),
        limiter=limiter,  # type: ignore[arg-type]
        stats=stats,
        clock=lambda: next(clock),
    )


def ok(body: bytes = b'{"contacts": []}') -> Answered:
    return Answered(ApiResponse(200, {}, body))


def finish(steps: Any, outcome: Any) -> Any:
    with pytest.raises(StopIteration) as done:
        steps.send(outcome)
    return done.value.value


def test_pacing_waits_are_yielded_counted_and_logged_by_length(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    limiter, stats = ScriptedLimiter((1.0, None), (0.25, None), (0.0, 7)), RequestStats()
    steps = lifecycle(limiter, stats)
    assert next(steps) == Sleep(1.0, "pacing")
    assert steps.send(None) == Sleep(0.25, "pacing")
    assert steps.send(None) == Send(SEARCH)
    assert finish(steps, ok()) == {"contacts": []}
    # The clock is read once a grant, once when sent and once when answered: 100, 101, 102, then 103 and 104.
    assert limiter.calls == [
        ("acquire", "POST /contacts/search", 100.0),
        ("acquire", "POST /contacts/search", 101.0),
        ("acquire", "POST /contacts/search", 102.0),
        ("observe", "POST /contacts/search", 200, 103.0, 104.0, 7),
    ]
    snapshot = stats.snapshot()
    assert (snapshot.by_status, snapshot.pacing_wait_seconds, snapshot.retries) == ({200: 1}, 1.25, 0)
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER] == [
        (logging.INFO, "Pacing Apollo POST /contacts/search: waiting 1.00 s for the rate-limit window"),
        (logging.DEBUG, "Pacing Apollo POST /contacts/search: waiting 0.25 s for the rate-limit window"),
    ]


def test_a_retry_is_yielded_counted_and_logged_and_the_budget_is_exact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    limiter, stats = ScriptedLimiter((0.0, 1), (0.0, 2), (0.0, 3)), RequestStats()
    steps = lifecycle(limiter, stats, retries=2)
    busy = Answered(ApiResponse(429, {"retry-after": "1"}, b'{"error": "busy"}'))
    assert next(steps) == Send(SEARCH)
    first_wait = steps.send(busy)
    assert first_wait == Sleep(1.05, "retry")
    assert steps.send(None) == Send(SEARCH)
    assert steps.send(busy) == Sleep(1.05, "retry")
    assert steps.send(None) == Send(SEARCH)
    with pytest.raises(ApolloRateLimitError) as caught:
        steps.send(busy)  # the third answer uses up a budget of two retries
    assert str(caught.value) == "Apollo POST /contacts/search answered 429: busy"
    snapshot = stats.snapshot()
    assert (snapshot.by_status, snapshot.retries, snapshot.retry_wait_seconds) == ({429: 3}, 2, 2.1)
    assert [ticket for (kind, *rest, ticket) in limiter.calls if kind == "observe"] == [1, 2, 3]
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER] == [
        (logging.WARNING, f"Apollo POST /contacts/search failed ({caught.value}); retry {n} in {1.05:.1f} s")
        for n in (1, 2)
    ]


def test_no_retries_at_all_raises_the_first_error() -> None:
    steps = lifecycle(ScriptedLimiter(), RequestStats(), retries=0)
    assert next(steps) == Send(SEARCH)
    with pytest.raises(ApolloServerError):
        steps.send(Answered(ApiResponse(500, {}, b"{}")))


def test_no_answer_releases_the_ticket_and_names_what_the_transport_saw() -> None:
    limiter, stats = ScriptedLimiter((0.0, 5)), RequestStats()
    steps = lifecycle(limiter, stats, retries=0)
    next(steps)
    with pytest.raises(ApolloConnectionError) as caught:
        steps.send(
            NoAnswer(f"ReadTimeout (read timed out for key {KEY})", maybe_applied=True, reason="timed out")
        )
    assert (
        str(caught.value) == "Apollo POST /contacts/search failed: ReadTimeout (read timed out for key ***)"
    )
    assert (caught.value.maybe_applied, caught.value.reason) == (True, "timed out")
    assert limiter.calls[-1] == ("release", "POST /contacts/search", 5)
    assert stats.snapshot().by_status == {0: 1}


@pytest.mark.parametrize("status", [300, 301])
def test_a_3xx_answer_is_an_error_not_a_result(status: int) -> None:
    steps = lifecycle(ScriptedLimiter(), RequestStats())
    next(steps)
    with pytest.raises(ApolloApiError) as caught:
        steps.send(Answered(ApiResponse(status, {}, b'{"contacts": []}')))
    assert caught.value.status_code == status


def test_a_transport_answering_something_else_is_a_type_error_naming_it() -> None:
    steps = lifecycle(ScriptedLimiter(), RequestStats())
    next(steps)
    with pytest.raises(TypeError) as caught:
        steps.send("200 OK")
    assert str(caught.value) == "a transport must answer Send with Answered or NoAnswer, got '200 OK'"


def scripted_lifecycle(seen: list[Any]) -> Any:
    seen.append((yield Sleep(0.0, "pacing")))
    seen.append((yield Send(SEARCH)))
    return "done"


def test_drive_sleeps_then_sends_and_returns_the_result() -> None:
    seen: list[Any] = []
    assert drive(scripted_lifecycle(seen), lambda request: ok()) == "done"
    assert seen == [None, ok()]


def test_adrive_sleeps_then_sends_and_returns_the_result() -> None:
    seen: list[Any] = []

    async def transmit(request: ApiRequest) -> Answered:
        return ok()

    assert asyncio.run(adrive(scripted_lifecycle(seen), transmit)) == "done"
    assert seen == [None, ok()]
