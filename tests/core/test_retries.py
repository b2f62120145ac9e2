"""Retries: which failures are retried (a create only if it cannot have landed), and the wait first."""

from __future__ import annotations

import random

import pytest
import requests_mock as requests_mock_module
from core_support import KEY, MOCKED_BASE, dns_failure, use_connection

from airflow_provider_apollo.core.config import ApolloConfig
from airflow_provider_apollo.core.retries import RetryPolicy
from airflow_provider_apollo.exceptions import (
    ApolloAuthError,
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloServerError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook

POLICY = RetryPolicy(max_retries=3, max_retry_wait=60)


# --------------------------------------------------------------------------- what is retried


def test_429_within_max_retry_wait_is_retried_after_retry_after() -> None:
    error = ApolloRateLimitError("429", retry_after=3)
    assert POLICY.should_retry(error, idempotent=True)
    assert POLICY.wait_seconds(error, 1) == pytest.approx(3.05)


def test_429_beyond_max_retry_wait_is_not_retried() -> None:
    assert not POLICY.should_retry(ApolloRateLimitError("429", retry_after=3600), idempotent=True)


def test_a_retry_after_equal_to_the_longest_wait_is_still_waited_out() -> None:
    policy = RetryPolicy(max_retries=3, max_retry_wait=5.0)
    assert policy.should_retry(ApolloRateLimitError("x", retry_after=5.0), idempotent=False)
    assert not policy.should_retry(ApolloRateLimitError("x", retry_after=5.01), idempotent=True)
    assert policy.should_retry(ApolloRateLimitError("x"), idempotent=False)


def test_429_is_retried_even_for_a_create_without_dedupe() -> None:
    assert POLICY.should_retry(ApolloRateLimitError("429", retry_after=1), idempotent=False)


def test_5xx_is_retried_only_when_idempotent() -> None:
    assert POLICY.should_retry(ApolloServerError("500", status_code=500), idempotent=True)
    assert not POLICY.should_retry(ApolloServerError("500", status_code=500), idempotent=False)


def test_connection_never_made_is_retried_even_for_a_create() -> None:
    assert POLICY.should_retry(ApolloConnectionError("refused", maybe_applied=False), idempotent=False)
    assert not POLICY.should_retry(ApolloConnectionError("dropped", maybe_applied=True), idempotent=False)
    assert POLICY.should_retry(ApolloConnectionError("dropped", maybe_applied=True), idempotent=True)


def test_a_create_without_dedupe_is_retried_after_a_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, MOCKED_BASE, max_retry_wait=1)
    with requests_mock_module.Mocker() as mock:
        mock.post(
            MOCKED_BASE + "/contacts",
            [{"exc": dns_failure()}, {"json": {"contact": {"id": "c1"}}}],
        )
        created = ApolloHook().create_contact({"first_name": "Ann"}, run_dedupe=False)
        assert created["id"] == "c1"
        assert mock.call_count == 2


def test_validation_and_auth_errors_are_never_retried() -> None:
    assert not POLICY.should_retry(ApolloValidationError("422"), idempotent=True)
    assert not POLICY.should_retry(ApolloAuthError("401"), idempotent=True)


# --------------------------------------------------------------------------- how long to wait


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    waits = [POLICY.wait_seconds(ApolloServerError("500"), attempt, rng) for attempt in range(1, 12)]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = min(POLICY.backoff_max, POLICY.backoff_initial * 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert max(waits) <= POLICY.backoff_max


def test_the_retry_policy_takes_both_numbers_of_the_connections_budget() -> None:
    config = ApolloConfig(api_key=KEY, max_retries=2, max_retry_wait=7.5)
    assert RetryPolicy.from_config(config) == RetryPolicy(max_retries=2, max_retry_wait=7.5)
