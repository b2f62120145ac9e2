"""Creating, deduplicating, updating and viewing contacts."""

from __future__ import annotations

import re

import requests

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.testing.emulator import BULK_CREATE_LIMIT, BULK_UPDATE_SYNC_LIMIT

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JON = {"first_name": "Jon", "last_name": "Snow", "title": "Lord Commander", "organization_name": "Westeros"}


def test_create_returns_a_full_contact_with_labels(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    response = api.post(
        f"{apollo_emulator.url}/contacts",
        json={
            **JON,
            "email": "jon@westeros.com",
            "label_names": ["Night's Watch"],
            "direct_phone": "555-303-9182",
            "present_raw_address": "Castle Black, The North, Westeros",
            "typed_custom_fields": {"abc": "x"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    contact = body["contact"]
    assert re.fullmatch(r"[0-9a-f]{24}", contact["id"])
    assert contact["name"] == "Jon Snow"
    assert contact["contact_stage_id"] == apollo_emulator.stage_id("Cold")
    assert contact["owner_id"] == apollo_emulator.users[0]["id"]
    assert contact["source"] == "api"
    assert (contact["city"], contact["state"], contact["country"]) == (
        "Castle Black",
        "The North",
        "Westeros",
    )
    assert contact["phone_numbers"][0]["sanitized_number"] == "+15553039182"
    assert contact["typed_custom_fields"] == {"abc": "x"}
    assert ISO_MS.match(contact["created_at"]) and ISO_MS.match(contact["updated_at"])
    assert 40 <= len(contact) <= 80
    assert [label["name"] for label in body["labels"]] == ["Night's Watch"]
    assert contact["label_ids"] == [body["labels"][0]["id"]]
    assert apollo_emulator.contacts[contact["id"]]["email"] == "jon@westeros.com"


def test_create_without_dedupe_always_creates_a_new_contact(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    first = api.post(f"{apollo_emulator.url}/contacts", json={**JON, "email": "jon@westeros.com"}).json()
    second = api.post(f"{apollo_emulator.url}/contacts", json={**JON, "email": "jon@westeros.com"}).json()
    assert first["contact"]["id"] != second["contact"]["id"]
    assert len(apollo_emulator.contacts) == 2


def test_create_with_dedupe_updates_the_email_match_in_place(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    original = api.post(f"{apollo_emulator.url}/contacts", json={**JON, "email": "jon@westeros.com"}).json()[
        "contact"
    ]
    response = api.post(
        f"{apollo_emulator.url}/contacts",
        json={"email": "JON@Westeros.com", "title": "King in the North", "run_dedupe": True},
    ).json()
    assert response["contact"]["id"] == original["id"]
    assert response["contact"]["title"] == "King in the North"
    assert response["contact"]["updated_at"] > original["updated_at"]
    assert response["dedupe_result"]["matched_on"] == "email"
    assert len(apollo_emulator.contacts) == 1


def test_create_with_dedupe_matches_name_and_organization(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    original = api.post(f"{apollo_emulator.url}/contacts", json=JON).json()["contact"]
    again = api.post(f"{apollo_emulator.url}/contacts", json={**JON, "run_dedupe": True}).json()
    assert again["contact"]["id"] == original["id"]
    assert again["dedupe_result"]["matched_on"] == "name_and_organization"


def test_create_rejects_an_unknown_stage_id(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    response = api.post(f"{apollo_emulator.url}/contacts", json={**JON, "contact_stage_id": "123"})
    assert response.status_code == 422
    assert response.json() == {"error": "Parameters misconfigured. 123 is not a valid ID"}
    assert apollo_emulator.contacts == {}


def test_create_ignores_unknown_fields_and_invalid_emails(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    contact = api.post(
        f"{apollo_emulator.url}/contacts",
        json={**JON, "email": "not-an-email", "favourite_sword": "Longclaw"},
    ).json()["contact"]
    assert contact["email"] is None
    assert "favourite_sword" not in contact


def test_bulk_create_rejects_more_than_the_limit(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    contacts = [{"first_name": f"P{i}", "last_name": "X"} for i in range(BULK_CREATE_LIMIT + 1)]
    response = api.post(f"{apollo_emulator.url}/contacts/bulk_create", json={"contacts": contacts})
    assert response.status_code == 422
    assert response.json() == {"error": "Please limit your array to 100 contacts or fewer."}
    assert apollo_emulator.contacts == {}


def test_bulk_create_keeps_input_order_and_reports_dedupe_matches_unchanged(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    existing = api.post(f"{apollo_emulator.url}/contacts", json={**JON, "email": "jon@westeros.com"}).json()[
        "contact"
    ]
    batch = [
        {"first_name": "Arya", "last_name": "Stark", "email": "arya@winterfell.com"},
        {"email": "jon@westeros.com", "title": "ignored by bulk create"},
        {"first_name": "Sansa", "last_name": "Stark", "email": "sansa@winterfell.com"},
    ]
    body = api.post(
        f"{apollo_emulator.url}/contacts/bulk_create",
        json={"contacts": batch, "run_dedupe": True, "append_label_names": ["Starks"]},
    ).json()
    assert [contact["email"] for contact in body["created_contacts"]] == [
        "arya@winterfell.com",
        "sansa@winterfell.com",
    ]
    assert [contact["id"] for contact in body["existing_contacts"]] == [existing["id"]]
    assert body["existing_contacts"][0]["title"] == "Lord Commander"
    assert all(len(contact["label_ids"]) == 1 for contact in body["created_contacts"])


def test_update_changes_fields_and_bumps_updated_at(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    created = api.post(f"{apollo_emulator.url}/contacts", json={**JON, "label_names": ["a", "b"]}).json()[
        "contact"
    ]
    response = api.patch(
        f"{apollo_emulator.url}/contacts/{created['id']}", json={"title": "King", "label_names": ["c"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["contact"]["title"] == "King"
    assert body["contact"]["updated_at"] > created["updated_at"]
    assert [label["name"] for label in body["labels"]] == ["c"]


def test_update_of_a_deleted_contact_answers_422_with_its_id(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    [contact_id] = apollo_emulator.seed_contacts(1)
    apollo_emulator.delete_contacts([contact_id])
    response = api.patch(f"{apollo_emulator.url}/contacts/{contact_id}", json={"title": "x"})
    assert response.status_code == 422
    assert response.json() == {
        "error": "Cannot update contact as it is deleted.",
        "deleted_contact_ids": [contact_id],
    }
    assert contact_id in apollo_emulator.deleted_contact_ids


def test_update_of_an_unknown_contact_answers_422(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    response = api.patch(f"{apollo_emulator.url}/contacts/{'0' * 24}", json={"title": "x"})
    assert response.status_code == 422
    assert response.json() == {"error": "Oops! This contact does not exist in Apollo."}


def test_view_returns_the_contact_and_422_once_deleted(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    [contact_id] = apollo_emulator.seed_contacts(1)
    assert api.get(f"{apollo_emulator.url}/contacts/{contact_id}").json()["contact"]["id"] == contact_id
    apollo_emulator.delete_contacts(contact_id)
    response = api.get(f"{apollo_emulator.url}/contacts/{contact_id}")
    assert response.status_code == 422
    assert response.json() == {"error": "Oops! This contact does not exist in Apollo."}


def test_bulk_update_answers_synchronously_up_to_100_then_with_a_job(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(BULK_UPDATE_SYNC_LIMIT + 1)
    small = api.post(
        f"{apollo_emulator.url}/contacts/bulk_update", json={"contact_ids": ids[:2], "title": "CTO"}
    )
    assert [contact["title"] for contact in small.json()["contacts"]] == ["CTO", "CTO"]
    large = api.post(f"{apollo_emulator.url}/contacts/bulk_update", json={"contact_ids": ids, "title": "CEO"})
    assert large.json()["entity_progress_job"]["status"] == "pending"
    assert apollo_emulator.get_contact(ids[-1])["title"] == "CEO"  # type: ignore[index]


def test_seeded_contacts_are_realistic_and_spread_over_stages(apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(500)
    contacts = apollo_emulator.contacts
    assert list(contacts) == ids == sorted(ids)
    assert len({contact["email"] for contact in contacts.values()}) == 500
    assert len({contact["created_at"] for contact in contacts.values()}) == 500
    assert len({contact["updated_at"] for contact in contacts.values()}) == 500
    stage_counts: dict[str, int] = {}
    for contact in contacts.values():
        stage_counts[contact["contact_stage_id"]] = stage_counts.get(contact["contact_stage_id"], 0) + 1
    assert max(stage_counts, key=stage_counts.__getitem__) == apollo_emulator.stage_id("Cold")
    assert len(stage_counts) >= 5
    assert ApolloEmulator().seed_contacts(3) == ApolloEmulator().seed_contacts(3)


def test_seeding_into_one_stage(apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.seed_contacts(20, stage="approaching")
    stage_ids = {contact["contact_stage_id"] for contact in apollo_emulator.contacts.values()}
    assert stage_ids == {apollo_emulator.stage_id("Approaching")}
