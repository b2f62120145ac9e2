"""Custom fields: GET /fields (and source=custom), typed_custom_fields on every write, picklist checks."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator


def test_fields_list_system_and_custom_fields(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    every = api.get(f"{apollo_emulator.url}/fields").json()["fields"]
    custom = api.get(f"{apollo_emulator.url}/fields", params={"source": "custom"}).json()["fields"]
    assert {field["source"] for field in every} == {"system", "custom"}
    assert [field["label"] for field in custom] == [
        "Lead score",
        "Segment",
        "Lead source detail",
        "Renewal date",
        "Trial user",
    ]
    segment = custom[1]
    assert segment["type"] == "picklist" and segment["id"].startswith("contact.")
    assert [value["name"] for value in segment["meta"]["picklist_values"]] == [
        "Enterprise",
        "Mid-Market",
        "SMB",
    ]
    assert custom == apollo_emulator.fields
    added = apollo_emulator.add_field("Tier", "picklist", options=["Gold", "Silver"])
    again = api.get(f"{apollo_emulator.url}/fields", params={"source": "custom"}).json()["fields"]
    assert again[-1] == added
    legacy = api.get(f"{apollo_emulator.url}/typed_custom_fields").json()["typed_custom_fields"]
    assert [field["name"] for field in legacy][-1] == "Tier"


def test_create_update_and_bulk_writes_accept_typed_custom_fields(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    score, segment = apollo_emulator.field_id("Lead score"), apollo_emulator.field_id("Segment")
    smb = apollo_emulator.picklist_option_id("Segment", "SMB")
    enterprise = apollo_emulator.picklist_option_id("Segment", "enterprise")
    url = apollo_emulator.url
    created = api.post(
        f"{url}/contacts", json={"first_name": "A", "typed_custom_fields": {score: "87", segment: smb}}
    )
    contact_id = created.json()["contact"]["id"]
    assert created.json()["contact"]["typed_custom_fields"] == {score: 87, segment: smb}
    # The "contact.<id>" spelling from GET /fields is accepted too; other fields are kept.
    updated = api.patch(
        f"{url}/contacts/{contact_id}", json={"typed_custom_fields": {f"contact.{segment}": enterprise}}
    )
    assert updated.json()["contact"]["typed_custom_fields"] == {score: 87, segment: enterprise}
    bulk = api.post(
        f"{url}/contacts/bulk_create",
        json={
            "contacts": [
                {"first_name": "B", "typed_custom_fields": {apollo_emulator.field_id("Trial user"): "true"}}
            ]
        },
    ).json()
    assert list(bulk["created_contacts"][0]["typed_custom_fields"].values()) == [True]
    cleared = api.post(
        f"{url}/contacts/bulk_update",
        json={"contact_ids": [contact_id], "typed_custom_fields": {score: None}},
    )
    assert cleared.json()["contacts"][0]["typed_custom_fields"] == {segment: enterprise}


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("Segment", "SMB"),
        ("Segment", "0" * 24),
        ("Lead score", "high"),
        ("Renewal date", "next week"),
        ("Trial user", "maybe"),
    ],
)
def test_an_invalid_value_is_a_422_and_nothing_is_written(
    api: requests.Session, apollo_emulator: ApolloEmulator, label: str, value: str
) -> None:
    [contact_id] = apollo_emulator.seed_contacts(1)
    field = apollo_emulator.field_id(label)
    url = apollo_emulator.url
    for response in (
        api.post(f"{url}/contacts", json={"first_name": "A", "typed_custom_fields": {field: value}}),
        api.patch(
            f"{url}/contacts/{contact_id}", json={"title": "CEO", "typed_custom_fields": {field: value}}
        ),
        api.post(
            f"{url}/contacts/bulk_create",
            json={"contacts": [{"first_name": "B", "typed_custom_fields": {field: value}}]},
        ),
        api.post(
            f"{url}/contacts/bulk_update",
            json={
                "contact_attributes": [
                    {"id": contact_id, "title": "CEO", "typed_custom_fields": {field: value}}
                ]
            },
        ),
    ):
        assert response.status_code == 422
        assert label in response.json()["error"] and "is not a valid" in response.json()["error"]
    assert apollo_emulator.contact_count == 1
    assert apollo_emulator.get_contact(contact_id)["title"] != "CEO"  # type: ignore[index]
