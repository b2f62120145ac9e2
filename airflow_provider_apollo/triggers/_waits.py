"""The waits a sensor's trigger shares: until its first check, and out an exhausted quota within its timeout."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from airflow_provider_apollo.core.quota import quota_pause
from airflow_provider_apollo.exceptions import ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook


async def wait_for_quota_reset(
    error: ApolloRateLimitError, hook: ApolloAsyncHook, end_time: float | None, log: logging.Logger | Any
) -> dict[str, Any] | None:
    """
    Sleep until the quota resets and return None (check again), or return a timeout event when it
    resets only after ``end_time``; ``error`` itself is raised when it is not an exhausted quota.
    """
    pause = quota_pause(error, (await hook.get_config()).max_retry_wait)
    if pause is None:
        raise error
    if end_time is not None and time.time() + pause >= end_time:
        return {
            "status": "timeout",
            "message": f"Apollo's quota stays used up past the sensor's timeout: {error}",
        }
    log.warning("Apollo's quota is used up; checking again after its reset in %.0f s", pause)
    await asyncio.sleep(pause)
    return None


async def sleep_until_first_check(first_check_at: float | None, end_time: float | None) -> None:
    """Sleep until ``first_check_at`` (the sensor checked just before deferring), never past ``end_time``."""
    if first_check_at is None:
        return
    deadline = first_check_at if end_time is None else min(first_check_at, end_time)
    await asyncio.sleep(max(0.0, deadline - time.time()))
