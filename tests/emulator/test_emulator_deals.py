"""Deals (Apollo's opportunities) as its Deals reference documents them: create, update, view, list and
deal stages."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.testing._deals import DEAL_STAGE_SPECS
from tests.emulator.conftest import session_for


def _create(api: requests.Session, emulator: ApolloEmulator, **fields: Any) -> dict[str, Any]:
    response = api.post(f"{emulator.url}/opportunities", json=fields)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"opportunity"}
    return dict(response.json()["opportunity"])


def _list(api: requests.Session, emulator: ApolloEmulator, **params: Any) -> dict[str, Any]:
    response = api.get(f"{emulator.url}/opportunities/search", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_create_answers_the_documented_deal(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    account = apollo_emulator.add_account("NASA", domain="nasa.gov")
    deal = _create(
        api,
        apollo_emulator,
        name="Massive Space Deal",
        account_id=account["id"],
        amount="99999999",
        owner_id=apollo_emulator.users[1]["id"],
        closed_date="2026-10-15",
        typed_custom_fields={"5b75f1c11dc2727d43ae3bb9": "test"},
    )
    # amount: a string in the request, a number in the answer.
    assert deal["amount"] == 99999999 and deal["amount_in_team_currency"] == 99999999
    # Without a stage: the first one (Qualify, 10%), as in the reference's example.
    assert deal["opportunity_stage_id"] == apollo_emulator.deal_stage_id("Qualify")
    assert (deal["deal_probability"], deal["forecasted_revenue"], deal["forecast_category"]) == (
        10,
        9999999.9,
        "pipeline",
    )
    assert (deal["is_closed"], deal["is_won"], deal["stage_name"]) == (False, False, None)
    assert deal["closed_date"] == "2026-10-15T00:00:00.000+00:00"
    assert deal["account_id"] == account["id"] and deal["owner_id"] == apollo_emulator.users[1]["id"]
    assert deal["created_by_id"] == apollo_emulator.users[0]["id"] and deal["source"] == "api"
    assert deal["currency"] == {"name": "US Dollar", "iso_code": "USD", "symbol": "$"}
    assert deal["typed_custom_fields"] == {"5b75f1c11dc2727d43ae3bb9": "test"}
    assert deal["opportunity_pipeline_id"] == apollo_emulator.deal_pipeline_id
    assert apollo_emulator.deal_count == 1


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("55123478", 55123478), (1500, 1500), ("12.5", 12.5), ("55,123,478", None), ("$100", None), ("", None)],
)
def test_amounts(api: requests.Session, apollo_emulator: ApolloEmulator, amount: Any, expected: Any) -> None:
    # "Commas are not accepted and result in the deal amount being left blank."
    deal = _create(api, apollo_emulator, name="Deal", amount=amount)
    assert deal["amount"] == expected
    assert deal["forecasted_revenue"] == (None if expected is None else expected * 10 / 100)


def test_create_errors(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    url = f"{apollo_emulator.url}/opportunities"
    for body in ({}, {"name": "  ", "amount": "100"}):
        response = api.post(url, json=body)
        assert (response.status_code, response.json()) == (422, {"error": "Name is required"})
    for field in ("account_id", "owner_id", "opportunity_stage_id"):
        response = api.post(url, json={"name": "X", field: "12345"})
        assert (response.status_code, response.json()) == (
            422,
            {"error": "Parameters misconfigured. 12345 is not a valid ID"},
        ), field
    bad_date = api.post(url, json={"name": "X", "closed_date": "30/10/2025"})
    assert bad_date.status_code == 422
    assert apollo_emulator.deal_count == 0


def test_an_account_can_be_named_by_its_organization_id(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    [account_id] = apollo_emulator.seed_accounts(1)
    account = apollo_emulator.get_account(account_id)
    assert account is not None and account["organization_id"]
    deal = _create(api, apollo_emulator, name="Via organization", account_id=account["organization_id"])
    assert deal["account_id"] == account_id


def test_update_changes_the_documented_fields(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    accounts = apollo_emulator.seed_accounts(2)
    deal = _create(api, apollo_emulator, name="Space Deal", account_id=accounts[0], amount="100")
    won = apollo_emulator.deal_stage_id("Closed Won")
    response = api.patch(
        f"{apollo_emulator.url}/opportunities/{deal['id']}",
        json={
            "name": "Ridiculously Massive Space Deal",
            "amount": "999999999999",
            "opportunity_stage_id": won,
            "closed_date": "2026-10-15",
            "owner_id": apollo_emulator.users[2]["id"],
            # Not a documented update field: ignored.
            "account_id": accounts[1],
        },
    )
    assert response.status_code == 200, response.text
    updated = response.json()["opportunity"]
    assert updated["name"] == "Ridiculously Massive Space Deal" and updated["amount"] == 999999999999
    assert (updated["is_closed"], updated["is_won"], updated["deal_probability"]) == (True, True, 100)
    assert updated["forecast_category"] == "closed"
    assert updated["stage_updated_at"] > deal["stage_updated_at"]
    assert updated["account_id"] == accounts[0] and updated["owner_id"] == apollo_emulator.users[2]["id"]
    assert updated["created_at"] == deal["created_at"]
    cleared = api.patch(f"{apollo_emulator.url}/opportunities/{deal['id']}", json={"amount": "1,000"}).json()
    assert cleared["opportunity"]["amount"] is None


def test_update_errors(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    missing = api.patch(f"{apollo_emulator.url}/opportunities/{'0' * 24}", json={"name": "X"})
    assert (missing.status_code, missing.json()) == (422, {"error": "Opportunity does not exist."})
    deal = _create(api, apollo_emulator, name="Deal")
    url = f"{apollo_emulator.url}/opportunities/{deal['id']}"
    assert api.patch(url, json={"opportunity_stage_id": "78977"}).status_code == 422
    assert api.patch(url, json={"name": ""}).json() == {"error": "Name is required"}
    # The reference documents PATCH only.
    assert api.put(url, json={"name": "X"}).status_code == 404


def test_view_shows_the_account(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    account = apollo_emulator.add_account("NASA", domain="nasa.gov")
    deal = apollo_emulator.add_deal("Space Deal", account_id=account["id"], amount=5000, stage="Propose")
    response = api.get(f"{apollo_emulator.url}/opportunities/{deal['id']}")
    assert response.status_code == 200
    viewed = response.json()["opportunity"]
    assert viewed["num_contacts"] == 0
    assert viewed["account"]["id"] == account["id"] and viewed["account"]["name"] == "NASA"
    assert (viewed["deal_probability"], viewed["forecasted_revenue"]) == (50, 2500.0)
    lone = apollo_emulator.add_deal("No account")
    assert (
        api.get(f"{apollo_emulator.url}/opportunities/{lone['id']}").json()["opportunity"]["account"] is None
    )


def test_view_errors(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    missing = api.get(f"{apollo_emulator.url}/opportunities/{'0' * 24}")
    assert (missing.status_code, missing.json()) == (404, {"status": 404, "error": "Not Found"})
    malformed = api.get(f"{apollo_emulator.url}/opportunities/opportunity_id")
    assert (malformed.status_code, malformed.json()) == (
        422,
        {"error": "Parameters misconfigured. opportunity_id is not a valid ID"},
    )


def test_list_pages_in_creation_order(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    apollo_emulator.seed_accounts(5)
    ids = apollo_emulator.seed_deals(35)
    first = _list(api, apollo_emulator, page=1, per_page=3)
    assert first["pagination"] == {"page": 1, "per_page": 3, "total_entries": 35, "total_pages": 12}
    assert [deal["id"] for deal in first["opportunities"]] == ids[:3]
    assert (first["breadcrumbs"], first["salesforce_users"], first["num_fetch_result"]) == ([], [], None)
    walked = [
        deal["id"] for page in range(1, 4) for deal in _list(api, apollo_emulator, page=page)["opportunities"]
    ]
    # 25 a page unless told.
    assert walked == ids
    assert _list(api, apollo_emulator, per_page=1000)["pagination"]["per_page"] == 100
    assert all(deal["account"]["id"] == deal["account_id"] for deal in first["opportunities"])


def test_list_sorts_by_the_documented_fields(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_deals(40)
    deals = apollo_emulator.deals
    by_amount = [
        d["id"] for d in _list(api, apollo_emulator, sort_by_field="amount", per_page=100)["opportunities"]
    ]
    amounts = [deals[i]["amount"] for i in by_amount]
    assert amounts == sorted(amounts, reverse=True) and sorted(by_amount) == sorted(ids)
    for field in ("is_closed", "is_won"):
        listed = [
            d[field] for d in _list(api, apollo_emulator, sort_by_field=field, per_page=100)["opportunities"]
        ]
        assert listed == sorted(listed, reverse=True) and True in listed and False in listed
    # An undocumented sort (or sort_ascending) changes nothing.
    assert [
        d["id"] for d in _list(api, apollo_emulator, sort_by_field="name", per_page=100)["opportunities"]
    ] == ids


def test_list_answers_the_cli_post_and_ignores_undocumented_filters(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    accounts = apollo_emulator.seed_accounts(3)
    ids = apollo_emulator.seed_deals(6, account_ids=accounts[:1])
    response = api.post(
        f"{apollo_emulator.url}/opportunities/search",
        json={"q_keywords": "nothing matches", "account_id": accounts[1], "page": 1, "per_page": 10},
    )
    assert response.status_code == 200
    assert [deal["id"] for deal in response.json()["opportunities"]] == ids
    assert {deal["account_id"] for deal in response.json()["opportunities"]} == {accounts[0]}


def test_deal_stages(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    stages = api.get(f"{apollo_emulator.url}/opportunity_stages").json()["opportunity_stages"]
    assert [stage["name"] for stage in stages] == [spec[0] for spec in DEAL_STAGE_SPECS]
    assert [stage["display_order"] for stage in stages] == list(range(len(DEAL_STAGE_SPECS)))
    won = stages[4]
    assert (won["name"], won["is_won"], won["is_closed"], won["probability"], won["type"]) == (
        "Closed Won",
        True,
        True,
        100,
        "Closed/Won",
    )
    assert {stage["opportunity_pipeline_id"] for stage in stages} == {apollo_emulator.deal_pipeline_id}
    assert apollo_emulator.deal_stage_id("closed lost") == stages[5]["id"]
    with pytest.raises(ValueError, match="known stages: Qualify"):
        apollo_emulator.deal_stage_id("Won")


def test_seeded_deals_are_deterministic_and_spread_over_the_accounts() -> None:
    def snapshot() -> list[tuple[str, Any, Any, Any]]:
        with ApolloEmulator(seed=7) as emulator:
            emulator.seed_accounts(10)
            emulator.seed_deals(50)
            return [
                (d["name"], d["amount"], d["opportunity_stage_id"], d["account_id"])
                for d in emulator.deals.values()
            ]

    first = snapshot()
    assert first == snapshot()
    assert len({account for *_, account in first}) > 5
    with ApolloEmulator() as emulator:
        assert {d["account_id"] for d in (emulator.get_deal(i) for i in emulator.seed_deals(3)) if d} == {
            None
        }
        with pytest.raises(ValueError, match="unknown account"):
            emulator.seed_deals(1, account_ids=["0" * 24])


def test_deal_endpoints_have_their_own_windows_and_faults() -> None:
    with ApolloEmulator(rate_limits={"minute": 1}) as emulator, session_for(emulator) as api:
        assert api.post(f"{emulator.url}/opportunities", json={"name": "A"}).status_code == 200
        limited = api.post(f"{emulator.url}/opportunities", json={"name": "B"})
        assert limited.status_code == 429
        assert "api/v1/opportunities is 1 times per minute" in limited.json()["message"]
        assert api.get(f"{emulator.url}/opportunities/search").status_code == 200
        emulator.reset_rate_limits()
        emulator.add_fault("drop_after_apply", path="/opportunities", method="POST")
        with pytest.raises(requests.ConnectionError):
            api.post(f"{emulator.url}/opportunities", json={"name": "C"})
        assert emulator.deal_count == 2
        assert emulator.request_count("/opportunities", method="POST") == 3


def test_apollo_cli_account_and_deal_commands_are_served() -> None:
    """Each request Apollo's own CLI (apolloio/apollo-io-cli 2.0.0, src/commands/accounts.ts and
    deals.ts) sends for its accounts and deals commands, as it sends it: an OAuth Bearer token, JSON
    bodies, list query parameters as ``name[]``."""
    with ApolloEmulator(oauth_tokens=["cli-token"]) as emulator, requests.Session() as cli:
        cli.headers.update({"authorization": "Bearer cli-token", "x-apollo-source": "apollo-cli"})
        url = emulator.url
        owner = emulator.users[1]["id"]
        created = cli.post(
            f"{url}/accounts",
            json={
                "name": "Acme",
                "domain": "acme.example",
                "phone": "555-555-0100",
                "raw_address": "Austin, Texas",
            },
        )
        account_id = created.json()["account"]["id"]
        lead = emulator.account_stage_id("Lead")
        calls = [
            created,
            cli.patch(f"{url}/accounts/{account_id}", json={"name": "Acme Inc"}),
            cli.post(
                f"{url}/accounts/bulk_create",
                json={"accounts": [{"name": "Globex", "domain": "globex.example"}]},
            ),
            cli.post(
                f"{url}/accounts/search",
                json={
                    "page": 1,
                    "per_page": 10,
                    "q_organization_name": "acme",
                    "account_stage_ids": [lead],
                    "sort_by_field": "account_created_at",
                    "sort_ascending": True,
                },
            ),
            cli.get(f"{url}/accounts/{account_id}"),
            cli.post(
                f"{url}/accounts/bulk_update",
                json={"account_attributes": [{"id": account_id, "name": "Acme"}]},
            ),
            cli.post(f"{url}/accounts/bulk_update", json={"account_ids": [account_id], "owner_id": owner}),
            cli.post(
                f"{url}/accounts/update_owners",
                json={},
                params={"account_ids[]": [account_id], "owner_id": owner},
            ),
            cli.get(f"{url}/account_stages"),
        ]
        deal = cli.post(
            f"{url}/opportunities",
            json={
                "name": "Q3 deal",
                "owner_id": owner,
                "account_id": account_id,
                "amount": 55123478,
                "currency_code": "USD",
                "opportunity_stage_id": emulator.deal_stage_id("Propose"),
                "closed_date": "2026-10-30",
                "description": "From the CLI",
            },
        )
        deal_id = deal.json()["opportunity"]["id"]
        calls += [
            deal,
            cli.post(f"{url}/opportunities/search", json={"page": 1, "per_page": 10, "q_keywords": "q3"}),
            cli.get(f"{url}/opportunities/{deal_id}"),
            cli.patch(
                f"{url}/opportunities/{deal_id}", json={"amount": "60000000", "closed_date": "2026-11-30"}
            ),
            cli.get(f"{url}/opportunity_stages"),
        ]
        assert [(call.request.method, call.status_code) for call in calls] == [
            (call.request.method, 200) for call in calls
        ], [call.text for call in calls if call.status_code != 200]
        assert emulator.get_deal(deal_id)["amount"] == 60000000  # type: ignore[index]
        assert emulator.get_account(account_id)["owner_id"] == owner  # type: ignore[index]
