"""ApolloSequenceStatusTrigger: polls the shared sequence-status check asynchronously in the triggerer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apollo.core.sequence_check import (
    REQUIRE_ALL,
    check_reply_classes,
    check_target_statuses,
    sequence_check,
)
from airflow_provider_apollo.core.stage_check import validate_require
from airflow_provider_apollo.core.steps import arun_steps
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.triggers._waits import sleep_until_first_check, wait_for_quota_reset

__all__ = ["ApolloSequenceStatusTrigger"]


class ApolloSequenceStatusTrigger(BaseTrigger):
    """
    Poll Apollo until the contacts reach a target status in a sequence, without a worker slot.

    Each check is the sensor's own (:func:`~airflow_provider_apollo.core.sequence_check.sequence_check`),
    with the same requests and call counts.

    Fires one event: ``{"status": "success", "reached": {status: [ids]}, "reply_classes": {class: [ids]}}``,
    ``{"status": "timeout", "message": ..., "reached": {...}}`` once ``end_time`` passes, or
    ``{"status": "error", "message": ..., "lost_contact_ids": [...]}`` when contacts no longer exist
    or are not in the sequence, or a call fails after the retry policy gave up.

    :param contact_ids: the contacts watched.
    :param sequence_id: the sequence's id (the sensor resolves a name before deferring).
    :param target_statuses: the statuses waited for.
    :param reply_classes: the reply classes that count as ``replied``; ``None``: every class.
    :param require: ``"all"`` or ``"any"``.
    :param apollo_conn_id: the Airflow connection id.
    :param poke_interval: seconds between checks.
    :param end_time: epoch seconds after which the trigger reports a timeout; ``None`` waits forever.
    :param first_check_at: epoch seconds of the first check; ``None`` checks at once.
    """

    def __init__(
        self,
        contact_ids: list[str],
        sequence_id: str,
        target_statuses: list[str],
        reply_classes: list[str] | None = None,
        require: str = REQUIRE_ALL,
        apollo_conn_id: str = "apollo_default",
        poke_interval: float = 60.0,
        end_time: float | None = None,
        first_check_at: float | None = None,
    ) -> None:
        super().__init__()
        self.contact_ids = list(contact_ids)
        self.sequence_id = str(sequence_id)
        self.target_statuses = check_target_statuses(list(target_statuses))
        self.reply_classes = check_reply_classes(reply_classes)
        self.require = validate_require(require)
        self.apollo_conn_id = apollo_conn_id
        self.poke_interval = float(poke_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.first_check_at = None if first_check_at is None else float(first_check_at)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "contact_ids": list(self.contact_ids),
            "sequence_id": self.sequence_id,
            "target_statuses": list(self.target_statuses),
            "reply_classes": list(self.reply_classes),
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
        # Yielded after the hook's HTTP session is closed.
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        try:
            async with ApolloAsyncHook(self.apollo_conn_id) as hook:
                await sleep_until_first_check(self.first_check_at, self.end_time)
                while True:
                    check = sequence_check(
                        self.contact_ids, self.sequence_id, self.target_statuses, self.reply_classes
                    )
                    try:
                        result = await arun_steps(check, hook.call)
                    except ApolloRateLimitError as error:
                        # An exhausted hourly or daily quota: wait for its reset (within the timeout), then check again.
                        timed_out = await wait_for_quota_reset(error, hook, self.end_time, self.log)
                        if timed_out is not None:
                            return timed_out
                        continue
                    self.log.info(
                        "Checked %d contacts in sequence %s: %s; %d waiting (%d calls)",
                        len(self.contact_ids),
                        self.sequence_id,
                        result.summary(),
                        len(result.waiting),
                        result.calls,
                    )
                    if result.is_done(self.require):
                        return {
                            "status": "success",
                            "reached": result.reached,
                            "reply_classes": result.reply_classes,
                        }
                    if result.failed(self.require):
                        return {
                            "status": "error",
                            "message": result.lost_message(self.sequence_id),
                            "lost_contact_ids": [*result.missing, *result.not_enrolled],
                        }
                    now = time.time()
                    if self.end_time is not None and now >= self.end_time:
                        return {
                            "status": "timeout",
                            "message": (
                                f"{len(result.waiting)} of {len(self.contact_ids)} contacts had not reached "
                                f"{' or '.join(self.target_statuses)} when the sensor's timeout passed."
                            ),
                            "reached": result.reached,
                            "reply_classes": result.reply_classes,
                        }
                    pause = self.poke_interval
                    if self.end_time is not None:
                        pause = min(pause, max(0.0, self.end_time - now))
                    await asyncio.sleep(pause)
        except ApolloApiError as error:
            return {"status": "error", "message": str(error)}
        except Exception as error:  # the task, not the triggerer, should report what went wrong
            return {"status": "error", "message": f"{type(error).__name__}: {error}"}
