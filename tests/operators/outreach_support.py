"""
An emulated outreach team for the operator and sensor tests: its names, ``apollo_default`` pointing at
it, and what a write changed in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator
from airflow_provider_apollo.operators.sequences import ApolloAddToSequenceOperator
from airflow_provider_apollo.testing import ApolloEmulator, TaskInstanceStub

# The emulated team's sequence, the mailbox it sends from, and a user (an owner) other than the key's.
SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
GRACE = "grace.hopper@emulated-team.example"
# A bulk update of this many contacts takes two requests (100 a request).
TWO_BATCHES = 150
# Timestamps a repeated write may move; every other field must stay as the first run left it.
VOLATILE = frozenset({"updated_at"})


def connect(emulator: ApolloEmulator, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    """Point ``apollo_default`` at ``emulator`` (connection ``extra`` as given)."""
    connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))


@contextmanager
def outreach_team(monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[ApolloEmulator]:
    """
    A started emulator as ``apollo_default``, retrying within 0.2 s, whose sequence memberships never
    advance on their own: statuses are what the test makes them, and a second run sees what the first left.
    """
    with ApolloEmulator(sequence_step_seconds=None, **options) as emulator:
        connect(emulator, monkeypatch, max_retry_wait=0.2)
        yield emulator


def task_context() -> dict[str, Any]:
    """A task's context as the operators read it: a task instance keeping XComs through JSON."""
    return {"ti": TaskInstanceStub()}


def run(operator: Any) -> tuple[Any, dict[str, Any]]:
    """Execute ``operator`` as one task try; its return value and the XComs it pushed."""
    context = task_context()
    return operator.execute(context), context["ti"].xcoms


def people(n: int) -> list[dict[str, Any]]:
    return [{"first_name": f"P{i}", "last_name": "Test", "email": f"p{i}@example.com"} for i in range(n)]


def create_contacts(*contacts: dict[str, Any]) -> list[str]:
    """Create ``contacts`` through the API (with dedupe); their ids in order."""
    return [c["id"] for c in ApolloHook().bulk_create_contacts(list(contacts), run_dedupe=True)]


def writes(emulator: ApolloEmulator) -> list[str]:
    """Every request that could change something (searches and GETs only read), with its status."""
    return [
        f"{r.method} {r.path} -> {r.status}"
        for r in emulator.requests
        if r.method != "GET" and not r.path.endswith("/search")
    ]


def statuses(emulator: ApolloEmulator, path_part: str) -> list[int]:
    """The status of every request whose path holds ``path_part``, in order."""
    return [r.status for r in emulator.requests if path_part in r.path]


def team_state(emulator: ApolloEmulator, ignore: Collection[str] = ()) -> dict[str, Any]:
    """The team's contacts (less the fields in ``ignore``), their sequence memberships, the lists and sequences."""
    contacts = emulator.contacts
    return {
        "contacts": {
            i: {key: value for key, value in contact.items() if key not in ignore}
            for i, contact in contacts.items()
        },
        "memberships": {i: emulator.sequence_statuses(i) for i in contacts},
        "lists": emulator.labels,
        "sequences": emulator.sequences,
        "contact_count": emulator.contact_count,
    }


def assert_fails_before_any_write(
    team: ApolloEmulator,
    act: Callable[[list[str]], Any],
    error: type[BaseException],
    message: str,
    contacts: int = TWO_BATCHES,
) -> None:
    """
    ``act(ids)`` on contacts seeded straight into the emulator (not through the API) raises ``error``
    matching ``message``; the emulator received no write request and every contact is as it was.
    """
    ids = team.seed_contacts(contacts)
    before = team_state(team)

    with pytest.raises(error, match=message):
        act(ids)

    assert writes(team) == []
    assert team_state(team) == before


def assert_a_retried_task_changes_nothing_twice(
    team: ApolloEmulator, make: Callable[[list[str]], Any]
) -> None:
    """
    Run the operator ``make(ids)`` twice, as a retried task does, on four contacts on list
    "Target accounts", the first two also in sequence "Inbound demo follow-up": the second run
    answers as the first and changes nothing more.
    """
    ids = team.seed_contacts(4)
    team.add_label("Target accounts")
    ApolloAddToListsOperator(task_id="setup", contact_ids=ids, list_names="Target accounts").execute({})
    ApolloAddToSequenceOperator(
        task_id="setup", sequence="Inbound demo follow-up", contact_ids=ids[:2], mailbox=GRACE
    ).execute(task_context())
    before = team_state(team, ignore=VOLATILE)
    operator = make(ids)

    first = run(operator)
    after_first = team_state(team, ignore=VOLATILE)
    second = run(operator)

    assert after_first != before, "the first run changed nothing: the case tests nothing"
    assert second == first
    assert team_state(team, ignore=VOLATILE) == after_first
