"""Scale: seeding 100,000 contacts and serving a page from them (timings printed, not asserted)."""

from __future__ import annotations

import time

import requests

from airflow_provider_apollo.testing import ApolloEmulator


def test_seeds_100000_contacts_and_serves_pages_from_them(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    started = time.perf_counter()
    apollo_emulator.seed_contacts(100_000)
    seeded = time.perf_counter() - started
    timings = []
    for body in (
        {"page": 1},
        {"page": 2},
        {"page": 1, "sort_by_field": "contact_updated_at"},
        {"page": 2, "sort_by_field": "contact_updated_at"},
    ):
        started = time.perf_counter()
        response = api.post(f"{apollo_emulator.url}/contacts/search", json={**body, "per_page": 100})
        timings.append(time.perf_counter() - started)
        assert len(response.json()["contacts"]) == 100
    print(
        f"\nseed 100k: {seeded:.2f}s; 100-contact page: first {timings[0] * 1000:.1f}ms, next {timings[1] * 1000:.1f}ms;"
        f" sorted first {timings[2] * 1000:.1f}ms, next {timings[3] * 1000:.1f}ms"
    )
    assert apollo_emulator.contact_count == 100_000
