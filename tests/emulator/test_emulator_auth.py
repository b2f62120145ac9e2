"""Authentication: API key header, OAuth bearer tokens, and the 401 Apollo sends otherwise."""

from __future__ import annotations

import requests

from airflow_provider_apollo.testing import ApolloEmulator

RATE_HEADERS = ("x-rate-limit-minute", "x-minute-usage", "x-rate-limit-hourly", "x-rate-limit-24-hour")


def test_api_key_header_is_accepted(apollo_emulator: ApolloEmulator) -> None:
    response = requests.get(f"{apollo_emulator.url}/auth/health", headers={"x-api-key": "test-key"})
    assert response.status_code == 200
    assert response.json() == {"healthy": True, "is_logged_in": True}
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_bearer_oauth_token_is_accepted() -> None:
    with ApolloEmulator(oauth_tokens=["oauth-token-1"]) as emulator:
        response = requests.get(
            f"{emulator.url}/auth/health", headers={"Authorization": "Bearer oauth-token-1"}
        )
    assert response.status_code == 200


def test_api_key_sent_as_bearer_is_rejected_without_rate_headers(apollo_emulator: ApolloEmulator) -> None:
    response = requests.get(
        f"{apollo_emulator.url}/auth/health", headers={"Authorization": "Bearer test-key"}
    )
    assert response.status_code == 401
    assert response.text == "Invalid access credentials."
    assert response.headers["content-type"].startswith("text/plain")
    assert not any(header in response.headers for header in RATE_HEADERS)


def test_missing_key_is_rejected(apollo_emulator: ApolloEmulator) -> None:
    response = requests.post(f"{apollo_emulator.url}/contacts/search", json={})
    assert response.status_code == 401


def test_revoked_key_is_rejected_mid_run(apollo_emulator: ApolloEmulator) -> None:
    with requests.Session() as session:
        session.headers["x-api-key"] = "test-key"
        assert session.get(f"{apollo_emulator.url}/auth/health").status_code == 200
        apollo_emulator.api_key = "rotated-key"
        assert session.get(f"{apollo_emulator.url}/auth/health").status_code == 401


def test_api_key_in_body_is_ignored_on_current_prefix(apollo_emulator: ApolloEmulator) -> None:
    response = requests.post(f"{apollo_emulator.url}/contacts/search", json={"api_key": "test-key"})
    assert response.status_code == 401


def test_unknown_path_answers_404_json(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    response = api.get(f"{apollo_emulator.url}/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_requests_are_recorded_with_lowercase_headers(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    api.post(f"{apollo_emulator.url}/contacts/search?page=2", json={"q_keywords": "x"})
    recorded = apollo_emulator.requests[-1]
    assert (recorded.method, recorded.path, recorded.status) == ("POST", "/api/v1/contacts/search", 200)
    assert recorded.query == {"page": ["2"]}
    assert recorded.body == {"q_keywords": "x"}
    assert recorded.headers["x-api-key"] == "test-key"
    assert apollo_emulator.request_count("/contacts/search", method="POST") == 1


def test_session_reuses_one_keep_alive_connection(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    for _ in range(5):
        api.get(f"{apollo_emulator.url}/auth/health").raise_for_status()
    assert apollo_emulator.connections_opened == 1
