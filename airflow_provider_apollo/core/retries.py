"""Retries: what is retried after a failure, and how long to wait first."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from airflow_provider_apollo.core.config import DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_WAIT, ApolloConfig
from airflow_provider_apollo.exceptions import (
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloServerError,
)

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """
    What is retried, and how long to wait: the one policy the request lifecycle applies for both transports.

    - 429: wait ``retry-after`` when it is within ``max_retry_wait``; longer (an hourly or daily
      quota) raises ``ApolloRateLimitError`` at once, so a worker is never held for hours.
    - 5xx, connection errors, truncated bodies: exponential backoff with full jitter.
    - A non-idempotent request (create without dedupe) is retried only when it cannot have been
      applied: a 429, or a connection that was never made.
    - 4xx other than 429: never retried.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    backoff_initial: float = BACKOFF_INITIAL
    backoff_max: float = BACKOFF_MAX

    @classmethod
    def from_config(cls, config: ApolloConfig) -> RetryPolicy:
        return cls(max_retries=config.max_retries, max_retry_wait=config.max_retry_wait)

    def should_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        if isinstance(error, ApolloRateLimitError):
            retry_after = error.retry_after
            return retry_after is None or retry_after <= self.max_retry_wait
        if isinstance(error, ApolloConnectionError):
            return idempotent or not error.maybe_applied
        if isinstance(error, ApolloServerError):
            return idempotent
        return False

    def wait_seconds(
        self, error: BaseException | None, attempt_number: int, rng: random.Random | None = None
    ) -> float:
        """Seconds before retry number ``attempt_number`` (1 = the first retry)."""
        if isinstance(error, ApolloRateLimitError) and error.retry_after is not None:
            # A small margin: Apollo's window resets at retry-after, not a moment before.
            return min(self.max_retry_wait, error.retry_after + 0.05)
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** (attempt_number - 1)))
        # Full jitter spreads retries of many workers hitting the same outage.
        return min(self.max_retry_wait, (rng or random).uniform(ceiling / 2, ceiling))
