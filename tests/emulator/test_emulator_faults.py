"""Fault injection: error statuses, dropped connections, delays, truncated and non-JSON bodies."""

from __future__ import annotations

import json
import time

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator

JON = {"first_name": "Jon", "last_name": "Snow", "email": "jon@westeros.com"}


def test_status_500_has_apollos_json_error(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("status", status=500, path="/contacts")
    response = api.post(f"{apollo_emulator.url}/contacts", json=JON)
    assert response.status_code == 500
    assert response.json()["error"].endswith("Please try again.")
    assert apollo_emulator.contacts == {}
    assert api.post(f"{apollo_emulator.url}/contacts", json=JON).status_code == 200


def test_status_502_and_503_have_html_bodies(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("status", status=502)
    apollo_emulator.add_fault("status", status=503)
    first = api.get(f"{apollo_emulator.url}/auth/health")
    second = api.get(f"{apollo_emulator.url}/auth/health")
    assert (first.status_code, second.status_code) == (502, 503)
    assert first.headers["content-type"].startswith("text/html") and "Bad Gateway" in first.text


def test_status_429_fault_sends_retry_after(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("status", status=429, retry_after=2)
    response = api.post(f"{apollo_emulator.url}/contacts/search", json={})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert "maximum number of api calls" in response.json()["message"]


def test_drop_closes_the_connection_before_applying(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    apollo_emulator.add_fault("drop", path="/contacts", method="POST")
    with pytest.raises(requests.ConnectionError):
        api.post(f"{apollo_emulator.url}/contacts", json=JON)
    assert apollo_emulator.contacts == {}
    assert apollo_emulator.status_counts() == {0: 1}
    assert api.post(f"{apollo_emulator.url}/contacts", json=JON).status_code == 200


def test_drop_after_apply_creates_but_the_client_sees_an_error(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    apollo_emulator.add_fault("drop_after_apply", path="/contacts", method="POST")
    with pytest.raises(requests.ConnectionError):
        api.post(f"{apollo_emulator.url}/contacts", json=JON)
    assert [contact["email"] for contact in apollo_emulator.contacts.values()] == ["jon@westeros.com"]


def test_delay_slows_the_answer(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("delay", delay=0.3)
    started = time.monotonic()
    assert api.get(f"{apollo_emulator.url}/auth/health").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        apollo_emulator.add_fault("delay", delay=0.5)
        api.get(f"{apollo_emulator.url}/auth/health", timeout=0.1)


def test_truncate_sends_a_cut_json_body_with_a_matching_length(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    apollo_emulator.seed_contacts(3)
    apollo_emulator.add_fault("truncate", path="/contacts/search")
    response = api.post(f"{apollo_emulator.url}/contacts/search", json={})
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    # The connection is still usable afterwards.
    assert (
        api.post(f"{apollo_emulator.url}/contacts/search", json={}).json()["pagination"]["total_entries"] == 3
    )


def test_non_json_answers_200_with_html(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("non_json")
    response = api.get(f"{apollo_emulator.url}/contact_stages")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_every_nth_request_and_count_limits(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    fault = apollo_emulator.add_fault("status", status=500, every=2, count=None)
    statuses = [api.get(f"{apollo_emulator.url}/auth/health").status_code for _ in range(6)]
    assert statuses == [200, 500, 200, 500, 200, 500]
    assert fault.hits == 3
    apollo_emulator.clear_faults()
    apollo_emulator.add_fault("status", status=500, count=2)
    statuses = [api.get(f"{apollo_emulator.url}/auth/health").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert apollo_emulator.status_counts() == {200: 4, 500: 5}


def test_faults_match_path_and_method_only(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("status", status=500, path="/contacts/search", method="POST")
    assert api.get(f"{apollo_emulator.url}/contact_stages").status_code == 200
    assert api.post(f"{apollo_emulator.url}/contacts/search", json={}).status_code == 500


def test_faults_come_after_authentication(apollo_emulator: ApolloEmulator) -> None:
    fault = apollo_emulator.add_fault("status", status=500)
    assert requests.get(f"{apollo_emulator.url}/auth/health").status_code == 401
    assert fault.hits == 0


def test_latency_is_added_to_every_response() -> None:
    with ApolloEmulator(latency=0.2) as emulator:
        started = time.monotonic()
        requests.get(f"{emulator.url}/auth/health", headers={"x-api-key": "test-key"})
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("status", [500, 503])
def test_status_after_apply_creates_but_answers_an_error(
    api: requests.Session, apollo_emulator: ApolloEmulator, status: int
) -> None:
    apollo_emulator.add_fault("status_after_apply", status=status, path="/contacts", method="POST")
    response = api.post(f"{apollo_emulator.url}/contacts", json=JON)
    assert response.status_code == status
    # Applied all the same: the contact exists though the client saw a failure.
    assert [contact["email"] for contact in apollo_emulator.contacts.values()] == ["jon@westeros.com"]
    assert apollo_emulator.status_counts() == {status: 1}
    assert api.post(f"{apollo_emulator.url}/contacts", json=JON).status_code == 200
    assert apollo_emulator.contact_count == 2


def test_status_after_apply_defaults_to_500(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    fault = apollo_emulator.add_fault("status_after_apply")
    assert fault.status == 500
    assert api.get(f"{apollo_emulator.url}/auth/health").status_code == 500


def test_start_picks_the_first_request_hit(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("status", status=500, every=2, start=1, count=None)
    statuses = [api.get(f"{apollo_emulator.url}/auth/health").status_code for _ in range(5)]
    assert statuses == [500, 200, 500, 200, 500]
    apollo_emulator.clear_faults()
    apollo_emulator.add_fault("status", status=500, start=3, count=2)
    statuses = [api.get(f"{apollo_emulator.url}/auth/health").status_code for _ in range(5)]
    assert statuses == [200, 200, 500, 500, 200]
    with pytest.raises(ValueError, match="start"):
        apollo_emulator.add_fault("status", start=0)


def test_connections_opened_counts_tcp_connections(apollo_emulator: ApolloEmulator) -> None:
    headers = {"x-api-key": apollo_emulator.api_key}
    with requests.Session() as session:
        for _ in range(5):
            assert session.get(f"{apollo_emulator.url}/auth/health", headers=headers).status_code == 200
    assert apollo_emulator.connections_opened == 1
    for _ in range(3):
        requests.get(f"{apollo_emulator.url}/auth/health", headers=headers)
    assert apollo_emulator.connections_opened == 4
