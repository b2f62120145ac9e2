"""Scale: 100,000 seeded contacts served correctly (order, the 50,000 cap, cache invalidation)."""

from __future__ import annotations

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
