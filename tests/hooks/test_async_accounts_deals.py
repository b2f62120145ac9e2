"""
The account and deal operations of ApolloAsyncHook against the emulator, next to the sync hook's.

Both hooks drive the same core generators (``core.operations`` over ``core.records``), so on two
identical emulated teams the same calls send the same requests and answer the same values.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from airflow_provider_apollo.core.contacts import BulkUpdateResult
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloNotFoundError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator

GRACE = "grace.hopper@emulated-team.example"

Teams = tuple[ApolloEmulator, ApolloEmulator]


@pytest.fixture
def teams(monkeypatch: pytest.MonkeyPatch) -> Iterator[Teams]:
    """Two identical teams: ``apollo_sync`` for the sync hook, ``apollo_async`` for the async one."""
    with ApolloEmulator() as sync_team, ApolloEmulator() as async_team:
        for name, team in (("APOLLO_SYNC", sync_team), ("APOLLO_ASYNC", async_team)):
            connection = {"conn_type": "apollo", "password": team.api_key, "host": team.url}
            monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(connection))
        yield sync_team, async_team


def both(teams: Teams, operation: Callable[[Any], Any]) -> tuple[Any, Any]:
    """
    Run ``operation(hook)`` through the sync hook on one team and awaited through the async hook on
    the other; the two answers, after checking that the two teams received the same requests.
    """
    sync_team, async_team = teams
    sync_before, async_before = len(sync_team.requests), len(async_team.requests)
    sync_result = operation(ApolloHook("apollo_sync"))

    async def main() -> Any:
        async with ApolloAsyncHook("apollo_async") as hook:
            awaitable: Awaitable[Any] = operation(hook)
            return await awaitable

    async_result = asyncio.run(main())
    sent_sync = [(r.method, r.path, r.query, r.body) for r in sync_team.requests[sync_before:]]
    sent_async = [(r.method, r.path, r.query, r.body) for r in async_team.requests[async_before:]]
    assert sent_async == sent_sync
    assert sent_sync, "the operation sent no request"
    return sync_result, async_result


def seed(teams: Teams, n: int, **options: Any) -> list[str]:
    ids = [team.seed_accounts(n, **options) for team in teams]
    assert ids[0] == ids[1], "the two teams must hand out the same ids"
    return ids[0]


def test_stages_of_accounts_and_deals_are_listed_and_resolved_by_name(teams: Teams) -> None:
    sync, run_async = both(teams, lambda hook: hook.list_account_stages())
    assert [s["name"] for s in run_async] == [s["name"] for s in sync]
    sync, run_async = both(teams, lambda hook: hook.resolve_deal_stage_id("closed won"))
    assert run_async == sync == teams[1].deal_stage_id("Closed Won")


def test_create_view_and_update_an_account(teams: Teams) -> None:
    fields = {"name": "Acme", "domain": "acme.example", "stage": "Lead", "owner_id": GRACE}
    sync, run_async = both(teams, lambda hook: hook.create_account(fields))
    assert run_async["id"] == sync["id"]
    assert run_async["account_stage_id"] == teams[1].account_stage_id("Lead")
    assert "@" not in run_async["owner_id"]
    account_id = run_async["id"]
    sync, run_async = both(teams, lambda hook: hook.update_account(account_id, {"phone": "555-555-0133"}))
    assert run_async["sanitized_phone"] == sync["sanitized_phone"] == "+15555550133"
    sync, run_async = both(teams, lambda hook: hook.get_account(account_id))
    timeless = {"created_at", "updated_at"}
    assert {k: v for k, v in run_async.items() if k not in timeless} == {
        k: v for k, v in sync.items() if k not in timeless
    }
    assert run_async["website_url"] == "http://www.acme.example"


def test_bulk_create_answers_one_account_per_input_in_order_existing_ones_unchanged(teams: Teams) -> None:
    for team in teams:
        team.add_account("Old Name", domain="co3.example")
    accounts = [{"name": f"Co {i}", "domain": f"co{i}.example"} for i in range(120)]
    batches: list[int] = []

    def create(hook: Any) -> Any:
        return hook.bulk_create_accounts(accounts, run_dedupe=True, on_batch=lambda i, _: batches.append(i))

    sync, run_async = both(teams, create)
    assert [a["id"] for a in run_async] == [a["id"] for a in sync]
    assert [a["domain"] for a in run_async] == [a["domain"] for a in accounts]
    assert run_async[3]["name"] == "Old Name"
    assert batches == [0, 1, 0, 1]


def test_account_stages_and_owners_update_in_batches(teams: Teams) -> None:
    ids = seed(teams, 3, stage="Lead")
    sync, run_async = both(teams, lambda hook: hook.update_account_stages(ids, "Evangelist", batch_size=2))
    assert isinstance(run_async, BulkUpdateResult)
    assert run_async.updated_ids == sync.updated_ids == ids
    assert {a["account_stage_id"] for a in run_async} == {teams[1].account_stage_id("Evangelist")}
    sync, run_async = both(teams, lambda hook: hook.update_account_owners(ids, GRACE))
    assert run_async.updated_ids == sync.updated_ids == ids
    grace = next(u["id"] for u in teams[1].users if u["email"] == GRACE)
    assert {teams[1].get_account(i)["owner_id"] for i in ids} == {grace}  # type: ignore[index]


def test_create_view_and_update_a_deal(teams: Teams) -> None:
    [account_id] = seed(teams, 1)
    deal = {"name": "Pilot", "account_id": account_id, "amount": 1200, "stage": "Propose"}
    sync, run_async = both(teams, lambda hook: hook.create_deal(deal))
    assert (run_async["id"], run_async["amount"]) == (sync["id"], 1200)
    deal_id = run_async["id"]
    sync, run_async = both(
        teams, lambda hook: hook.update_deal(deal_id, {"opportunity_stage_id": "Closed Lost"})
    )
    assert run_async["is_closed"] and not run_async["is_won"]
    assert run_async["opportunity_stage_id"] == sync["opportunity_stage_id"]
    sync, run_async = both(teams, lambda hook: hook.get_deal(deal_id))
    assert run_async["account"]["id"] == sync["account"]["id"] == account_id


def test_an_unknown_deal_is_apollos_404_through_either_hook(teams: Teams) -> None:
    async def main() -> Any:
        async with ApolloAsyncHook("apollo_async") as hook:
            return await hook.get_deal("0" * 24)

    with pytest.raises(ApolloNotFoundError):
        asyncio.run(main())
    with pytest.raises(ApolloNotFoundError):
        ApolloHook("apollo_sync").get_deal("0" * 24)


def test_stage_lists_are_read_once_per_hook(teams: Teams) -> None:
    async def twice(hook: ApolloAsyncHook) -> None:
        await hook.resolve_account_stage_id("Lead")
        await hook.create_account({"name": "A", "stage": "review"}, run_dedupe=True)
        await hook.create_deal({"name": "D", "stage": "Qualify"})
        await hook.update_deal((await hook.create_deal({"name": "E"}))["id"], {"stage": "Propose"})

    async def main() -> None:
        async with ApolloAsyncHook("apollo_async") as hook:
            await twice(hook)

    asyncio.run(main())
    assert teams[1].request_count("/account_stages") == 1
    assert teams[1].request_count("/opportunity_stages") == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda hook: hook.create_account({"phone": "1"}),
        lambda hook: hook.bulk_create_accounts([{"name": "A"}, {"name": "B", "twitter": "x"}]),
        lambda hook: hook.update_account("a1", {"linkedin_url": "x"}),
        lambda hook: hook.update_account_stages([], "Lead"),
        lambda hook: hook.update_account_owners(["a1"], 5),
        lambda hook: hook.create_deal({"name": "D", "amount": "1,000"}),
        lambda hook: hook.update_deal("d1", {"closed_date": "tomorrow"}),
        lambda hook: hook.get_account(None),
    ],
)
def test_bad_arguments_are_refused_before_any_request(teams: Teams, call: Callable[[Any], Any]) -> None:
    async def main() -> None:
        async with ApolloAsyncHook("apollo_async") as hook:
            await call(hook)

    with pytest.raises(ApolloArgumentError):
        asyncio.run(main())
    with pytest.raises(ApolloArgumentError):
        call(ApolloHook("apollo_sync"))
    assert teams[0].request_count() == teams[1].request_count() == 0
