"""Keyword search splits on punctuation, as Apollo's own reference example needs."""

from __future__ import annotations

import requests

from airflow_provider_apollo.testing import ApolloEmulator


def test_keywords_with_commas_find_the_contact(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    created = api.post(
        f"{apollo_emulator.url}/contacts",
        json={"first_name": "Tim", "last_name": "Zheng", "title": "CEO", "organization_name": "Apollo"},
    ).json()["contact"]
    apollo_emulator.seed_contacts(20)
    url = f"{apollo_emulator.url}/contacts/search"
    for keywords in ("Tim Zheng, CEO, Apollo", "tim;zheng", "(CEO) - Apollo!"):
        found = api.post(url, json={"q_keywords": keywords}).json()["contacts"]
        assert [contact["id"] for contact in found] == [created["id"]], keywords
    assert api.post(url, json={"q_keywords": "Tim Zheng, CFO"}).json()["contacts"] == []
