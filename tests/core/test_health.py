"""The connection test: one cheap request with a short timeout, and one readable sentence for each failure."""

from __future__ import annotations

import socket
import time

import pytest
from core_support import connection, use_connection

from airflow_provider_apollo.core.health import health_failure, health_request, health_result
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloNotFoundError,
    ApolloRateLimitError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator

HOST = "https://apollo.example/api/v1"

# --------------------------------------------------------------------------- the request


def test_health_request_is_a_get_on_the_health_endpoint() -> None:
    request = health_request(connection(HOST))
    assert (request.method, request.rate_group, request.rate_key) == (
        "GET",
        "/auth/health",
        "GET /auth/health",
    )


def test_health_request_waits_at_most_five_seconds() -> None:
    assert health_request(connection(HOST, timeout=30)).timeout == 5.0
    assert health_request(connection(HOST, timeout=2)).timeout == 2
    assert health_request(connection(HOST)).path == "/auth/health"


# --------------------------------------------------------------------------- the answer


def test_health_result_reads_is_logged_in() -> None:
    config = connection(HOST)
    assert health_result({"is_logged_in": False}, config) == (
        False,
        "Apollo answered, but the key is not logged in.",
    )
    assert health_result({"is_logged_in": True}, config) == (
        True,
        "Connected to Apollo at https://apollo.example/api/v1",
    )
    assert health_result("not a dict", config)[0] is True


def test_health_failures_are_one_readable_sentence_each() -> None:
    config = connection(HOST)
    forbidden = ApolloAuthError("x", status_code=403, body={"error": "no access"})
    assert health_failure(forbidden, config).startswith("Apollo refused access (403)")
    assert health_failure(forbidden, config).endswith("Apollo said: no access")
    unauthorized = ApolloAuthError("x", status_code=401, body="Invalid access credentials.")
    assert health_failure(unauthorized, config) == (
        "Apollo rejected the API key (401): check the connection's API key. "
        "Apollo said: Invalid access credentials."
    )
    assert health_failure(ApolloAuthError("x", status_code=401, body=None), config).endswith("(empty answer)")
    assert health_failure(ApolloAuthError("x", status_code=401, body={"message": "m"}), config).endswith(
        ": m"
    )
    assert "answered 404" in health_failure(ApolloNotFoundError("x", status_code=404), config)
    assert "https://apollo.example/api/v1 answered 404" in health_failure(ApolloNotFoundError("x"), config)
    assert "the configured Base URL answered 404" in health_failure(ApolloNotFoundError("x"), None)
    not_json = ApolloConnectionError("x", maybe_applied=True, reason="answer is not JSON")
    assert "answered, but not with JSON" in health_failure(not_json, config)
    refused = ApolloConnectionError("x", maybe_applied=False, reason="connection refused")
    assert health_failure(refused, config) == (
        "Could not reach Apollo at https://apollo.example/api/v1: connection refused."
    )
    limited = ApolloRateLimitError("x", retry_after=12.4)
    assert health_failure(limited, config).endswith("Try again in 12 s.")
    assert health_failure(ApolloRateLimitError("x"), config).endswith("Try again in 60 s.")
    html = ApolloApiError("x", status_code=418, body="<html>")
    assert health_failure(html, config).endswith(
        "answered 418 with a non-JSON body: is the Base URL Apollo's API?"
    )
    assert health_failure(ApolloApiError("plain", status_code=418, body={}), config) == "plain"
    assert health_failure(ValueError("odd"), config) == "ValueError: odd"


def test_apollos_words_are_cut_at_300_characters() -> None:
    said = health_failure(ApolloAuthError("x", status_code=401, body={"error": "e" * 400}), connection(HOST))
    assert said.endswith("Apollo said: " + "e" * 300)
    said = health_failure(ApolloAuthError("x", status_code=401, body="t" * 400), connection(HOST))
    assert said.endswith("Apollo said: " + "t" * 300)


# --------------------------------------------------------------------------- the hook's connection test


def test_connection_test_answers_fast_and_readably_for_an_unreachable_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    use_connection(monkeypatch, f"http://127.0.0.1:{port}/api/v1", password="secret-key")
    started = time.monotonic()
    ok, message = ApolloHook().test_connection()
    assert not ok
    assert time.monotonic() - started < 5
    assert message == f"Could not reach Apollo at http://127.0.0.1:{port}/api/v1: connection refused."


def test_connection_test_names_each_failure(
    apollo_emulator: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check(host: str, key: str) -> str:
        use_connection(monkeypatch, host, password=key)
        ok, message = ApolloHook().test_connection()
        assert not ok
        assert key not in message
        return message

    bad_key = check(apollo_emulator.url, "wrong-key")
    assert bad_key.startswith("Apollo rejected the API key (401)")
    assert apollo_emulator.request_count("/auth/health") == 1, "a bad key is not retried"
    wrong_url = check(apollo_emulator.url.replace("/api/v1", "/nope"), apollo_emulator.api_key)
    assert "this is not Apollo's API" in wrong_url and "/api/v1" in wrong_url
    apollo_emulator.add_fault("non_json", path="/auth/health", count=1)
    not_json = check(apollo_emulator.url, apollo_emulator.api_key + "")
    assert "not with JSON" in not_json or "non-JSON" in not_json
