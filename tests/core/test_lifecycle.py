"""The request lifecycle: pace, send, classify what happened, map the error, decide the retry.

Driven by hand with a scripted limiter and clock, so every pacing wait, retry and count is exact;
and a request that got no answer is told apart by whether it may have been applied.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
from collections.abc import Generator
from itertools import islice
from typing import Any

import pytest
import requests
from core_support import KEY, SEARCH, dns_failure

from airflow_provider_apollo.core.config import ApolloConfig
from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lifecycle import (
    MAX_CONCURRENT_REQUESTS,
    Answered,
    Concurrently,
    Emit,
    NoAnswer,
    Send,
    Sleep,
    _chain,
    adrive,
    aiter_steps,
    arun_steps,
    drive,
    iter_steps,
    no_answer,
    request_lifecycle,
    run_steps,
)
from airflow_provider_apollo.core.ratelimit import RateLimiter
from airflow_provider_apollo.core.responses import ApiResponse
from airflow_provider_apollo.core.retries import RetryPolicy
from airflow_provider_apollo.core.stats import RequestStats
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloServerError,
    ApolloValidationError,
)

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


# --------------------------------------------------------------------------- pacing, sending, retrying


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


def test_the_request_lifecycle_stops_after_the_retry_budget() -> None:
    calls = []

    def always_500(request: ApiRequest) -> Answered:
        calls.append(1)
        return Answered(ApiResponse(500, {}, b'{"error": "boom"}'))

    fast = RetryPolicy(max_retries=2, backoff_initial=0.001)
    lifecycle = request_lifecycle(
        SEARCH, config=ApolloConfig(api_key="k"), policy=fast, limiter=RateLimiter(), stats=RequestStats()
    )
    with pytest.raises(ApolloServerError):
        drive(lifecycle, always_500)
    assert len(calls) == 3


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


# --------------------------------------------------------------------------- the drivers


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


# --------------------------------------------------- no answer: what happened, and whether it may have landed


@pytest.mark.parametrize(
    "error, reason, maybe_applied",
    [
        (socket.gaierror(-2, "Name or service not known"), "host not found", False),
        (ConnectionRefusedError(111, "refused"), "connection refused", False),
        (TimeoutError("read timed out"), "timed out", True),
        (ConnectionResetError(104, "reset by peer"), "connection dropped", True),
    ],
)
def test_no_answer_names_what_happened_and_whether_it_may_have_landed(
    error: BaseException, reason: str, maybe_applied: bool
) -> None:
    outcome = no_answer(error)
    assert (outcome.reason, outcome.maybe_applied) == (reason, maybe_applied)
    assert outcome.detail == f"{type(error).__name__} ({error})"


class _ConnectPhase(Exception):
    pass


class _Wrapper(Exception):
    def __init__(self, message: str, *, reason: BaseException | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def test_no_answer_looks_through_causes_contexts_reasons_and_arguments() -> None:
    # A transport's own connect-phase type, found through each link an HTTP library uses.
    assert no_answer(_ConnectPhase(), (_ConnectPhase,)).reason == "could not connect"
    assert no_answer(_ConnectPhase(), (_ConnectPhase,)).maybe_applied is False
    assert no_answer(_ConnectPhase(), ()).maybe_applied is True
    through_reason = _Wrapper("max retries", reason=socket.gaierror(-2, "unknown host"))
    assert no_answer(through_reason).reason == "host not found"
    through_argument = _Wrapper("wrapped", reason=None)
    through_argument.args = ("wrapped", ConnectionRefusedError(111, "refused"))
    assert no_answer(through_argument).maybe_applied is False
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as inner:
            raise _Wrapper("outer") from inner
    except _Wrapper as outer:
        assert no_answer(outer).reason == "connection refused"
    os_error = _Wrapper("aiohttp style")
    os_error.os_error = socket.gaierror(-3, "temporary failure")  # type: ignore[attr-defined]
    assert no_answer(os_error).reason == "host not found"
    # An exception without a message is described by its type.
    assert no_answer(_Wrapper("")).detail == "_Wrapper (_Wrapper)"


def test_an_exception_reachable_twice_does_not_hide_the_rest_of_the_chain() -> None:
    """urllib3 style: the same error as ``reason`` and as ``__context__``, the refusal as the cause."""
    shared = OSError("shared")
    wrapper = ConnectionError("Max retries exceeded")
    wrapper.reason = shared  # type: ignore[attr-defined]
    wrapper.__context__ = shared
    wrapper.__cause__ = ConnectionRefusedError(111, "Connection refused")
    outcome = no_answer(wrapper)
    assert (outcome.reason, outcome.maybe_applied) == ("connection refused", False)


def test_a_cyclic_exception_graph_is_walked_once_per_exception() -> None:
    """Two errors that name each other as cause: the walk ends, each error seen once."""
    first = OSError("first")
    second = ConnectionResetError("second")
    first.__cause__ = second
    second.__cause__ = first
    assert [type(error) for error in islice(_chain(first), 10)] == [OSError, ConnectionResetError]
    assert no_answer(first).reason == "connection dropped"


def test_a_timeout_is_recognised_by_its_type_name() -> None:
    class ReadTimeout(Exception):
        pass

    assert no_answer(ReadTimeout("slow")).reason == "timed out"
    assert no_answer(ValueError("other")).reason == "connection dropped"


def test_a_dns_failure_counts_as_never_sent_in_both_transports() -> None:
    import aiohttp

    from airflow_provider_apollo.hooks.apollo import _never_sent_types

    assert no_answer(dns_failure(), _never_sent_types()).maybe_applied is False
    assert no_answer(dns_failure(), _never_sent_types()).reason == "host not found"
    key = aiohttp.client_reqrep.ConnectionKey("apollo.test", 443, True, True, None, None, None)
    async_dns = aiohttp.ClientConnectorDNSError(key, socket.gaierror(-2, "Name or service not known"))
    assert no_answer(async_dns, (aiohttp.ClientConnectorError,)).maybe_applied is False


def test_a_read_timeout_or_dropped_connection_may_have_been_applied() -> None:
    assert no_answer(requests.exceptions.ReadTimeout("read timed out")).maybe_applied is True
    dropped = requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
    assert no_answer(dropped).maybe_applied is True


# ------------------------------------------------------------------ the step driver: many requests


def req(n: int) -> ApiRequest:
    return ApiRequest("GET", f"/r/{n}")


def answer(request: ApiRequest) -> dict[str, Any]:
    number = int(request.path.rsplit("/", 1)[1])
    if number < 0:
        raise ApolloValidationError(f"bad {number}", status_code=422)
    return {"n": number}


async def aanswer(request: ApiRequest) -> dict[str, Any]:
    await asyncio.sleep(0)
    return answer(request)


def script() -> Generator[Any, Any, list[Any]]:
    """One request, an emitted value, a failed request handled, then three at once with one failure."""
    seen: list[Any] = [(yield req(1))]
    yield Emit("page one")
    try:
        yield req(-1)
    except ApolloValidationError as error:
        seen.append(f"handled {error.status_code}")
    together = yield Concurrently((req(2), req(-3), req(4)))
    seen.append([item if isinstance(item, dict) else type(item).__name__ for item in together])
    yield Emit("page two")
    return seen


EXPECTED = [{"n": 1}, "handled 422", [{"n": 2}, "ApolloValidationError", {"n": 4}]]


def test_run_steps_sends_requests_throws_errors_in_and_returns_the_result() -> None:
    assert run_steps(script(), answer) == EXPECTED


def test_iter_steps_hands_out_emitted_values_lazily_and_ends_with_the_result() -> None:
    driven = iter_steps(script(), answer)
    assert next(driven) == "page one"
    assert next(driven) == "page two"
    with pytest.raises(StopIteration) as done:
        next(driven)
    assert done.value.value == EXPECTED


def test_the_async_driver_gives_the_same_answers() -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        emitted = [value async for value in aiter_steps(script(), aanswer)]
        return emitted, await arun_steps(script(), aanswer)

    emitted, result = asyncio.run(main())
    assert emitted == ["page one", "page two"]
    assert result == EXPECTED


def test_an_unhandled_error_propagates_and_closes_the_generator() -> None:
    closed: list[bool] = []

    def steps() -> Generator[Any, Any, None]:
        try:
            yield req(-5)
        finally:
            closed.append(True)

    with pytest.raises(ApolloValidationError, match="bad -5"):
        run_steps(steps(), answer)
    assert closed == [True]


def test_concurrent_requests_really_run_at_once() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def call(request: ApiRequest) -> Any:
        barrier.wait()  # all three must be in flight together, or this times out
        return answer(request)

    def steps() -> Generator[Any, Any, list[Any]]:
        return (yield Concurrently((req(1), req(2), req(3))))

    assert run_steps(steps(), call) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_a_transport_failure_that_is_not_apollos_error_is_not_swallowed() -> None:
    def call(request: ApiRequest) -> Any:
        raise RuntimeError("bug in a transport")

    def steps() -> Generator[Any, Any, Any]:
        return (yield Concurrently((req(1),)))

    with pytest.raises(RuntimeError, match="bug in a transport"):
        run_steps(steps(), call)


def test_a_leaving_consumer_closes_the_generator() -> None:
    closed: list[bool] = []

    def steps() -> Generator[Any, Any, None]:
        try:
            while True:
                yield Emit((yield req(1)))
        finally:
            closed.append(True)

    driven = iter_steps(steps(), answer)
    assert next(driven) == {"n": 1}
    driven.close()
    assert closed == [True]


@pytest.mark.parametrize("count", [0, MAX_CONCURRENT_REQUESTS + 1])
def test_concurrently_takes_one_to_the_maximum_requests(count: int) -> None:
    with pytest.raises(ValueError, match=f"1 to {MAX_CONCURRENT_REQUESTS}"):
        Concurrently(tuple(req(i) for i in range(count)))


def test_anything_else_yielded_is_a_bug_named_in_the_error() -> None:
    def steps() -> Generator[Any, Any, None]:
        yield "GET /contacts"

    with pytest.raises(TypeError, match="ApiRequest, Concurrently or Emit"):
        run_steps(steps(), answer)
    with pytest.raises(TypeError, match="ApiRequest, Concurrently or Emit"):
        asyncio.run(arun_steps(steps(), aanswer))
