"""Owners by email: the users listing, an email matched to a user id, the error for a refused key."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.users import (
    check_owner,
    list_users,
    looks_like_email,
    master_key_error,
    match_owner,
    users_page_request,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError


def test_users_are_listed_page_by_page_with_a_get() -> None:
    assert users_page_request(3) == ApiRequest(
        "GET", "/users/search", params=(("page", "3"), ("per_page", "100")), rate_group="/users/search"
    )
    pages = {
        "1": {"users": [{"id": "u1"}, "junk"], "pagination": {"page": 1, "total_pages": 2}},
        "2": {"users": [{"id": "u2"}], "pagination": {"page": 2, "total_pages": 2}},
    }
    sent: list[ApiRequest] = []

    def call(request: ApiRequest) -> Any:
        sent.append(request)
        assert len(sent) <= 3, "asked for more pages than there are"
        return pages[dict(request.params)["page"]]

    assert run_steps(list_users(), call) == [{"id": "u1"}, {"id": "u2"}]
    assert sent == [users_page_request(1), users_page_request(2)]


def test_owner_is_matched_by_id_or_email_and_deleted_users_do_not_count() -> None:
    users = [
        {"id": "u1", "email": "Ada@Example.com"},
        {"id": "u2", "email": "bo@example.com", "deleted": True},
        {"id": "u3", "email": "bo@example.com"},
        {"id": "u4"},
    ]
    assert match_owner(users, " u4 ") == "u4"
    assert match_owner(users, " ADA@example.COM ") == "u1"
    assert match_owner(users, "bo@example.com") == "u3"
    assert looks_like_email("ada@example.com") and not looks_like_email("u1")


def test_owner_by_email_or_id_and_unknown_lists_users() -> None:
    users = [
        {"id": "u1", "email": "Ada@Example.com"},
        {"id": "u2", "email": "gone@example.com", "deleted": True},
    ]
    assert match_owner(users, "ada@example.com") == "u1"
    assert match_owner(users, "u1") == "u1"
    with pytest.raises(ApolloArgumentError, match=r"Unknown owner 'gone@example.com'.*Ada@Example.com"):
        match_owner(users, "gone@example.com")


@pytest.mark.parametrize(("owner", "shown"), [(None, "None"), ("  ", "'  '"), (7, "7")])
def test_owner_must_be_a_non_empty_string(owner: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_owner(owner)
    assert str(caught.value) == (
        f"owner must be a non-empty string (an Apollo user id or the user's email), got {shown}."
    )
    assert check_owner(" u1 ") == "u1"


def test_unknown_owner_lists_thirty_live_emails_and_counts_the_rest() -> None:
    users = [{"id": f"u{i:02d}", "email": f"p{i:02d}@example.com"} for i in range(32)]
    users.append({"id": "gone", "email": "a-gone@example.com", "deleted": True})
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner(users, " x@example.com ")
    shown = ", ".join(f"p{i:02d}@example.com" for i in range(30))
    assert str(caught.value) == (
        f"Unknown owner 'x@example.com' (given as owner): no Apollo user has that email. The team's users: {shown} and 2 more."
    )
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner(users[:31], "x@example.com")
    assert str(caught.value).endswith(f"The team's users: {shown} and 1 more.")
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner(users[:30], "x@example.com")
    assert str(caught.value).endswith(f"The team's users: {shown}.")


def test_a_user_without_an_email_matches_no_email() -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner([{"id": "u1"}, {"id": "u2", "email": None}], "XXXX")
    assert str(caught.value) == (
        "Unknown owner 'XXXX' (given as owner): no Apollo user has that email. The team's users: none."
    )
    with pytest.raises(ApolloArgumentError, match=r"^Unknown owner 'XXXX' \(given as owner_email\): "):
        match_owner([], "XXXX", "owner_email")


def test_master_key_error_says_what_to_do_and_keeps_apollos_answer() -> None:
    refused = ApolloAuthError("forbidden", status_code=403, body={"error": "master key required"})
    error = master_key_error(refused, "ada@example.com")
    assert isinstance(error, ApolloAuthError)
    assert str(error) == (
        "Could not look up owner 'ada@example.com' by email: Apollo's users endpoint (GET /users/search) "
        "needs an API key with access to api/v1/users/search or a master API key, and this connection's "
        "key was refused (403). Either give the key access to that endpoint (or use a master key), or pass the owner's Apollo user id instead of the email (new_owner='<user id>'; "
        "an admin finds it in Apollo under Settings > Users, or with a master key through GET /users/search)."
    )
    assert error.status_code == 403 and error.body == {"error": "master key required"}
