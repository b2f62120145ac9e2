"""Stages, owners, users and the health check."""

from __future__ import annotations

import requests

from airflow_provider_apollo.testing import ApolloEmulator

STAGE_NAMES = [
    "Cold",
    "Approaching",
    "Replied",
    "Interested",
    "Not Interested",
    "Unresponsive",
    "Do Not Contact",
    "Bad Data",
    "Changed Job",
]


def test_lists_the_nine_stages_with_categories(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    stages = api.get(f"{apollo_emulator.url}/contact_stages").json()["contact_stages"]
    assert [stage["display_name"] for stage in stages] == STAGE_NAMES
    assert [stage["display_order"] for stage in stages] == list(range(9))
    assert stages[3]["category"] == "succeeded" and stages[4]["category"] == "failed"
    assert set(stages[0]) == {
        "id",
        "team_id",
        "display_name",
        "name",
        "display_order",
        "ignore_trigger_override",
        "category",
    }
    assert stages == apollo_emulator.stages


def test_stage_id_resolves_names_case_insensitively(apollo_emulator: ApolloEmulator) -> None:
    replied = apollo_emulator.stage_id("rEpLiEd")
    assert apollo_emulator.stage_id(replied) == replied
    assert ApolloEmulator().stage_id("Replied") == replied


def test_update_stages_with_query_parameters(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(3, stage="Cold")
    interested = apollo_emulator.stage_id("Interested")
    response = api.post(
        f"{apollo_emulator.url}/contacts/update_stages",
        params={"contact_ids[]": ids, "contact_stage_id": interested},
    )
    assert response.status_code == 200
    assert [contact["id"] for contact in response.json()["contacts"]] == ids
    assert {contact["contact_stage_id"] for contact in apollo_emulator.contacts.values()} == {interested}


def test_update_stages_with_a_json_body(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(2, stage="Cold")
    before = apollo_emulator.get_contact(ids[0])
    bad_data = apollo_emulator.stage_id("Bad Data")
    response = api.post(
        f"{apollo_emulator.url}/contacts/update_stages",
        json={"contact_ids": ids, "contact_stage_id": bad_data},
    )
    contacts = response.json()["contacts"]
    assert [contact["contact_stage_id"] for contact in contacts] == [bad_data, bad_data]
    assert contacts[0]["updated_at"] > before["updated_at"]  # type: ignore[index]


def test_update_stages_with_a_deleted_id_applies_nothing(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(3, stage="Cold")
    apollo_emulator.delete_contacts(ids[1])
    response = api.post(
        f"{apollo_emulator.url}/contacts/update_stages",
        json={"contact_ids": ids, "contact_stage_id": apollo_emulator.stage_id("Replied")},
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "Cannot update contact as it is deleted.",
        "deleted_contact_ids": [ids[1]],
    }
    assert {contact["contact_stage_id"] for contact in apollo_emulator.contacts.values()} == {
        apollo_emulator.stage_id("Cold")
    }


def test_update_stages_with_an_unknown_contact_names_it(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    missing = "f" * 24
    response = api.post(
        f"{apollo_emulator.url}/contacts/update_stages",
        json={"contact_ids": [missing], "contact_stage_id": apollo_emulator.stage_id("Replied")},
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "Oops! This contact does not exist in Apollo.",
        "contact_ids": [missing],
    }


def test_update_stages_rejects_an_unknown_stage(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(1)
    response = api.post(
        f"{apollo_emulator.url}/contacts/update_stages",
        json={"contact_ids": ids, "contact_stage_id": "Replied"},
    )
    assert response.status_code == 422
    assert response.json() == {"error": "Parameters misconfigured. Replied is not a valid ID"}


def test_update_owners_with_query_parameters(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(4)
    owner = apollo_emulator.users[2]["id"]
    response = api.post(
        f"{apollo_emulator.url}/contacts/update_owners", params={"contact_ids[]": ids, "owner_id": owner}
    )
    assert [contact["owner_id"] for contact in response.json()["contacts"]] == [owner] * 4
    bad = api.post(
        f"{apollo_emulator.url}/contacts/update_owners", json={"contact_ids": ids, "owner_id": "nobody"}
    )
    assert bad.status_code == 422


def test_users_search_lists_the_team(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    body = api.get(f"{apollo_emulator.url}/users/search", params={"page": 1, "per_page": 2}).json()
    assert [user["id"] for user in body["users"]] == [user["id"] for user in apollo_emulator.users[:2]]
    # Apollo sends the users search's page and per_page as strings (its reference example does).
    assert body["pagination"] == {"page": "1", "per_page": "2", "total_entries": 3, "total_pages": 2}
