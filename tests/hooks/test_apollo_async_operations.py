"""
Every multi-request operation of ApolloAsyncHook, against the emulator, next to the sync hook's.

Both hooks drive the same core generator (``airflow_provider_apollo.core.operations``), so on two
identical emulated teams the same calls must send the same requests and answer the same values.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from airflow_provider_apollo.core.contacts import BulkUpdateResult
from airflow_provider_apollo.core.sequences import EnrollmentResult
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator

SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
GRACE = "grace.hopper@emulated-team.example"


@pytest.fixture
def teams(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ApolloEmulator, ApolloEmulator]]:
    """Two identical teams: ``apollo_sync`` for the sync hook, ``apollo_async`` for the async one."""
    with (
        ApolloEmulator(sequence_step_seconds=None) as sync_team,
        ApolloEmulator(sequence_step_seconds=None) as async_team,
    ):
        for name, team in (("APOLLO_SYNC", sync_team), ("APOLLO_ASYNC", async_team)):
            connection = {"conn_type": "apollo", "password": team.api_key, "host": team.url}
            monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(connection))
        yield sync_team, async_team


def both(
    teams: tuple[ApolloEmulator, ApolloEmulator],
    sync: Callable[[ApolloHook], Any],
    run_async: Callable[[ApolloAsyncHook], Awaitable[Any]],
) -> tuple[Any, Any]:
    """Run one operation through each hook on its own team; the two answers, after checking the requests match."""
    sync_team, async_team = teams
    sync_before, async_before = len(sync_team.requests), len(async_team.requests)
    sync_result = sync(ApolloHook("apollo_sync"))

    async def main() -> Any:
        async with ApolloAsyncHook("apollo_async") as hook:
            return await run_async(hook)

    async_result = asyncio.run(main())
    sent_sync = [(r.method, r.path) for r in sync_team.requests[sync_before:]]
    sent_async = [(r.method, r.path) for r in async_team.requests[async_before:]]
    assert sent_async == sent_sync
    assert sent_sync, "the operation sent no request"
    return sync_result, async_result


def seed(teams: tuple[ApolloEmulator, ApolloEmulator], n: int) -> list[str]:
    ids = [team.seed_contacts(n) for team in teams]
    assert ids[0] == ids[1], "the two teams must hand out the same ids"
    return ids[0]


def people(n: int) -> list[dict[str, Any]]:
    return [{"first_name": f"P{i}", "last_name": "Test", "email": f"p{i}@example.com"} for i in range(n)]


def test_bulk_create_answers_one_contact_per_input_in_order(teams: Any) -> None:
    batches: list[int] = []
    sync, run_async = both(
        teams,
        lambda hook: hook.bulk_create_contacts(people(150), run_dedupe=True),
        lambda hook: hook.bulk_create_contacts(
            people(150), run_dedupe=True, on_batch=lambda i, _: batches.append(i)
        ),
    )
    assert [c["email"] for c in run_async] == [c["email"] for c in sync] == [p["email"] for p in people(150)]
    assert batches == [0, 1]


def test_create_and_update_one_contact_resolve_custom_fields_and_owner_emails(teams: Any) -> None:
    created = both(
        teams,
        lambda hook: hook.create_contact({"first_name": "A", "last_name": "B", "email": "ab@example.com"}),
        lambda hook: hook.create_contact({"first_name": "A", "last_name": "B", "email": "ab@example.com"}),
    )
    assert created[0]["email"] == created[1]["email"] == "ab@example.com"
    contact_id = created[1]["id"]
    sync, run_async = both(
        teams,
        lambda hook: hook.update_contact(created[0]["id"], {"title": "CTO", "owner_id": GRACE}),
        lambda hook: hook.update_contact(contact_id, {"title": "CTO", "owner_id": GRACE}),
    )
    assert run_async["title"] == sync["title"] == "CTO"
    assert run_async["owner_id"] == sync["owner_id"]
    assert "@" not in str(run_async["owner_id"])


def test_stage_update_skips_deleted_contacts_and_owner_update_takes_an_email(teams: Any) -> None:
    ids = seed(teams, 3)
    for team in teams:
        team.delete_contacts(ids[0])
    sync, run_async = both(
        teams,
        lambda hook: hook.update_contact_stages(ids, "Replied", skip_deleted=True),
        lambda hook: hook.update_contact_stages(ids, "Replied", skip_deleted=True),
    )
    assert isinstance(run_async, BulkUpdateResult)
    assert run_async.updated_ids == sync.updated_ids == ids[1:]
    assert run_async.skipped_deleted_ids == sync.skipped_deleted_ids == [ids[0]]
    sync, run_async = both(
        teams,
        lambda hook: hook.update_contact_owners(ids[1:], GRACE),
        lambda hook: hook.update_contact_owners(ids[1:], GRACE),
    )
    assert run_async.updated_ids == sync.updated_ids == ids[1:]


def test_a_deleted_contact_fails_the_stage_update_without_skip_deleted(teams: Any) -> None:
    ids = seed(teams, 2)
    teams[1].delete_contacts(ids[0])

    async def update(hook: ApolloAsyncHook) -> Any:
        return await hook.update_contact_stages(ids, "Replied")

    async def main() -> Any:
        async with ApolloAsyncHook("apollo_async") as hook:
            return await update(hook)

    with pytest.raises(ApolloValidationError) as raised:
        asyncio.run(main())
    assert raised.value.deleted_contact_ids == [ids[0]]


def test_bulk_update_by_ids_and_per_contact(teams: Any) -> None:
    ids = seed(teams, 3)
    sync, run_async = both(
        teams,
        lambda hook: hook.bulk_update_contacts(contact_ids=ids, values={"title": "VP"}),
        lambda hook: hook.bulk_update_contacts(contact_ids=ids, values={"title": "VP"}),
    )
    assert run_async.updated_ids == sync.updated_ids == ids
    updates = [{"id": contact_id, "title": f"T{i}"} for i, contact_id in enumerate(ids)]
    sync, run_async = both(
        teams,
        lambda hook: hook.bulk_update_contacts(updates, batch_size=2),
        lambda hook: hook.bulk_update_contacts(updates, batch_size=2),
    )
    assert [c["title"] for c in run_async] == [c["title"] for c in sync] == ["T0", "T1", "T2"]


def test_enroll_then_remove_from_a_sequence_by_name(teams: Any) -> None:
    ids = [
        [c["id"] for c in ApolloHook(conn).bulk_create_contacts(people(3), run_dedupe=True)]
        for conn in ("apollo_sync", "apollo_async")
    ]
    assert ids[0] == ids[1]
    sync, run_async = both(
        teams,
        lambda hook: hook.add_to_sequence(SEQUENCE, ids[0], mailbox=MAILBOX),
        lambda hook: hook.add_to_sequence(SEQUENCE, ids[0], mailbox=MAILBOX),
    )
    assert isinstance(run_async, EnrollmentResult)
    assert run_async == sync
    assert run_async.enrolled == ids[0]
    sync, run_async = both(
        teams,
        lambda hook: hook.remove_from_sequence(SEQUENCE, ids[0], mode="remove"),
        lambda hook: hook.remove_from_sequence(SEQUENCE, ids[0], mode="remove"),
    )
    assert run_async == sync == ids[0]


def test_lists_add_and_remove_by_name(teams: Any) -> None:
    ids = seed(teams, 2)
    sync, run_async = both(
        teams,
        lambda hook: hook.add_to_lists(ids, ["Hot leads"]),
        lambda hook: hook.add_to_lists(ids, ["Hot leads"]),
    )
    assert run_async == sync == ids
    sync, run_async = both(
        teams,
        lambda hook: hook.remove_from_lists(ids, ["Hot leads"]),
        lambda hook: hook.remove_from_lists(ids, ["Hot leads"]),
    )
    assert run_async == sync == ids


def test_look_ups_are_made_once_per_hook(teams: Any) -> None:
    async def twice(hook: ApolloAsyncHook) -> tuple[Any, ...]:
        first = await hook.find_sequence(SEQUENCE)
        second = await hook.find_sequence(f" {SEQUENCE} ")
        owner = await hook.resolve_owner_id(GRACE)
        again = await hook.resolve_owner_id(GRACE.upper())
        return first, second, owner, again

    async def main() -> Any:
        async with ApolloAsyncHook("apollo_async") as hook:
            return await twice(hook)

    before = teams[1].request_count()
    first, second, owner, again = asyncio.run(main())
    assert first == second and owner == again
    assert teams[1].request_count("/users/search") == 1
    searches = teams[1].request_count("/emailer_campaigns/search")
    assert teams[1].request_count() - before == searches + 1


def test_bad_arguments_are_refused_before_any_request(teams: Any) -> None:
    async def main() -> None:
        async with ApolloAsyncHook("apollo_async") as hook:
            await hook.add_to_sequence(SEQUENCE, ["a"], mailbox=MAILBOX, status="running")

    with pytest.raises(ApolloArgumentError, match=r"^status must be 'active' or 'paused'"):
        asyncio.run(main())
    assert teams[1].request_count() == 0
