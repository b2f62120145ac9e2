"""Searching contacts: paging, filters, sorting, string pagination and the 50,000-record cap."""

from __future__ import annotations

import requests

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.testing.emulator import SEARCH_RESULT_CAP


def search(api: requests.Session, emulator: ApolloEmulator, **body: object) -> dict:
    response = api.post(f"{emulator.url}/contacts/search", json=body)
    response.raise_for_status()
    return response.json()


def test_search_pages_through_every_contact_once(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(237)
    pages = [search(api, apollo_emulator, page=page, per_page=100) for page in (1, 2, 3, 4)]
    assert [len(page["contacts"]) for page in pages] == [100, 100, 37, 0]
    assert pages[0]["pagination"] == {"page": 1, "per_page": 100, "total_entries": 237, "total_pages": 3}
    assert [contact["id"] for page in pages for contact in page["contacts"]] == ids
    assert pages[0]["partial_results_only"] is False
    assert pages[0]["partial_results_limit"] == 10000
    assert pages[0]["breadcrumbs"] == [] and pages[0]["num_fetch_result"] is None


def test_search_per_page_defaults_to_25_and_is_clamped_to_100(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    apollo_emulator.seed_contacts(150)
    assert search(api, apollo_emulator)["pagination"]["per_page"] == 25
    assert len(search(api, apollo_emulator, per_page=500)["contacts"]) == 100


def test_search_filters_by_stage_label_and_keywords(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    apollo_emulator.seed_contacts(50, stage="Cold")
    approaching = apollo_emulator.seed_contacts(7, stage="Approaching")
    labelled = api.post(
        f"{apollo_emulator.url}/contacts",
        json={"first_name": "Zed", "last_name": "Quux", "title": "Chief Unicorn", "label_names": ["vip"]},
    ).json()
    by_stage = search(api, apollo_emulator, contact_stage_ids=[apollo_emulator.stage_id("Approaching")])
    assert [contact["id"] for contact in by_stage["contacts"]] == approaching
    by_label = search(api, apollo_emulator, contact_label_ids=[labelled["labels"][0]["id"]])
    assert [contact["id"] for contact in by_label["contacts"]] == [labelled["contact"]["id"]]
    by_keyword = search(api, apollo_emulator, q_keywords="chief UNICORN")
    assert [contact["id"] for contact in by_keyword["contacts"]] == [labelled["contact"]["id"]]


def test_search_sorts_by_updated_at_descending_by_default(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    apollo_emulator.seed_contacts(60)
    newest_first = search(api, apollo_emulator, sort_by_field="contact_updated_at", per_page=100)["contacts"]
    stamps = [contact["updated_at"] for contact in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    oldest_first = search(
        api, apollo_emulator, sort_by_field="contact_updated_at", sort_ascending=True, per_page=100
    )["contacts"]
    assert [contact["updated_at"] for contact in oldest_first] == sorted(stamps)


def test_search_sees_changes_made_after_a_cached_query(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(30, stage="Cold")
    assert search(api, apollo_emulator, sort_by_field="contact_updated_at")["contacts"][0]["id"] != ids[0]
    apollo_emulator.set_contact_stage([ids[0]], "Replied")
    assert search(api, apollo_emulator, sort_by_field="contact_updated_at")["contacts"][0]["id"] == ids[0]


def test_search_accepts_query_parameters_and_string_numbers(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    apollo_emulator.seed_contacts(30, stage="Interested")
    stage = apollo_emulator.stage_id("Interested")
    response = api.post(
        f"{apollo_emulator.url}/contacts/search",
        params={"contact_stage_ids[]": stage, "page": "2", "per_page": "20"},
    ).json()
    assert response["pagination"] == {"page": 2, "per_page": 20, "total_entries": 30, "total_pages": 2}
    assert len(response["contacts"]) == 10


def test_pagination_can_arrive_as_strings() -> None:
    with ApolloEmulator(pagination_as_strings=True) as emulator, requests.Session() as api:
        api.headers["x-api-key"] = emulator.api_key
        emulator.seed_contacts(5)
        pagination = search(api, emulator, page=1, per_page=2)["pagination"]
    assert pagination == {"page": "1", "per_page": "2", "total_entries": 5, "total_pages": 3}


def test_search_serves_at_most_50000_records(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.seed_contacts(SEARCH_RESULT_CAP + 100)
    page_500 = search(api, apollo_emulator, page=500, per_page=100)
    assert page_500["pagination"]["total_entries"] == 50_100
    assert page_500["pagination"]["total_pages"] == 500
    assert len(page_500["contacts"]) == 100
    assert search(api, apollo_emulator, page=501, per_page=100)["contacts"] == []
    # With a page size that does not divide the cap, the last reachable page is short.
    last = search(api, apollo_emulator, page=506, per_page=99)
    assert last["pagination"]["total_pages"] == 506
    assert len(last["contacts"]) == SEARCH_RESULT_CAP - 505 * 99
    assert search(api, apollo_emulator, page=507, per_page=99)["contacts"] == []


def test_search_excludes_deleted_contacts(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(5)
    apollo_emulator.delete_contacts(ids[:2])
    assert [contact["id"] for contact in search(api, apollo_emulator)["contacts"]] == ids[2:]
