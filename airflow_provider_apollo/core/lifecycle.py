"""How a request, and work of many requests, goes from a decision to the wire.

**One request.** One generator decides everything about a request; a transport only moves bytes.
:func:`request_lifecycle` yields :class:`Sleep` ("wait this long") and :class:`Send` ("send this
request now"); after a ``Send`` the transport sends back what happened: :class:`Answered` with the
response, or :class:`NoAnswer` built by :func:`no_answer` from the exception it caught. The
generator returns the JSON body or raises the ``ApolloApiError`` the caller should see.
:func:`drive` and :func:`adrive` run it with a blocking and an async transport (a hook's ``call``)::

    body = drive(request_lifecycle(request, ...), transmit=send_with_requests)
    body = await adrive(request_lifecycle(request, ...), transmit=send_with_aiohttp)

**Many requests.** Every operation that needs more than one request (an enrollment, batched stage
updates, an export's paging, an upsert's bisection, a sensor's check, a name look-up) is written
once in the core as a step generator. It decides and never touches the network. It yields:

- an :class:`~airflow_provider_apollo.core.endpoints.ApiRequest`: the driver sends it through the
  hook's ``call`` and sends the JSON body back in, or throws the ``ApolloApiError`` in, so the
  generator can handle it (a 403 reworded, a batch sent again without its deleted contacts) or
  let it propagate;
- :class:`Concurrently`: requests wanted in flight at once (an export's pages); it receives a list,
  in the same order, of bodies or ``ApolloApiError`` instances (not thrown: the generator decides);
- :class:`Emit`: a value for the caller (a page of contacts to write); it receives ``None``.

Its return value is the operation's result. One driver per transport runs every step generator:
:func:`iter_steps` (blocking; a lazy iterator of what is emitted) and :func:`run_steps` (its return
value), :func:`aiter_steps` and :func:`arun_steps` for an event loop::

    result = run_steps(operations.add_to_sequence(...), hook.call)
    result = await arun_steps(operations.add_to_sequence(...), async_hook.call)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow_provider_apollo.core.config import ApolloConfig
from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.ratelimit import RateLimiter
from airflow_provider_apollo.core.responses import ApiResponse, error_for, parse_json_body
from airflow_provider_apollo.core.retries import RetryPolicy
from airflow_provider_apollo.core.stats import RequestStats
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloConnectionError

log = logging.getLogger(__name__)

# Pacing waits shorter than this are polls while another request learns a reset: not worth a log line.
PACING_LOG_THRESHOLD = 1.0


@dataclass(frozen=True)
class Send:
    """Send ``request`` now and hand back :class:`Answered` or :class:`NoAnswer`."""

    request: ApiRequest


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before going on; ``reason`` is ``"pacing"`` or ``"retry"``."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Answered:
    """Apollo answered (any status)."""

    response: ApiResponse


@dataclass(frozen=True)
class NoAnswer:
    """
    No response arrived.

    :param detail: what the transport saw (exception type and message), for the error message.
    :param maybe_applied: ``False`` only when the connection was never made, so Apollo cannot
        have applied the request; a retry of a create without dedupe is safe only then.
    """

    detail: str
    maybe_applied: bool
    reason: str = "connection dropped"


Outcome = Answered | NoAnswer
Lifecycle = Generator[Send | Sleep, "Outcome | None", Any]

# Failures of the connect phase in the standard library: the request never left the machine.
_NEVER_SENT_STDLIB: tuple[type[BaseException], ...] = (socket.gaierror, ConnectionRefusedError)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception it wraps (cause, context, args, urllib3's reason, aiohttp's os_error)."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.append(getattr(current, "os_error", None))
        linked.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        pending.extend(item for item in linked if isinstance(item, BaseException))


def no_answer(error: BaseException, never_sent_types: tuple[type[BaseException], ...] = ()) -> NoAnswer:
    """
    Classify a transport failure from exception types: never sent, or sent with no answer.

    The connection was never made when the failure, or anything it wraps, is a DNS failure, a
    refused connection, or one of the transport's own connect-phase types (``never_sent_types``:
    urllib3's ``NewConnectionError`` and ``ConnectTimeoutError``, aiohttp's
    ``ClientConnectorError`` ...). Everything else (a read timeout, a dropped connection, a reset)
    may have reached Apollo.
    """
    chain = list(_chain(error))
    connect_phase = _NEVER_SENT_STDLIB + tuple(never_sent_types)
    never_sent = any(isinstance(item, connect_phase) for item in chain)
    if any(isinstance(item, socket.gaierror) for item in chain):
        reason = "host not found"
    elif any(isinstance(item, ConnectionRefusedError) for item in chain):
        reason = "connection refused"
    elif any(isinstance(item, TimeoutError) or "Timeout" in type(item).__name__ for item in chain):
        reason = "timed out"
    elif never_sent:
        reason = "could not connect"
    else:
        reason = "connection dropped"
    message = str(error) or type(error).__name__
    return NoAnswer(f"{type(error).__name__} ({message})", maybe_applied=not never_sent, reason=reason)


def request_lifecycle(
    request: ApiRequest,
    *,
    config: ApolloConfig,
    policy: RetryPolicy,
    limiter: RateLimiter,
    stats: RequestStats,
    clock: Callable[[], float] = time.monotonic,
) -> Lifecycle:
    """
    Everything that happens to one request until it has a JSON answer or an error.

    1. Pace: ask the rate limiter; sleep while the endpoint's window is used up.
    2. Send, and receive what happened.
    3. Classify: a 2xx with a JSON body is the result; a non-2xx maps to its error type
       (:func:`~airflow_provider_apollo.core.responses.error_for`); no answer maps to
       ``ApolloConnectionError`` with ``maybe_applied``; a 2xx that is not JSON is a fault too.
    4. Retry or raise, as the :class:`~airflow_provider_apollo.core.retries.RetryPolicy` says.
    """
    attempt = 0
    while True:
        while True:
            wait, ticket = limiter.acquire(request.rate_key, clock())
            if ticket is not None:
                break
            stats.record_wait("pacing", wait)
            level = logging.INFO if wait >= PACING_LOG_THRESHOLD else logging.DEBUG
            log.log(
                level, "Pacing Apollo %s: waiting %.2f s for the rate-limit window", request.describe(), wait
            )
            yield Sleep(wait, "pacing")
        sent_at = clock()
        outcome = yield Send(request)
        error: ApolloApiError
        if isinstance(outcome, Answered):
            response = outcome.response
            stats.record_response(response.status)
            limiter.observe(request.rate_key, response, sent_at, clock(), ticket)
            if 200 <= response.status < 300:
                try:
                    return parse_json_body(request, response)
                except ApolloConnectionError as not_json:
                    error = not_json
            else:
                error = error_for(request, response, config)
        elif isinstance(outcome, NoAnswer):
            limiter.release(request.rate_key, ticket)
            stats.record_no_answer()
            error = ApolloConnectionError(
                config.redact(f"Apollo {request.describe()} failed: {outcome.detail}"),
                maybe_applied=outcome.maybe_applied,
                reason=outcome.reason,
            )
        else:
            raise TypeError(f"a transport must answer Send with Answered or NoAnswer, got {outcome!r}")
        attempt += 1
        if attempt > policy.max_retries or not policy.should_retry(error, idempotent=request.idempotent):
            raise error
        wait = policy.wait_seconds(error, attempt)
        stats.record_wait("retry", wait)
        log.warning("Apollo %s failed (%s); retry %d in %.1f s", request.describe(), error, attempt, wait)
        yield Sleep(wait, "retry")


def drive(lifecycle: Lifecycle, transmit: Callable[[ApiRequest], Outcome]) -> Any:
    """Run a lifecycle with a blocking transport; returns the JSON body or raises its error."""
    try:
        step = next(lifecycle)
        while True:
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                step = lifecycle.send(None)
            else:
                step = lifecycle.send(transmit(step.request))
    except StopIteration as done:
        return done.value


async def adrive(lifecycle: Lifecycle, transmit: Callable[[ApiRequest], Awaitable[Outcome]]) -> Any:
    """Run a lifecycle with an async transport; returns the JSON body or raises its error."""
    try:
        step = next(lifecycle)
        while True:
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                step = lifecycle.send(None)
            else:
                step = lifecycle.send(await transmit(step.request))
    except StopIteration as done:
        return done.value


# ------------------------------------------------------------------ multi-request work: the step driver

T = TypeVar("T")

# The most requests a generator may ask for at once; the sync hook's connection pool holds as many.
MAX_CONCURRENT_REQUESTS = 8


@dataclass(frozen=True)
class Concurrently:
    """Send these requests at once; the answers come back as a list in this order (body or error)."""

    requests: tuple[ApiRequest, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.requests) <= MAX_CONCURRENT_REQUESTS:
            raise ValueError(
                f"Concurrently takes 1 to {MAX_CONCURRENT_REQUESTS} requests, got {len(self.requests)}"
            )


@dataclass(frozen=True)
class Emit:
    """A value for whoever drives the generator (a page to write); the generator receives ``None``."""

    value: Any


Step = ApiRequest | Concurrently | Emit
Steps = Generator[Step, Any, T]


class _Done(Exception):
    """Carries a generator's return value out of :func:`iter_steps` to :func:`run_steps`."""


