"""The list operators against the emulated team: lists by name, created on first use, and retries that change nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator, ApolloRemoveFromListsOperator
from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import assert_a_retried_task_changes_nothing_twice, create_contacts, people


def test_lists_by_name_created_on_first_use_and_removed(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(3))
    assert ApolloAddToListsOperator(task_id="a", contact_ids=ids, list_names="Fresh list").execute({}) == ids
    label = next(label for label in team.labels if label["name"] == "Fresh list")
    assert all(label["id"] in team.contacts[i]["label_ids"] for i in ids)
    ApolloRemoveFromListsOperator(task_id="r", contact_ids=ids[:1], list_names=["Fresh list"]).execute({})
    assert [label["id"] in team.contacts[i]["label_ids"] for i in ids] == [False, True, True]


def test_bad_list_names_fail_when_the_dag_is_parsed() -> None:
    with pytest.raises(ApolloArgumentError, match="list_names must contain non-empty strings"):
        ApolloAddToListsOperator(task_id="lists", contact_ids=["c1"], list_names=["Leads", " "])


# Each list write of the outreach workflow, given contacts that exist (all on "Target accounts").
RETRIED_WRITES: dict[str, Callable[[list[str]], Any]] = {
    "add to a new list": lambda ids: ApolloAddToListsOperator(
        task_id="list", contact_ids=ids, list_names=["Data leaders outreach"]
    ),
    "remove from a list": lambda ids: ApolloRemoveFromListsOperator(
        task_id="unlist", contact_ids=ids[:2], list_names="Target accounts"
    ),
}


@pytest.mark.parametrize("write", list(RETRIED_WRITES))
def test_a_retried_task_changes_nothing_twice(team: ApolloEmulator, write: str) -> None:
    assert_a_retried_task_changes_nothing_twice(team, RETRIED_WRITES[write])
