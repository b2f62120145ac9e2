"""POST /contacts/bulk_update: shared values or per-contact attributes, limits, jobs, deleted contacts."""

from __future__ import annotations

import requests

from airflow_provider_apollo.testing import ApolloEmulator


def test_shared_values_for_many_ids(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(3)
    owner = apollo_emulator.users[2]["id"]
    body = api.post(
        f"{apollo_emulator.url}/contacts/bulk_update",
        json={"contact_ids": ids, "owner_id": owner, "title": "CTO"},
    ).json()
    assert [(c["id"], c["owner_id"], c["title"]) for c in body["contacts"]] == [
        (i, owner, "CTO") for i in ids
    ]


def test_per_contact_attributes(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    a, b = apollo_emulator.seed_contacts(2)
    body = api.post(
        f"{apollo_emulator.url}/contacts/bulk_update",
        json={"contact_attributes": [{"id": a, "title": "CEO"}, {"id": b, "last_name": "Zheng"}]},
    ).json()
    assert [c["id"] for c in body["contacts"]] == [a, b]
    assert apollo_emulator.get_contact(a)["title"] == "CEO"  # type: ignore[index]
    assert apollo_emulator.get_contact(b)["last_name"] == "Zheng"  # type: ignore[index]


def test_limits_jobs_and_missing_parameters(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(101)
    url = f"{apollo_emulator.url}/contacts/bulk_update"
    job = api.post(url, json={"contact_ids": ids, "title": "VP"}).json()["entity_progress_job"]
    assert (job["job_type"], job["status"], job["entity_ids"]) == ("contact_bulk_update", "pending", ids)
    assert apollo_emulator.get_contact(ids[-1])["title"] == "VP"  # type: ignore[index]
    forced = api.post(url, json={"contact_ids": ids[:1], "title": "X", "async": True}).json()
    assert forced["entity_progress_job"]["entity_ids"] == ids[:1]
    too_many = api.post(url, json={"contact_ids": [f"{n:024x}" for n in range(1001)], "title": "x"})
    assert too_many.status_code == 422 and too_many.json() == {
        "error": "Please limit your array to fewer than 1000."
    }
    missing = api.post(url, json={"title": "x"})
    assert missing.status_code == 422
    assert missing.json() == {"error": "Please provide either contact_ids or contact_attributes"}


def test_deleted_contacts_fail_the_call_and_are_named(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(3)
    apollo_emulator.delete_contacts(ids[1])
    response = api.post(
        f"{apollo_emulator.url}/contacts/bulk_update", json={"contact_ids": ids, "title": "CFO"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "Cannot update contact as it is deleted.",
        "deleted_contact_ids": [ids[1]],
    }
    assert apollo_emulator.get_contact(ids[0])["title"] != "CFO"  # type: ignore[index]


def test_bulk_update_is_rate_limited_on_its_own_window() -> None:
    with ApolloEmulator(rate_limits={"minute": 1}) as emulator, requests.Session() as api:
        api.headers["x-api-key"] = emulator.api_key
        [contact] = emulator.seed_contacts(1)
        url = f"{emulator.url}/contacts/bulk_update"
        assert api.post(url, json={"contact_ids": [contact], "title": "a"}).status_code == 200
        assert api.post(url, json={"contact_ids": [contact], "title": "b"}).status_code == 429
        assert api.post(f"{emulator.url}/contacts/search", json={}).status_code == 200
