"""The legacy /v1 prefix: api_key in the body or query, PUT for update."""

from __future__ import annotations

import requests

from airflow_provider_apollo.testing import ApolloEmulator


def test_legacy_prefix_accepts_api_key_in_body(apollo_emulator: ApolloEmulator) -> None:
    response = requests.post(
        f"{apollo_emulator.base_url_legacy}/contacts",
        json={"api_key": "test-key", "first_name": "Jon", "last_name": "Snow"},
    )
    assert response.status_code == 200
    assert "api_key" not in response.json()["contact"]


def test_legacy_prefix_accepts_api_key_in_query(apollo_emulator: ApolloEmulator) -> None:
    response = requests.get(
        f"{apollo_emulator.base_url_legacy}/contact_stages", params={"api_key": "test-key"}
    )
    assert response.status_code == 200
    assert len(response.json()["contact_stages"]) == 9
    assert (
        requests.get(f"{apollo_emulator.base_url_legacy}/contact_stages", params={"api_key": "x"}).status_code
        == 401
    )


def test_legacy_put_updates_a_contact(apollo_emulator: ApolloEmulator) -> None:
    [contact_id] = apollo_emulator.seed_contacts(1)
    by_path = requests.put(
        f"{apollo_emulator.base_url_legacy}/contacts/{contact_id}",
        json={"api_key": "test-key", "title": "King"},
    )
    assert by_path.json()["contact"]["title"] == "King"
    by_body = requests.put(
        f"{apollo_emulator.base_url_legacy}/contacts",
        json={"api_key": "test-key", "id": contact_id, "title": "Lord"},
    )
    assert by_body.json()["contact"]["title"] == "Lord"


def test_put_and_patch_work_on_both_prefixes(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    [contact_id] = apollo_emulator.seed_contacts(1)
    for base in (apollo_emulator.url, apollo_emulator.base_url_legacy):
        for send in (api.put, api.patch):
            assert send(f"{base}/contacts/{contact_id}", json={"title": "x"}).status_code == 200
