"""Accounts as Apollo's Accounts reference documents them: create, update, view, search, bulk create and
update, owners, stages, account lists, and each contact's account_id pointing at a real account."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.testing._accounts import ACCOUNT_STAGE_SPECS, DEFAULT_ACCOUNT_STAGE
from tests.emulator.conftest import session_for

IRISH = {
    "name": "The Irish Copywriters",
    "domain": "irishcopywriters.ie",
    "phone": "555-555-0108",
    "raw_address": "Belfield, Dublin 4, Ireland",
}


def _create(api: requests.Session, emulator: ApolloEmulator, **fields: Any) -> dict[str, Any]:
    response = api.post(f"{emulator.url}/accounts", json=fields)
    assert response.status_code == 200, response.text
    return dict(response.json()["account"])


def _search(api: requests.Session, emulator: ApolloEmulator, **body: Any) -> dict[str, Any]:
    response = api.post(f"{emulator.url}/accounts/search", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


# ----------------------------------------------------------------- create, update, view


def test_create_answers_the_documented_account(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    account = _create(
        api, apollo_emulator, **IRISH, typed_custom_fields={"60c39ed82bd02f01154c470a": "2025-08-07"}
    )
    assert account["name"] == "The Irish Copywriters" and account["domain"] == "irishcopywriters.ie"
    assert account["phone"] == "555-555-0108" and account["sanitized_phone"] == "+15555550108"
    assert account["phone_status"] == "no_status"
    assert account["modality"] == "account" and account["source"] == "api"
    assert account["source_display_name"] == "Created from API"
    assert account["team_id"] == apollo_emulator.team_id
    assert account["typed_custom_fields"] == {"60c39ed82bd02f01154c470a": "2025-08-07"}
    # Without a stage or owner: the team's default stage and the key's user.
    assert account["account_stage_id"] == apollo_emulator.account_stage_id(DEFAULT_ACCOUNT_STAGE)
    assert account["owner_id"] == apollo_emulator.users[0]["id"]
    # As in the reference's example: no creator or organization for an API-created account.
    assert account["creator_id"] is None and account["organization_id"] is None
    assert apollo_emulator.account_count == 1


def test_create_does_no_dedupe(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    first = _create(api, apollo_emulator, **IRISH)
    second = _create(api, apollo_emulator, **IRISH)
    assert first["id"] != second["id"]
    assert apollo_emulator.account_count == 2


def test_create_needs_a_name_or_domain(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    response = api.post(f"{apollo_emulator.url}/accounts", json={"phone": "555-555-0108", "name": " "})
    assert (response.status_code, response.json()) == (
        422,
        {"error": "Please specify at least a name or domain."},
    )
    assert _create(api, apollo_emulator, domain="apollo.io")["name"] is None


@pytest.mark.parametrize("field", ["owner_id", "account_stage_id"])
def test_create_rejects_unknown_owner_and_stage_ids(
    api: requests.Session, apollo_emulator: ApolloEmulator, field: str
) -> None:
    response = api.post(f"{apollo_emulator.url}/accounts", json={"name": "Acme", field: "23423423"})
    assert response.status_code == 422
    assert response.json() == {"error": "Parameters misconfigured. 23423423 is not a valid ID"}
    assert apollo_emulator.account_count == 0


def test_update_changes_the_documented_fields_only(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    account = _create(api, apollo_emulator, **IRISH)
    lead = apollo_emulator.account_stage_id("Lead")
    owner = apollo_emulator.users[2]["id"]
    response = api.patch(
        f"{apollo_emulator.url}/accounts/{account['id']}",
        json={
            "name": "The Fast Irish Copywriters",
            "domain": "irishcopywriters.com",
            "phone": "555-555-0172",
            "account_stage_id": lead,
            "owner_id": owner,
            "raw_address": "Dallas, United States",
            # Not a documented update field: ignored.
            "salesforce_id": "001pJNj9pix2idKsfj",
        },
    )
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"account", "labels"} and payload["labels"] == []
    updated = payload["account"]
    assert (updated["name"], updated["domain"], updated["sanitized_phone"]) == (
        "The Fast Irish Copywriters",
        "irishcopywriters.com",
        "+15555550172",
    )
    assert (updated["account_stage_id"], updated["owner_id"], updated["salesforce_id"]) == (lead, owner, None)
    view = apollo_emulator.get_account(account["id"])
    assert view is not None and (view["city"], view["country"]) == ("Dallas", "United States")


def test_update_answers_422_for_an_unknown_account_and_is_patch_only(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    response = api.patch(f"{apollo_emulator.url}/accounts/account_id", json={"name": "X"})
    assert response.json() == {"error": "Parameters misconfigured. account_id is not a valid ID"}
    assert response.status_code == 422
    account = _create(api, apollo_emulator, **IRISH)
    # The reference documents PATCH only.
    assert api.put(f"{apollo_emulator.url}/accounts/{account['id']}", json={"name": "X"}).status_code == 404


def test_view_shows_the_company_and_its_contacts(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    account = _create(api, apollo_emulator, **IRISH)
    for email in ("a@irishcopywriters.ie", "b@irishcopywriters.ie"):
        created = api.post(
            f"{apollo_emulator.url}/contacts", json={"email": email, "account_id": account["id"]}
        )
        assert created.status_code == 200, created.text
    response = api.get(f"{apollo_emulator.url}/accounts/{account['id']}")
    assert response.status_code == 200
    payload = response.json()
    assert (payload["salesforce_users"], payload["hubspot_owners"]) == ([], [])
    view = payload["account"]
    assert view["id"] == account["id"] and view["num_contacts"] == 2
    assert (
        view["website_url"] == "http://www.irishcopywriters.ie"
        and view["primary_domain"] == "irishcopywriters.ie"
    )
    assert (view["city"], view["state"], view["country"]) == ("Belfield", "Dublin 4", "Ireland")
    assert view["contact_emailer_campaign_ids"] == []
    assert view["contact_campaign_status_tally"] == {
        "active": 0,
        "finished": 0,
        "not_sent": 0,
        "paused": 0,
        "bounced": 0,
    }


def test_view_answers_422_for_an_unknown_account(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    response = api.get(f"{apollo_emulator.url}/accounts/id")
    assert (response.status_code, response.json()) == (
        422,
        {"error": "Parameters misconfigured. id is not a valid ID"},
    )


def test_view_tallies_the_contacts_sequence_memberships(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    account = _create(api, apollo_emulator, name="Tally Co", domain="tally.example")
    ids = [
        api.post(
            f"{apollo_emulator.url}/contacts",
            json={"email": f"c{i}@tally.example", "first_name": f"C{i}", "account_id": account["id"]},
        ).json()["contact"]["id"]
        for i in range(3)
    ]
    active = apollo_emulator.sequence_id("Outbound - Data leaders")
    inactive = apollo_emulator.sequence_id("Re-engage cold accounts")
    mailbox = apollo_emulator.email_accounts[0]["id"]
    for sequence_id, contacts in ((active, ids[:2]), (inactive, ids[2:])):
        enrolled = api.post(
            f"{apollo_emulator.url}/emailer_campaigns/{sequence_id}/add_contact_ids",
            json={
                "emailer_campaign_id": sequence_id,
                "contact_ids": contacts,
                "send_email_from_email_account_id": mailbox,
                "sequence_unverified_email": True,
            },
        )
        assert enrolled.status_code == 200, enrolled.text
    apollo_emulator.reply_in_sequence(ids[0], active)
    view = api.get(f"{apollo_emulator.url}/accounts/{account['id']}").json()["account"]
    assert view["contact_emailer_campaign_ids"] == [active, inactive]
    # One finished by its reply, one still active, one paused before any email (inactive sequence).
    assert view["contact_campaign_status_tally"] == {
        "active": 1,
        "finished": 1,
        "not_sent": 1,
        "paused": 0,
        "bounced": 0,
    }


# ----------------------------------------------------------------- search


def test_search_matches_part_of_the_name_only(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    for name in ("NY Marketing Unlimited", "NY Market Analysts", "Apollo"):
        apollo_emulator.add_account(name, domain=f"{name.split()[-1].lower()}.example")
    found = _search(api, apollo_emulator, q_organization_name="marketing")
    # The reference's own example: "marketing" finds NY Marketing Unlimited, not NY Market Analysts.
    assert [account["name"] for account in found["accounts"]] == ["NY Marketing Unlimited"]
    assert found["breadcrumbs"] == [
        {
            "label": "Company Name",
            "signal_field_name": "q_organization_name",
            "value": "marketing",
            "display_name": "marketing",
        }
    ]
    # Only names are searched, not domains.
    assert _search(api, apollo_emulator, q_organization_name="unlimited.example")["accounts"] == []
    assert len(_search(api, apollo_emulator, q_organization_name="ny market")["accounts"]) == 2


def test_search_filters_by_any_of_the_stages(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_accounts(60)
    lead = apollo_emulator.account_stage_id("Lead")
    client = apollo_emulator.account_stage_id("Current Client")
    found = _search(api, apollo_emulator, account_stage_ids=[lead, client], per_page=100)
    expected = [i for i in ids if apollo_emulator.get_account(i)["account_stage_id"] in (lead, client)]  # type: ignore[index]
    assert [account["id"] for account in found["accounts"]] == expected and expected
    assert [crumb["display_name"] for crumb in found["breadcrumbs"]] == ["Lead", "Current Client"]
    unknown = api.post(f"{apollo_emulator.url}/accounts/search", json={"account_stage_ids": ["123"]})
    assert unknown.status_code == 422
    assert unknown.json() == {
        "error": "Your search parameters are entered incorrectly. Did you try to edit the URL directly?"
    }


def test_search_sorts_by_the_documented_fields(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_accounts(40)
    records = apollo_emulator._accounts

    def order(**body: Any) -> list[str]:
        return [a["id"] for a in _search(api, apollo_emulator, per_page=100, **body)["accounts"]]

    assert order() == ids
    # The most recent first, unless sort_ascending.
    assert order(sort_by_field="account_created_at") == ids[::-1]
    assert order(sort_by_field="account_created_at", sort_ascending=True) == ids
    by_updated = order(sort_by_field="account_updated_at")
    assert [records[i].updated_ms for i in by_updated] == sorted(
        (records[i].updated_ms for i in ids), reverse=True
    )
    by_activity = order(sort_by_field="account_last_activity_date", sort_ascending=True)
    stamps = [records[i].last_activity_ms for i in by_activity]
    present = [stamp for stamp in stamps if stamp is not None]
    # Accounts without activity come last.
    assert present == sorted(present) and stamps[len(present) :] == [None] * (len(stamps) - len(present))
    # sort_ascending alone applies no sorting.
    assert order(sort_ascending=True) == ids
    invalid = api.post(f"{apollo_emulator.url}/accounts/search", json={"sort_by_field": "name"})
    assert (invalid.status_code, invalid.json()) == (
        422,
        {"error": "Invalid sort criteria", "skip_alert_dialog": True},
    )


def test_search_pages(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_accounts(30)
    first = _search(api, apollo_emulator, page=1, per_page=20)
    second = _search(api, apollo_emulator, page="2", per_page="20")
    assert first["pagination"] == {"page": 1, "per_page": 20, "total_entries": 30, "total_pages": 2}
    assert [a["id"] for a in first["accounts"] + second["accounts"]] == ids
    assert _search(api, apollo_emulator)["pagination"]["per_page"] == 25
    assert _search(api, apollo_emulator, per_page=500)["pagination"]["per_page"] == 100
    assert _search(api, apollo_emulator, page=3, per_page=20)["accounts"] == []
    listed = first["accounts"][0]
    assert {"num_contacts", "contact_campaign_status_tally", "last_activity_date"} <= set(listed)


def test_search_sees_changes_at_once(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_accounts(5, stage="Review")
    review = apollo_emulator.account_stage_id("Review")
    assert _search(api, apollo_emulator, account_stage_ids=[review])["pagination"]["total_entries"] == 5
    apollo_emulator.set_account_stage(ids[:2], "Evangelist")
    assert _search(api, apollo_emulator, account_stage_ids=[review])["pagination"]["total_entries"] == 3
    api.patch(
        f"{apollo_emulator.url}/accounts/{ids[2]}",
        json={"account_stage_id": apollo_emulator.account_stage_id("Other")},
    )
    assert _search(api, apollo_emulator, account_stage_ids=[review])["pagination"]["total_entries"] == 2


# ----------------------------------------------------------------- bulk create


def _bulk_create(api: requests.Session, emulator: ApolloEmulator, **body: Any) -> dict[str, Any]:
    response = api.post(f"{emulator.url}/accounts/bulk_create", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_bulk_create_creates_up_to_100(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    entries = [{"name": f"Company {i}", "domain": f"company{i}.example"} for i in range(100)]
    result = _bulk_create(api, apollo_emulator, accounts=entries)
    assert len(result["created_accounts"]) == 100 and result["existing_accounts"] == []
    created = result["created_accounts"][0]
    assert created["owner_id"] == apollo_emulator.users[0]["id"]
    assert created["updated_at"] and created["created_at"]
    too_many = api.post(
        f"{apollo_emulator.url}/accounts/bulk_create", json={"accounts": [*entries, {"name": "X"}]}
    )
    assert (too_many.status_code, too_many.json()) == (
        422,
        {"error": "Please limit your array to 100 accounts or fewer."},
    )
    for body in ({}, {"accounts": {"name": "X"}}):
        missing = api.post(f"{apollo_emulator.url}/accounts/bulk_create", json=body)
        assert missing.status_code == 422
        assert missing.json() == {
            "error": 'Please provide an array of account attributes in the "accounts" parameter.'
        }
    assert apollo_emulator.account_count == 100


def test_bulk_create_matches_only_crm_ids_without_dedupe(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    first = _bulk_create(
        api,
        apollo_emulator,
        accounts=[
            {"name": "Acme", "domain": "acme.example", "salesforce_id": "001pJNj9pix2idKsfj"},
            {"name": "TechStart", "hubspot_id": "12345678", "merged_crm_ids": ["crm-7"]},
        ],
    )["created_accounts"]
    again = _bulk_create(
        api,
        apollo_emulator,
        accounts=[
            {"salesforce_id": "001pJNj9pix2idKsfj", "name": "New Name", "phone": "+1-555-0159"},
            {"hubspot_id": "crm-7", "name": "Another New Name"},
            # Same domain and name as Acme, but without run_dedupe only CRM ids match.
            {"name": "Acme", "domain": "acme.example"},
        ],
    )
    assert [a["id"] for a in again["existing_accounts"]] == [first[0]["id"], first[1]["id"]]
    # Returned without modification.
    assert [a["name"] for a in again["existing_accounts"]] == ["Acme", "TechStart"]
    assert again["existing_accounts"][0]["phone"] is None
    assert [a["name"] for a in again["created_accounts"]] == ["Acme"]
    assert apollo_emulator.account_count == 3


def test_bulk_create_with_dedupe_matches_domain_organization_and_name(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    [existing] = _bulk_create(
        api,
        apollo_emulator,
        accounts=[
            {
                "name": "Original Company Name",
                "domain": "existing.com",
                "organization_id": "5e66b6381e05b4008c8331b8",
            }
        ],
    )["created_accounts"]
    result = _bulk_create(
        api,
        apollo_emulator,
        run_dedupe=True,
        append_label_names=["Enterprise"],
        accounts=[
            {"domain": "https://www.Existing.com/", "name": "New Company Name"},
            {"organization_id": "5e66b6381e05b4008c8331b8", "name": "Other"},
            {"name": "original company name "},
            {"name": "Brand New", "domain": "brand-new.example"},
            # Matches the account created just before it in the same call.
            {"name": "Brand New Again", "domain": "brand-new.example"},
        ],
    )
    assert [a["id"] for a in result["existing_accounts"]] == [existing["id"]] * 3 + [
        result["created_accounts"][0]["id"]
    ]
    assert result["existing_accounts"][0]["name"] == "Original Company Name"
    [created] = result["created_accounts"]
    # append_label_names lists the created accounts only; the existing ones stay unchanged.
    enterprise = next(label for label in apollo_emulator.labels if label["name"] == "Enterprise")
    assert enterprise["modality"] == "accounts"
    assert created["label_ids"] == [enterprise["id"]]
    assert apollo_emulator.get_account(existing["id"])["label_ids"] == []  # type: ignore[index]


def test_bulk_create_checks_every_entry_before_writing(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    response = api.post(
        f"{apollo_emulator.url}/accounts/bulk_create",
        json={
            "accounts": [{"name": "Fine"}, {"name": "Bad", "account_stage_id": "507f1f77bcf86cd799439014"}]
        },
    )
    assert response.status_code == 422
    assert apollo_emulator.account_count == 0


# ----------------------------------------------------------------- bulk update and owners


def test_bulk_update_applies_shared_values_to_account_ids(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_accounts(3)
    review = apollo_emulator.account_stage_id("Review")
    owner = apollo_emulator.users[1]["id"]
    response = api.post(
        f"{apollo_emulator.url}/accounts/bulk_update",
        json={
            "account_ids": ids,
            "account_stage_id": review,
            "owner_id": owner,
            "name": "Same Name",
            "domain": "x.io",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accounts": [{"id": i, "account_stage_id": review} for i in ids]}
    for account_id in ids:
        account = apollo_emulator.get_account(account_id)
        assert account is not None
        assert (account["account_stage_id"], account["owner_id"], account["name"]) == (
            review,
            owner,
            "Same Name",
        )
        # domain is not one of the shared values bulk update takes.
        assert account["domain"] != "x.io"


def test_bulk_update_applies_attributes_one_by_one(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_accounts(2)
    response = api.post(
        f"{apollo_emulator.url}/accounts/bulk_update",
        json={
            "account_attributes": [
                {
                    "id": ids[0],
                    "name": "Acme Corporation",
                    "typed_custom_fields": {"60c39ed82bd02f01154c470a": "2025-08-07"},
                },
                {"id": ids[1], "account_stage_id": apollo_emulator.account_stage_id("Other")},
            ]
        },
    )
    assert response.status_code == 200, response.text
    first, second = (apollo_emulator.get_account(i) for i in ids)
    assert first is not None and second is not None
    assert first["name"] == "Acme Corporation"
    assert first["typed_custom_fields"] == {"60c39ed82bd02f01154c470a": "2025-08-07"}
    assert second["account_stage_id"] == apollo_emulator.account_stage_id("Other")


def test_bulk_update_limits_and_errors(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_accounts(1000)
    url = f"{apollo_emulator.url}/accounts/bulk_update"
    assert api.post(url, json={"account_ids": ids, "name": "Thousand"}).status_code == 200
    too_many = api.post(url, json={"account_ids": [*ids, "0" * 24], "name": "X"})
    assert (too_many.status_code, too_many.json()) == (
        422,
        {"error": "Please limit your array to fewer than 1000."},
    )
    not_async = api.post(url, json={"account_attributes": [{"id": ids[0], "name": "X"}], "async": True})
    assert (not_async.status_code, not_async.json()) == (422, {"error": "Async processing is not permitted."})
    unknown = api.post(url, json={"account_ids": [ids[0], "0" * 24], "name": "Changed"})
    assert unknown.status_code == 422 and "0" * 24 in unknown.json()["error"]
    # Nothing was written by the failed call.
    assert apollo_emulator.get_account(ids[0])["name"] == "Thousand"  # type: ignore[index]
    assert api.post(url, json={"name": "X"}).status_code == 422
    job = api.post(url, json={"account_ids": ids[:2], "name": "Async", "async": True}).json()[
        "entity_progress_job"
    ]
    assert job["entity_ids"] == ids[:2] and job["job_type"] == "account_bulk_update"
    assert apollo_emulator.get_account(ids[1])["name"] == "Async"  # type: ignore[index]


def test_update_owners_takes_query_parameters(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_accounts(3)
    owner = apollo_emulator.users[2]["id"]
    url = f"{apollo_emulator.url}/accounts/update_owners"
    response = api.post(url, params={"account_ids[]": ids[:2], "owner_id": owner})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accounts": [{"id": i, "owner_id": owner, "crm_owner_id": None} for i in ids[:2]]
    }
    assert [apollo_emulator.get_account(i)["owner_id"] for i in ids[:2]] == [owner, owner]  # type: ignore[index]
    missing_ids = api.post(url, params={"owner_id": owner})
    assert missing_ids.json() == {"error": "Required parameter 'account_ids' missing"}
    missing_owner = api.post(url, params={"account_ids[]": ids})
    assert (missing_owner.status_code, missing_owner.json()) == (
        422,
        {"error": "Required parameter 'owner_id' missing"},
    )
    assert api.post(url, params={"account_ids[]": ids, "owner_id": "23423423"}).status_code == 422


def test_account_stages_are_the_reference_examples(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    stages = api.get(f"{apollo_emulator.url}/account_stages").json()["account_stages"]
    assert [stage["name"] for stage in stages] == [spec[0] for spec in ACCOUNT_STAGE_SPECS]
    assert [stage["display_order"] for stage in stages] == list(range(1, 12))
    assert set(stages[0]) == {
        "id",
        "team_id",
        "display_name",
        "name",
        "display_order",
        "default_exclude_for_leadgen",
        "category",
        "is_meeting_set",
    }
    assert apollo_emulator.account_stage_id("lead") == stages[6]["id"]
    with pytest.raises(ValueError, match="known stages: Review"):
        apollo_emulator.account_stage_id("Cold")


# ----------------------------------------------------------------- lists of accounts


def test_account_lists(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_accounts(4)
    # List names are unique per modality: a contact list "Target accounts" already exists.
    created = api.post(
        f"{apollo_emulator.url}/labels", json={"name": "Target accounts", "modality": "accounts"}
    )
    assert created.status_code == 200, created.text
    label = created.json()["label"]
    assert label["modality"] == "accounts"
    duplicate = api.post(
        f"{apollo_emulator.url}/labels", json={"name": "target accounts", "modality": "accounts"}
    )
    assert duplicate.status_code == 422
    added = api.post(
        f"{apollo_emulator.url}/labels/add_entity_ids_to_label_names",
        json={"entity_ids": ids[:2], "label_names": ["Target accounts"], "modality": "accounts"},
    )
    assert added.status_code == 200, added.text
    assert [(listed["id"], listed["cached_count"]) for listed in added.json()["labels"]] == [(label["id"], 2)]
    found = _search(api, apollo_emulator, account_label_ids=[label["id"]])
    assert [account["id"] for account in found["accounts"]] == ids[:2]
    assert found["breadcrumbs"][0]["display_name"] == "Target accounts"
    api.post(
        f"{apollo_emulator.url}/labels/remove_entity_ids_from_label_names",
        json={"entity_ids": [ids[0]], "label_names": ["Target accounts"], "modality": "accounts"},
    )
    assert [
        a["id"] for a in _search(api, apollo_emulator, account_label_ids=[label["id"]])["accounts"]
    ] == ids[1:2]
    patched = api.patch(f"{apollo_emulator.url}/accounts/{ids[1]}", json={"phone": "555-555-0101"}).json()
    assert [listed["name"] for listed in patched["labels"]] == ["Target accounts"]
    # Contact lists are untouched: the contact list of the same name still holds no account.
    contact_list = next(
        listed
        for listed in api.get(f"{apollo_emulator.url}/labels").json()
        if listed["modality"] == "contacts" and listed["name"] == "Target accounts"
    )
    assert contact_list["cached_count"] == 0


# ----------------------------------------------------------------- contacts and their accounts


def test_seeded_contacts_belong_to_real_accounts(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    # An account that already has a seeded company's domain is reused, not duplicated.
    acme = apollo_emulator.add_account("ACME (ours)", domain="acme.com")
    ids = apollo_emulator.seed_contacts(200)
    contacts = apollo_emulator.contacts
    account_ids = {contact["account_id"] for contact in contacts.values()}
    assert None not in account_ids
    assert apollo_emulator.account_count == len(account_ids) <= 20
    for account_id in account_ids:
        response = api.get(f"{apollo_emulator.url}/accounts/{account_id}")
        assert response.status_code == 200
        account = response.json()["account"]
        members = [c for c in contacts.values() if c["account_id"] == account_id]
        assert account["num_contacts"] == len(members)
        # Each account is its contacts' company.
        assert {c["organization_name"] for c in members} in ({account["name"]}, {"Acme Corp"})
        assert {c["organization_id"] for c in members} == {account["organization_id"]} or account[
            "id"
        ] == acme["id"]
    acme_contacts = [c for c in contacts.values() if c["email"].endswith("@acme.com")]
    assert acme_contacts and {c["account_id"] for c in acme_contacts} == {acme["id"]}
    # Seeding more contacts reuses the same accounts.
    apollo_emulator.seed_contacts(50)
    assert apollo_emulator.account_count == len({c["account_id"] for c in apollo_emulator.contacts.values()})
    assert ids


def test_a_contacts_account_id_must_name_an_account(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    unknown = api.post(
        f"{apollo_emulator.url}/contacts",
        json={"email": "a@b.example", "account_id": "63f53afe4ceeca00016bdd2f"},
    )
    assert (unknown.status_code, unknown.json()) == (
        422,
        {"error": "Parameters misconfigured. 63f53afe4ceeca00016bdd2f is not a valid ID"},
    )
    account = _create(api, apollo_emulator, **IRISH)
    contact = api.post(
        f"{apollo_emulator.url}/contacts", json={"email": "a@b.example", "account_id": account["id"]}
    )
    assert contact.status_code == 200 and contact.json()["contact"]["account_id"] == account["id"]
    contact_id = contact.json()["contact"]["id"]
    other = _create(api, apollo_emulator, name="Other")
    moved = api.patch(f"{apollo_emulator.url}/contacts/{contact_id}", json={"account_id": other["id"]})
    assert moved.json()["contact"]["account_id"] == other["id"]
    assert apollo_emulator.get_account(account["id"])["num_contacts"] == 0  # type: ignore[index]
    assert apollo_emulator.get_account(other["id"])["num_contacts"] == 1  # type: ignore[index]


# ----------------------------------------------------------------- machinery: limits, faults, counting, CLI


def test_account_endpoints_have_their_own_rate_limit_windows() -> None:
    with ApolloEmulator(rate_limits={"minute": 2}) as emulator, session_for(emulator) as api:
        for _ in range(2):
            assert api.post(f"{emulator.url}/accounts/search", json={}).status_code == 200
        limited = api.post(f"{emulator.url}/accounts/search", json={})
        assert limited.status_code == 429
        assert limited.json()["message"].startswith(
            "The maximum number of api calls allowed for api/v1/accounts/search is 2 times per minute."
        )
        assert limited.headers["x-minute-requests-left"] == "0"
        # Other endpoints, contacts search included, have windows of their own.
        assert api.post(f"{emulator.url}/contacts/search", json={}).status_code == 200
        assert api.get(f"{emulator.url}/account_stages").status_code == 200
        usage = api.post(f"{emulator.url}/usage_stats/api_usage_stats").json()
        assert usage['["api/v1/accounts", "search"]']["minute"] == {"limit": 2, "consumed": 2, "left_over": 0}
        assert '["api/v1/account_stages", "index"]' in usage


def test_account_faults_and_request_counting(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.add_fault("status", status=500, path="/accounts/bulk_create")
    failed = api.post(f"{apollo_emulator.url}/accounts/bulk_create", json={"accounts": [{"name": "Acme"}]})
    assert failed.status_code == 500 and failed.json()["error"].endswith("Please try again.")
    assert apollo_emulator.account_count == 0
    apollo_emulator.add_fault("status_after_apply", status=503, path="/accounts", method="POST")
    assert api.post(f"{apollo_emulator.url}/accounts", json={"name": "Acme"}).status_code == 503
    assert apollo_emulator.account_count == 1
    apollo_emulator.add_fault("drop", path="/accounts/search")
    with pytest.raises(requests.ConnectionError):
        api.post(f"{apollo_emulator.url}/accounts/search", json={})
    assert apollo_emulator.request_count("/accounts") == 3
    assert apollo_emulator.request_count("/accounts", method="POST") == 3
    assert apollo_emulator.status_counts() == {500: 1, 503: 1, 0: 1}


def test_cli_seeds_accounts_and_deals() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_apollo.testing",
            "--port",
            "0",
            "--seed",
            "10",
            "--seed-accounts",
            "30",
            "--seed-deals",
            "12",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        headers = {"x-api-key": "test-key"}
        accounts = requests.post(f"{url}/accounts/search", headers=headers, json={}, timeout=5).json()
        # 30 seeded accounts plus those of the seeded contacts' companies.
        assert accounts["pagination"]["total_entries"] > 30
        deals = requests.get(f"{url}/opportunities/search", headers=headers, timeout=5).json()
        assert deals["pagination"]["total_entries"] == 12
        assert all(deal["account"] is not None for deal in deals["opportunities"])
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
