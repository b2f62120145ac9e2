"""Lists (Apollo's labels): list names checked, contacts added and removed by list name, the answer read."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lists import check_list_names, list_membership_request, read_list_answer
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError


def test_a_single_list_name_is_a_list_of_one_and_names_are_stripped_once_each() -> None:
    assert check_list_names("Hot leads") == ["Hot leads"]
    assert check_list_names((" A ", "A", "B")) == ["A", "B"]


@pytest.mark.parametrize(
    ("names", "shown"),
    [([], "[]"), ((), "()"), (None, "None"), (5, "5"), ({"a": 1}, "{'a': 1}")],
)
def test_list_names_must_be_a_non_empty_list(names: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_list_names(names, argument="add_to_lists")
    assert str(caught.value) == f"add_to_lists must be a non-empty list of list names, got {shown}."


def test_bad_list_names_are_shown_five_at_most_by_their_repr() -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_list_names(["ok", "", " ", 3, None, "", 4.5])
    assert str(caught.value) == "list_names must contain non-empty strings only; got '', ' ', 3, None, ''."


@pytest.mark.parametrize(
    ("add", "path"),
    [(True, "/labels/add_entity_ids_to_label_names"), (False, "/labels/remove_entity_ids_from_label_names")],
)
def test_list_membership_request_is_a_synchronous_post_by_list_name(add: bool, path: str) -> None:
    request = list_membership_request(add, ["c1", "c2"], ["Hot"])
    assert request == ApiRequest(
        "POST",
        path,
        json_body={
            "entity_ids": ["c1", "c2"],
            "label_names": ["Hot"],
            "modality": "contacts",
            "async": False,
        },
        rate_group=path,
    )
    assert request.method == "POST" and request.rate_group == path


def test_list_answer_keeps_the_reported_lists_and_refuses_a_non_object() -> None:
    labels = [{"id": "l1", "name": "Hot"}, "junk", {"id": "l2", "name": "Cold"}]
    assert read_list_answer({"labels": labels}) == [labels[0], labels[2]]
    assert read_list_answer({"labels": None}) == [] and read_list_answer({}) == []
    with pytest.raises(ApolloApiError) as caught:
        read_list_answer(["not", "a", "dict"])
    assert caught.value.message == "Apollo answered a list change with an unexpected body"
    assert str(caught.value) == caught.value.message
    assert caught.value.body == ["not", "a", "dict"]
