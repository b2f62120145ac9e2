"""Users: the team, keyword search (GET and POST), paging, the key's owner and the master-key 403."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator
from tests.emulator.conftest import session_for


def emails(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [user["email"] for user in body["users"]]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_users_search_filters_on_q_keywords(
    api: requests.Session, apollo_emulator: ApolloEmulator, method: str
) -> None:
    url = f"{apollo_emulator.url}/users/search"

    def search(**params: str) -> dict:  # type: ignore[type-arg]
        if method == "GET":
            return api.get(url, params=params).json()  # type: ignore[no-any-return]
        return api.post(url, json=params).json()  # type: ignore[no-any-return]

    assert emails(search(q_keywords="grace")) == ["grace.hopper@emulated-team.example"]
    # Punctuation separates words, and every word must match.
    assert emails(search(q_keywords="Hopper, Account Executive")) == ["grace.hopper@emulated-team.example"]
    assert emails(search(q_keywords="ada.lovelace@emulated-team.example")) == [
        "ada.lovelace@emulated-team.example"
    ]
    assert search(q_keywords="nobody here")["users"] == []
    assert len(search()["users"]) == 3


def test_users_search_pages_and_sees_added_users(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    added = apollo_emulator.add_user("Katherine", "Johnson", title="RevOps")
    url = f"{apollo_emulator.url}/users/search"
    page2 = api.get(url, params={"page": 2, "per_page": 3}).json()
    assert emails(page2) == [added["email"]] == ["katherine.johnson@emulated-team.example"]
    assert page2["pagination"] == {"page": "2", "per_page": "3", "total_entries": 4, "total_pages": 2}
    # The new user can own contacts and has a mailbox.
    [contact] = apollo_emulator.seed_contacts(1)
    moved = api.post(
        f"{apollo_emulator.url}/contacts/update_owners",
        json={"contact_ids": [contact], "owner_id": added["id"]},
    )
    assert moved.status_code == 200
    assert apollo_emulator.email_account_id(added["email"])
    with pytest.raises(ValueError, match="already exists"):
        apollo_emulator.add_user("Katherine", "Johnson")


def test_the_api_profile_is_the_keys_owner(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    profile = api.get(f"{apollo_emulator.url}/users/api_profile").json()
    owner = apollo_emulator.users[0]
    assert profile == {
        key: owner[key] for key in ("id", "team_id", "first_name", "last_name", "title", "email")
    }


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [
        ("GET", "/users/search", "api/v1/users/search"),
        ("POST", "/users/search", "api/v1/users/search"),
        ("POST", "/usage_stats/api_usage_stats", "api/v1/usage_stats/api_usage_stats"),
    ],
)
def test_a_non_master_key_gets_apollos_403(method: str, path: str, endpoint: str) -> None:
    with ApolloEmulator(master_key=False) as emulator, session_for(emulator) as api:
        response = api.request(method, f"{emulator.url}{path}")
        assert response.status_code == 403
        assert response.json() == {
            "error": f"This API key is not authorized to access {endpoint}. Request an API key from your "
            "administrator that includes this endpoint in its configured scope.",
            "error_code": "API_INACCESSIBLE",
        }
        # Endpoints that need no master key still answer.
        assert api.get(f"{emulator.url}/users/api_profile").status_code == 200
        assert api.get(f"{emulator.url}/email_accounts").status_code == 200


def test_usage_stats_report_each_endpoints_windows() -> None:
    with ApolloEmulator(rate_limits={"minute": 50, "hour": 400}) as emulator, session_for(emulator) as api:
        for _ in range(3):
            api.post(f"{emulator.url}/contacts/search", json={})
        stats = api.post(f"{emulator.url}/usage_stats/api_usage_stats").json()
        assert stats['["api/v1/contacts", "search"]'] == {
            "day": {"limit": None, "consumed": 3, "left_over": None},
            "hour": {"limit": 400, "consumed": 3, "left_over": 397},
            "minute": {"limit": 50, "consumed": 3, "left_over": 47},
        }
