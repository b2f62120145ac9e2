"""ApolloQuotaResetTrigger: wait in the triggerer until an exhausted Apollo quota resets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = ["ApolloQuotaResetTrigger", "sleep_until"]

# Sleep in slices so a triggerer shutting down is never held for hours by one sleep.
MAX_SLEEP_SLICE = 60.0


async def sleep_until(moment: float) -> None:
    """Sleep until ``moment`` (epoch seconds), in slices of at most :data:`MAX_SLEEP_SLICE`."""
    while (left := moment - time.time()) > 0:
        await asyncio.sleep(min(left, MAX_SLEEP_SLICE))


class ApolloQuotaResetTrigger(BaseTrigger):
    """
    Fire once ``reset_at`` has passed, handing the job's checkpoint back to the task.

    The checkpoint travels in the event (not only in the deferral's kwargs) so the task resumes
    from it however the event reaches it. Fires ``{"status": "reset", "checkpoint": ...,
    "quota_waited": ...}``.

    :param reset_at: epoch seconds when the quota resets (plus the margin the operator added).
    :param checkpoint: the job's JSON cursor.
    :param quota_waited: seconds waited for quotas so far in this task, this wait included.
    """

    def __init__(self, reset_at: float, checkpoint: Any = None, quota_waited: float = 0.0) -> None:
        super().__init__()
        self.reset_at = float(reset_at)
        self.checkpoint = checkpoint
        self.quota_waited = float(quota_waited)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"reset_at": self.reset_at, "checkpoint": self.checkpoint, "quota_waited": self.quota_waited},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await sleep_until(self.reset_at)
        yield TriggerEvent(
            {"status": "reset", "checkpoint": self.checkpoint, "quota_waited": self.quota_waited}
        )
