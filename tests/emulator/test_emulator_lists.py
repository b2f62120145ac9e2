"""Lists (labels): the default ones, create, add and remove contacts by list name."""

from __future__ import annotations

import requests

from airflow_provider_apollo.testing import ApolloEmulator


def change(
    api: requests.Session,
    emulator: ApolloEmulator,
    action: str,
    ids: list[str],
    names: list[str],
    **extra: object,
) -> requests.Response:
    return api.post(
        f"{emulator.url}/labels/{action}",
        json={"entity_ids": ids, "label_names": names, "modality": "contacts", **extra},
    )


def test_default_lists_and_create(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    listed = api.get(f"{apollo_emulator.url}/labels").json()
    assert [label["name"] for label in listed] == [
        "Conference 2026 leads",
        "Newsletter subscribers",
        "Target accounts",
    ]
    assert all(label["cached_count"] == 0 and label["_id"] == label["id"] for label in listed)
    created = api.post(f"{apollo_emulator.url}/labels", json={"name": "Q3 webinar", "modality": "contacts"})
    assert created.status_code == 200 and created.json()["label"]["name"] == "Q3 webinar"
    duplicate = api.post(f"{apollo_emulator.url}/labels", json={"name": "q3 WEBINAR", "modality": "contacts"})
    assert duplicate.status_code == 422
    assert duplicate.json() == {"error": "q3 WEBINAR already exists", "skip_alert_dialog": True}
    assert api.post(f"{apollo_emulator.url}/labels", json={"modality": "contacts"}).status_code == 422
    assert (
        api.post(f"{apollo_emulator.url}/labels", json={"name": "x", "modality": "leads"}).status_code == 422
    )
    assert [label["name"] for label in apollo_emulator.labels][-1] == "Q3 webinar"


def test_add_creates_missing_lists_and_updates_contacts(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(3)
    response = change(
        api, apollo_emulator, "add_entity_ids_to_label_names", ids[:2], ["Target accounts", "Maui, 2026"]
    )
    assert response.status_code == 200
    labels = response.json()["labels"]
    assert [(label["name"], label["cached_count"]) for label in labels] == [
        ("Target accounts", 2),
        ("Maui, 2026", 2),
    ]
    contact = api.get(f"{apollo_emulator.url}/contacts/{ids[0]}").json()["contact"]
    assert contact["label_ids"] == [label["id"] for label in labels]
    # Adding again changes nothing; search by list finds exactly the members.
    change(api, apollo_emulator, "add_entity_ids_to_label_names", ids[:2], ["Target accounts"])
    found = api.post(
        f"{apollo_emulator.url}/contacts/search", json={"contact_label_ids": [labels[1]["id"]]}
    ).json()
    assert sorted(c["id"] for c in found["contacts"]) == sorted(ids[:2])
    assert apollo_emulator.get_contact(ids[2])["label_ids"] == []  # type: ignore[index]


def test_remove_takes_contacts_off_lists_without_creating_any(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(2)
    change(
        api,
        apollo_emulator,
        "add_entity_ids_to_label_names",
        ids,
        ["Newsletter subscribers", "Target accounts"],
    )
    response = change(
        api, apollo_emulator, "remove_entity_ids_from_label_names", [ids[0]], ["Target accounts", "Ghost"]
    )
    assert [(label["name"], label["cached_count"]) for label in response.json()["labels"]] == [
        ("Target accounts", 1)
    ]
    assert "Ghost" not in [label["name"] for label in apollo_emulator.labels]
    newsletter = next(
        label["id"] for label in apollo_emulator.labels if label["name"] == "Newsletter subscribers"
    )
    assert apollo_emulator.get_contact(ids[0])["label_ids"] == [newsletter]  # type: ignore[index]


def test_nothing_to_change_async_jobs_and_bad_modality(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(2)
    nothing = change(api, apollo_emulator, "add_entity_ids_to_label_names", ["0" * 24], ["Target accounts"])
    assert nothing.json() == {"message": "No Models or Lists provided"}
    job = change(
        api, apollo_emulator, "add_entity_ids_to_label_names", ids, ["Big batch"], **{"async": True}
    ).json()
    assert job["entity_progress_job"]["job_type"] == "add_entities_to_labels"
    assert job["entity_progress_job"]["entity_ids"] == ids
    assert len(apollo_emulator.get_contact(ids[1])["label_ids"]) == 1  # type: ignore[index]
    bad = api.post(
        f"{apollo_emulator.url}/labels/add_entity_ids_to_label_names",
        json={"entity_ids": ids, "label_names": ["x"], "modality": "leads"},
    )
    assert bad.status_code == 422 and bad.json() == {"error": "Invalid modality: leads."}
