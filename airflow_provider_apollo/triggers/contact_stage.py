"""ApolloContactStageTrigger: polls the shared contact-stage check asynchronously in the triggerer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apollo.core.stage_check import (
    REQUIRE_ALL,
    stage_check,
    validate_require,
)
from airflow_provider_apollo.core.steps import arun_steps
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.triggers._waits import sleep_until_first_check, wait_for_quota_reset

__all__ = ["ApolloContactStageTrigger"]


class ApolloContactStageTrigger(BaseTrigger):
    """
    Poll Apollo until the contacts reach a target stage, without holding a worker slot.

    Fires one event: ``{"status": "success", "contact_ids": [...]}`` (the ids in a target stage),
    ``{"status": "timeout", "message": ..., "contact_ids": [...]}`` once ``end_time`` passes, or
    ``{"status": "error", "message": ..., "missing_contact_ids": [...]}`` when contacts no longer
    exist or a call fails after the retry policy gave up.

    :param contact_ids: the contacts watched.
    :param stage_ids: target stage ids (the sensor resolves names before deferring).
    :param require: ``"all"`` or ``"any"``.
    :param apollo_conn_id: the Airflow connection id.
    :param poke_interval: seconds between checks.
    :param end_time: epoch seconds after which the trigger reports a timeout; ``None`` waits forever.
    :param first_check_at: epoch seconds of the first check (the sensor checked just before
        deferring, so it passes one interval later); ``None`` checks at once.
    """

    def __init__(
        self,
        contact_ids: list[str],
        stage_ids: list[str],
        require: str = REQUIRE_ALL,
        apollo_conn_id: str = "apollo_default",
        poke_interval: float = 60.0,
        end_time: float | None = None,
        first_check_at: float | None = None,
    ) -> None:
        super().__init__()
        self.contact_ids = list(contact_ids)
        self.stage_ids = list(stage_ids)
        self.require = validate_require(require)
        self.apollo_conn_id = apollo_conn_id
        self.poke_interval = float(poke_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.first_check_at = None if first_check_at is None else float(first_check_at)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "contact_ids": list(self.contact_ids),
            "stage_ids": list(self.stage_ids),
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
                await sleep_until_first_check(self.first_check_at, self.end_time)
                round_number = 0
                while True:
                    check = stage_check(
                        self.contact_ids, self.stage_ids, require=self.require, probe_round=round_number
                    )
                    try:
                        result = await arun_steps(check, hook.call)
                    except ApolloRateLimitError as error:
                        # An exhausted hourly or daily quota: wait for its reset (within the timeout), then check again.
                        timed_out = await wait_for_quota_reset(error, hook, self.end_time, self.log)
                        if timed_out is not None:
                            return timed_out
                        continue
                    round_number += 1
                    self.log.info(
                        "Checked %d contacts: %d in a target stage, %d waiting, %d missing (%d calls)",
                        len(self.contact_ids),
                        len(result.done),
                        len(result.waiting),
                        len(result.missing),
                        result.calls,
                    )
                    if result.is_done(self.require):
                        return {"status": "success", "contact_ids": result.done}
                    if result.failed(self.require):
                        return {
                            "status": "error",
                            "message": result.missing_message(),
                            "missing_contact_ids": result.missing,
                        }
                    now = time.time()
                    if self.end_time is not None and now >= self.end_time:
                        return {
                            "status": "timeout",
                            "message": (
                                f"{len(result.waiting)} of {len(self.contact_ids)} contacts had not "
                                "reached a target stage when the sensor's timeout passed."
                            ),
                            "contact_ids": result.done,
                        }
                    pause = self.poke_interval
                    if self.end_time is not None:
                        # Check once more exactly at the deadline rather than sleeping past it.
                        pause = min(pause, max(0.0, self.end_time - now))
                    await asyncio.sleep(pause)
        except ApolloApiError as error:
            return {"status": "error", "message": str(error)}
        except Exception as error:  # the task, not the triggerer, should report what went wrong
            return {"status": "error", "message": f"{type(error).__name__}: {error}"}
