"""Apollo's bulk-create answer matched back to its inputs: one contact an input, in the inputs' order.

(``test_contacts_core.py``, not ``test_contacts.py``: test files share one module namespace, and
``tests/operators/test_contacts.py`` holds that name.)
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.contacts import order_bulk_result
from airflow_provider_apollo.exceptions import ApolloApiError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator


def ids_for(inputs: list[dict[str, Any]], returned: list[dict[str, Any]]) -> list[str]:
    return [contact["id"] for contact in order_bulk_result(inputs, returned, [])]


# --------------------------------------------------------------------------- matching


def test_bulk_result_is_put_back_in_input_order() -> None:
    inputs = [{"email": "b@x.io"}, {"first_name": "Ann", "last_name": "Lee"}, {"email": "a@x.io"}]
    created = [{"id": "1", "email": "a@x.io"}, {"id": "3", "first_name": "Ann", "last_name": "Lee"}]
    existing = [{"id": "2", "email": "B@X.io"}]
    assert [c["id"] for c in order_bulk_result(inputs, created, existing)] == ["2", "3", "1"]


def test_contacts_are_matched_one_to_one_by_email_then_by_name() -> None:
    inputs = [{"email": "a@x.io"}, {"email": "A@x.io"}, {"first_name": "Z", "last_name": "Q"}]
    answer = [{"id": "1", "email": "a@x.io"}, {"id": "2", "email": "a@x.io"}]
    existing = [{"id": "3", "first_name": "z", "last_name": "q"}]
    assert [c["id"] for c in order_bulk_result(inputs, answer, existing)] == ["1", "2", "3"]


def test_bulk_create_hands_each_created_contact_to_exactly_one_input(
    apollo_connection: ApolloEmulator,
) -> None:
    same_email = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    inputs = [same_email, dict(same_email), {"first_name": "Bo", "email": "bo@example.com"}]
    created = ApolloHook().bulk_create_contacts(inputs, run_dedupe=False)
    ids = [contact["id"] for contact in created]
    assert len(set(ids)) == 3, f"one contact was handed to two inputs: {ids}"
    assert set(ids) <= set(apollo_connection.contacts)
    assert apollo_connection.contact_count == 3


def test_bulk_answers_match_by_name_and_company_then_by_position() -> None:
    inputs = [
        {"first_name": "Ann", "last_name": "Lee", "organization_name": "Acme"},
        {"first_name": "Bo"},
        {"title": "no email, no name"},
    ]
    created = [
        {"id": "c-bo", "first_name": "bo"},
        {"id": "c-other", "first_name": "Zed"},
    ]
    existing = [{"id": "c-ann", "first_name": "ANN ", "last_name": "lee", "organization_name": "acme"}]
    ordered = order_bulk_result(inputs, created, existing)
    assert [c["id"] for c in ordered] == ["c-ann", "c-bo", "c-other"]


def test_bulk_answers_match_on_a_last_name_alone_and_on_the_company() -> None:
    inputs = [
        {"last_name": "Lee", "organization_name": "Beta"},
        {"last_name": "Lee", "organization_name": "Acme"},
    ]
    returned = [
        {"id": "acme", "last_name": "lee", "organization_name": "ACME"},
        {"id": "beta", "last_name": "Lee", "organization_name": "beta "},
    ]
    assert [c["id"] for c in order_bulk_result(inputs, returned, [])] == ["beta", "acme"]
    with pytest.raises(ApolloApiError, match="some inputs could not be matched to a contact"):
        order_bulk_result([{"first_name": "A"}, {"first_name": "B"}], [{"id": "1", "first_name": "A"}], [])


def test_inputs_without_email_are_matched_by_first_name_alone() -> None:
    inputs = [{"first_name": "Ann"}, {"first_name": "Bob"}]
    returned = [{"id": "bob", "first_name": "Bob"}, {"id": "ann", "first_name": "Ann"}]
    assert ids_for(inputs, returned) == ["ann", "bob"]


def test_inputs_without_email_are_told_apart_by_first_or_by_last_name() -> None:
    by_first = [{"first_name": "Ann", "last_name": "Lee"}, {"first_name": "Bob", "last_name": "Lee"}]
    answered = [{"id": "bob", "first_name": "Bob", "last_name": "Lee"}, {"id": "ann", **by_first[0]}]
    assert ids_for(by_first, answered) == ["ann", "bob"]
    by_last = [{"first_name": "Ann", "last_name": "Lee"}, {"first_name": "Ann", "last_name": "Kim"}]
    answered = [{"id": "kim", **by_last[1]}, {"id": "lee", **by_last[0]}]
    assert ids_for(by_last, answered) == ["lee", "kim"]


# --------------------------------------------------------------------------- an answer short of contacts


def test_bulk_result_missing_contacts_is_an_error() -> None:
    with pytest.raises(Exception, match="2 inputs"):
        order_bulk_result([{"title": "x"}, {"title": "y"}], [{"id": "1"}], [])


def test_bulk_answers_with_fewer_contacts_than_inputs_fail_clearly() -> None:
    with pytest.raises(ApolloApiError, match="answered 1 contacts for 2 inputs"):
        order_bulk_result([{"email": "a@x.io"}, {"email": "b@x.io"}], [{"id": "1", "email": "a@x.io"}], [])


def test_an_answer_short_of_contacts_says_how_many_came_for_how_many_inputs() -> None:
    with pytest.raises(ApolloApiError) as caught:
        order_bulk_result([{"first_name": "A"}, {"first_name": "B"}], [{"id": "1", "first_name": "A"}], [])
    assert str(caught.value) == (
        "Apollo's bulk create answered 1 contacts for 2 inputs; some inputs could not be matched to a contact."
    )
