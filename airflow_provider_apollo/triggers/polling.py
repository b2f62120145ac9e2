"""ApolloPollingTrigger: what the sensors' triggers share; each supplies its check and event shape."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Generic, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apollo.core import (
    REQUIRE_ALL,
    CheckResult,
    Steps,
    arun_steps,
    check_require,
    quota_pause,
)
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.triggers.quota import sleep_until

ResultT = TypeVar("ResultT", bound=CheckResult)

__all__ = ["ApolloPollingTrigger"]


class ApolloPollingTrigger(BaseTrigger, Generic[ResultT]):
    """
    Run a sensor's check every ``poke_interval`` in the triggerer until the contacts get there.

    The polling is written once, here: the wait before the first check, the checks, an exhausted
    hourly or daily quota waited out within the sensor's timeout, the timeout itself, and one
    event. A trigger supplies its check and the shape of its events:

    - :meth:`check`: the core generator of one check (the sensor's own), from the trigger's arguments;
    - :meth:`check_arguments`: those arguments, as JSON values, for :meth:`serialize`;
    - :meth:`result_payload`: what a success or timeout event carries beside its status;
    - :attr:`lost_ids_key` and :meth:`lost_message`: how an error event names the contacts that
      can never get there;
    - :meth:`awaited`: what the contacts wait for, in the user's words.

    It fires one event: ``{"status": "success", **result_payload}``, ``{"status": "timeout",
    "message": ..., **result_payload}`` once ``end_time`` passes, or ``{"status": "error",
    "message": ..., lost_ids_key: [...]}`` when contacts can never get there, or
    ``{"status": "error", "message": ...}`` when a call fails after the retry policy gave up.

    :param contact_ids: the contacts watched.
    :param require: ``"all"`` or ``"any"``.
    :param apollo_conn_id: the Airflow connection id.
    :param poke_interval: seconds between checks.
    :param end_time: epoch seconds after which the trigger reports a timeout; ``None`` waits forever.
    :param first_check_at: epoch seconds of the first check (the sensor checked just before
        deferring, so it passes one interval later); ``None`` checks at once.
    """

    # The error event's key for the ids that can never get there.
    lost_ids_key: ClassVar[str]

    def __init__(
        self,
        contact_ids: list[str],
        *,
        require: str = REQUIRE_ALL,
        apollo_conn_id: str = "apollo_default",
        poke_interval: float = 60.0,
        end_time: float | None = None,
        first_check_at: float | None = None,
    ) -> None:
        super().__init__()
        self.contact_ids = list(contact_ids)
        self.require = check_require(require)
        self.apollo_conn_id = apollo_conn_id
        self.poke_interval = float(poke_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.first_check_at = None if first_check_at is None else float(first_check_at)

    # ------------------------------------------------------------------ what a trigger supplies

    def check(self, poll_round: int) -> Steps[ResultT]:
        """One check, as a core generator; ``poll_round`` counts the checks completed so far."""
        raise NotImplementedError

    def check_arguments(self) -> dict[str, Any]:
        """The trigger's own arguments besides the contacts and the polling ones: JSON values."""
        raise NotImplementedError

    def result_payload(self, result: ResultT) -> dict[str, Any]:
        """What a success or timeout event carries beside its status and message."""
        raise NotImplementedError

    def lost_message(self, result: ResultT) -> str:
        """Why the contacts in ``result.lost`` can never get there."""
        raise NotImplementedError

    def awaited(self) -> str:
        """What the contacts wait for, completing "contacts had not reached ...": ``"a target stage"``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the polling

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "contact_ids": list(self.contact_ids),
            **self.check_arguments(),
            "require": self.require,
            "apollo_conn_id": self.apollo_conn_id,
            "poke_interval": self.poke_interval,
            "end_time": self.end_time,
        }
        if self.first_check_at is not None:
            kwargs["first_check_at"] = self.first_check_at
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._wait()
        # Yielded after the hook's HTTP session is closed: the triggerer may drop the generator here.
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        try:
            async with ApolloAsyncHook(self.apollo_conn_id) as hook:
                if self.first_check_at is not None:
                    await sleep_until(self._not_past_the_end(self.first_check_at))
                poll_round = 0
                while True:
                    try:
                        result = await arun_steps(self.check(poll_round), hook.call)
                    except ApolloRateLimitError as error:
                        timed_out = await self._wait_for_quota_reset(error, hook)
                        if timed_out is not None:
                            return timed_out
                        continue
                    poll_round += 1
                    event = self._event_for(result)
                    if event is not None:
                        return event
                    # Check once more exactly at the deadline rather than sleeping past it.
                    await sleep_until(self._not_past_the_end(time.time() + self.poke_interval))
        except ApolloApiError as error:
            return {"status": "error", "message": str(error)}
        except Exception as error:  # the task, not the triggerer, should report what went wrong
            return {"status": "error", "message": f"{type(error).__name__}: {error}"}

    def _event_for(self, result: ResultT) -> dict[str, Any] | None:
        """The event a check's result calls for, or None to check again."""
        self.log.info(
            "Checked %d contacts for %s: %s; %d waiting, %d never can (%d calls)",
            len(self.contact_ids),
            self.awaited(),
            result.summary(),
            len(result.waiting),
            len(result.lost),
            result.calls,
        )
        if result.is_done(self.require):
            return {"status": "success", **self.result_payload(result)}
        if result.failed(self.require):
            return {"status": "error", "message": self.lost_message(result), self.lost_ids_key: result.lost}
        if self.end_time is not None and time.time() >= self.end_time:
            message = (
                f"{len(result.waiting)} of {len(self.contact_ids)} contacts had not reached "
                f"{self.awaited()} when the sensor's timeout passed."
            )
            return {"status": "timeout", "message": message, **self.result_payload(result)}
        return None

    async def _wait_for_quota_reset(
        self, error: ApolloRateLimitError, hook: ApolloAsyncHook
    ) -> dict[str, Any] | None:
        """
        An exhausted hourly or daily quota: sleep until it resets and return None (check again), or
        return a timeout event when it resets only after ``end_time``. ``error`` itself is raised
        when it is not an exhausted quota.
        """
        pause = quota_pause(error, (await hook.get_config()).max_retry_wait)
        if pause is None:
            raise error
        reset_at = time.time() + pause
        if self.end_time is not None and reset_at >= self.end_time:
            return {
                "status": "timeout",
                "message": f"Apollo's quota stays used up past the sensor's timeout: {error}",
            }
        self.log.warning("Apollo's quota is used up; checking again after its reset in %.0f s", pause)
        await sleep_until(reset_at)
        return None

    def _not_past_the_end(self, moment: float) -> float:
        return moment if self.end_time is None else min(moment, self.end_time)
