"""Work that takes many requests: a core generator yields what to send, a driver sends it.

Every operation that needs more than one request (an enrollment, batched stage updates, an
export's paging, an upsert's bisection, a sensor's check, a name look-up) is written once, in the
core, as a generator. It decides; it never touches the network. It yields:

- an :class:`~airflow_provider_apollo.core.endpoints.ApiRequest`: the driver sends it through the
  hook's ``call`` (the request lifecycle: pacing, retries, error mapping) and sends the JSON body
  back into the generator, or throws the ``ApolloApiError`` in, so the generator can handle it
  (a 403 reworded, a 422 batch sent again without its deleted contacts) or let it propagate;
- :class:`Concurrently`: several requests the generator wants in flight at once (an export's
  pages); it receives a list, in the same order, of bodies or ``ApolloApiError`` instances
  (not thrown: the generator decides what a failure among them means);
- :class:`Emit`: a value for the caller (a page of contacts to write); the generator receives
  ``None`` and goes on.

Its return value is the operation's result. One driver per transport runs every generator:
:func:`iter_steps` (blocking; a lazy iterator of emitted values) with :func:`run_steps` for the
return value, and :func:`aiter_steps` / :func:`arun_steps` for an event loop. The hooks hold only
the transport (``call``) and thin methods that pick a generator and drive it::

    result = run_steps(enroll(...), hook.call)
    result = await arun_steps(enroll(...), async_hook.call)
    for contacts in iter_steps(export.steps(), hook.call): ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.exceptions import ApolloApiError

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
