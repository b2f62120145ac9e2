"""Scale: 100,000 seeded contacts and 60,000 seeded accounts served correctly (order, the 50,000 cap,
slicing under it, cache invalidation)."""

from __future__ import annotations

import time
from typing import Any

import requests

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.testing.emulator import SEARCH_RESULT_CAP


def test_seeds_100000_contacts_and_serves_pages_from_them(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    ids = apollo_emulator.seed_contacts(100_000)
    assert apollo_emulator.contact_count == 100_000
    assert len(set(ids)) == 100_000

    def page(number: int, **filters: Any) -> dict[str, Any]:
        response = api.post(
            f"{apollo_emulator.url}/contacts/search", json={**filters, "page": number, "per_page": 100}
        )
        assert response.status_code == 200
        return dict(response.json())

    first, second = page(1), page(2)
    # Apollo counts every match but serves only the first 50,000.
    assert first["pagination"]["total_entries"] == 100_000
    assert first["pagination"]["total_pages"] == SEARCH_RESULT_CAP // 100
    # The default order is the seeding (id) order, page after page.
    assert [c["id"] for c in first["contacts"] + second["contacts"]] == ids[:200]
    last_served = page(SEARCH_RESULT_CAP // 100)
    assert [c["id"] for c in last_served["contacts"]] == ids[SEARCH_RESULT_CAP - 100 : SEARCH_RESULT_CAP]
    assert page(SEARCH_RESULT_CAP // 100 + 1)["contacts"] == []

    # Sorted by updated_at, newest first, across the page boundary.
    newest = page(1, sort_by_field="contact_updated_at")["contacts"]
    next_newest = page(2, sort_by_field="contact_updated_at")["contacts"]
    stamps = [c["updated_at"] for c in newest + next_newest]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == 200
    # No contact outside these 200 is newer than the 200th (a sample of every 100th contact).
    shown = {c["id"] for c in newest + next_newest}
    for contact_id in ids[::100]:
        contact = apollo_emulator.get_contact(contact_id)
        assert contact is not None
        assert contact_id in shown or contact["updated_at"] <= stamps[-1]

    # A deletion is seen by the next search at once (no stale cached result at this size).
    apollo_emulator.delete_contacts(ids[:3])
    after = page(1)
    assert after["pagination"]["total_entries"] == 99_997
    assert [c["id"] for c in after["contacts"]] == ids[3:103]


def test_seeds_60000_accounts_in_seconds_and_serves_them_sliced_by_stage(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    started = time.monotonic()
    ids = apollo_emulator.seed_accounts(60_000)
    # Seconds, not minutes (about one on an idle machine; generous for a loaded CI runner).
    assert time.monotonic() - started < 20
    assert apollo_emulator.account_count == 60_000 and len(set(ids)) == 60_000

    def page(number: int, **filters: Any) -> dict[str, Any]:
        response = api.post(
            f"{apollo_emulator.url}/accounts/search", json={**filters, "page": number, "per_page": 100}
        )
        assert response.status_code == 200
        return dict(response.json())

    everything = page(1)
    # Apollo counts every match but displays only the first 50,000.
    assert everything["pagination"]["total_entries"] == 60_000
    assert everything["pagination"]["total_pages"] == SEARCH_RESULT_CAP // 100
    assert [a["id"] for a in page(SEARCH_RESULT_CAP // 100)["accounts"]] == ids[
        SEARCH_RESULT_CAP - 100 : SEARCH_RESULT_CAP
    ]
    assert page(SEARCH_RESULT_CAP // 100 + 1)["accounts"] == []

    # Sliced by account stage, every slice is under the cap and together they hold every account once.
    seen: list[str] = []
    for stage in apollo_emulator.account_stages:
        first = page(1, account_stage_ids=[stage["id"]])
        total = first["pagination"]["total_entries"]
        assert 0 < total < SEARCH_RESULT_CAP
        assert first["pagination"]["total_pages"] == -(-total // 100)
        found = [a["id"] for a in first["accounts"]]
        for number in range(2, first["pagination"]["total_pages"] + 1):
            found.extend(a["id"] for a in page(number, account_stage_ids=[stage["id"]])["accounts"])
        assert len(found) == total
        seen.extend(found)
    assert sorted(seen) == sorted(ids)

    # Sorted newest-updated first across a page boundary, and changes are seen at once at this size.
    newest = (
        page(1, sort_by_field="account_updated_at")["accounts"]
        + page(2, sort_by_field="account_updated_at")["accounts"]
    )
    records = apollo_emulator._accounts
    stamps = [records[a["id"]].updated_ms for a in newest]
    assert stamps == sorted(stamps, reverse=True)
    assert max(record.updated_ms for record in records.values()) == stamps[0]
    lead = apollo_emulator.account_stage_id("Lead")
    before = page(1, account_stage_ids=[lead])["pagination"]["total_entries"]
    moved = [a["id"] for a in page(1, account_stage_ids=[lead])["accounts"][:3]]
    apollo_emulator.set_account_stage(moved, "Evangelist")
    assert page(1, account_stage_ids=[lead])["pagination"]["total_entries"] == before - 3