def iter_steps(steps: Steps[Any], call: Callable[[ApiRequest], Any]) -> Iterator[Any]:
    """
    Drive ``steps`` with a blocking transport (``ApolloHook.call``), lazily: yields what it emits.

    The generator's return value is the ``StopIteration`` value of this iterator (read it with
    :func:`run_steps`). Requests asked for :class:`Concurrently` go out on a thread pool made on
    first use and shut down when the generator ends.
    """
    pool: ThreadPoolExecutor | None = None
    try:
        reply: Any = None
        throw: ApolloApiError | None = None
        while True:
            try:
                step = steps.throw(throw) if throw is not None else steps.send(reply)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            reply, throw = None, None
            if isinstance(step, Emit):
                yield step.value
            elif isinstance(step, Concurrently):
                if pool is None:
                    pool = ThreadPoolExecutor(MAX_CONCURRENT_REQUESTS, thread_name_prefix="apollo-steps")
                futures = [pool.submit(_answer, call, request) for request in step.requests]
                reply = [future.result() for future in futures]
            elif isinstance(step, ApiRequest):
                try:
                    reply = call(step)
                except ApolloApiError as error:
                    throw = error
            else:
                raise TypeError(f"a step generator yields ApiRequest, Concurrently or Emit, got {step!r}")
    finally:
        steps.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def run_steps(steps: Steps[T], call: Callable[[ApiRequest], Any]) -> T:
    """Drive ``steps`` with a blocking transport to the end; its return value (emitted values are dropped)."""
    driven = iter_steps(steps, call)
    while True:
        try:
            next(driven)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def aiter_steps(
    steps: Steps[Any], call: Callable[[ApiRequest], Awaitable[Any]], result: list[Any] | None = None
) -> AsyncIterator[Any]:
    """
    Drive ``steps`` with an async transport (``ApolloAsyncHook.call``); yields what it emits.

    An async generator cannot return a value: pass ``result=[]`` and the generator's return value
    is appended to it (:func:`arun_steps` does). :class:`Concurrently` requests are gathered.
    """
    try:
        reply: Any = None
        throw: ApolloApiError | None = None
        while True:
            try:
                step = steps.throw(throw) if throw is not None else steps.send(reply)
            except StopIteration as done:
                if result is not None:
                    result.append(done.value)
                return
            reply, throw = None, None
            if isinstance(step, Emit):
                yield step.value
            elif isinstance(step, Concurrently):
                reply = list(await asyncio.gather(*(_aanswer(call, request) for request in step.requests)))
            elif isinstance(step, ApiRequest):
                try:
                    reply = await call(step)
                except ApolloApiError as error:
                    throw = error
            else:
                raise TypeError(f"a step generator yields ApiRequest, Concurrently or Emit, got {step!r}")
    finally:
        steps.close()


async def arun_steps(steps: Steps[T], call: Callable[[ApiRequest], Awaitable[Any]]) -> T:
    """Drive ``steps`` with an async transport to the end; its return value."""
    result: list[Any] = []
    async for _ in aiter_steps(steps, call, result):
        pass
    return result[0]  # type: ignore[no-any-return]


def _answer(call: Callable[[ApiRequest], Any], request: ApiRequest) -> Any:
    try:
        return call(request)
    except ApolloApiError as error:
        return error


async def _aanswer(call: Callable[[ApiRequest], Awaitable[Any]], request: ApiRequest) -> Any:
    try:
        return await call(request)
    except ApolloApiError as error:
        return error
