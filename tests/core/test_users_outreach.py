"""An owner given by email or id, and an unknown one listing the team's users."""

from __future__ import annotations

import pytest

from airflow_provider_apollo.core.users import match_owner
from airflow_provider_apollo.exceptions import ApolloArgumentError


def test_owner_by_email_or_id_and_unknown_lists_users() -> None:
    users = [
        {"id": "u1", "email": "Ada@Example.com"},
        {"id": "u2", "email": "gone@example.com", "deleted": True},
    ]
    assert match_owner(users, "ada@example.com") == "u1"
    assert match_owner(users, "u1") == "u1"
    with pytest.raises(ApolloArgumentError, match=r"Unknown owner 'gone@example.com'.*Ada@Example.com"):
        match_owner(users, "gone@example.com")
