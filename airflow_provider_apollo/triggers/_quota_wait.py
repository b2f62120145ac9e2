"""Waiting out an exhausted hourly or daily quota inside a sensor's trigger, within its timeout."""

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
