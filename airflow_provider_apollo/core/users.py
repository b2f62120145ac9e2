"""Owners by email: the users listing, matching an email to a user id, and the master-key error."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import Any

from airflow_provider_apollo.core.endpoints import PATH_USERS_SEARCH, SEARCH_PER_PAGE_MAX, ApiRequest
from airflow_provider_apollo.core.sequences import listing, read_all_pages
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError


def looks_like_email(value: str) -> bool:
    return "@" in value


def users_page_request(page: int) -> ApiRequest:
    """``GET /users/search`` (the reference's form; it needs a master key)."""
    return ApiRequest(
        "GET",
        PATH_USERS_SEARCH,
        params=(("page", str(page)), ("per_page", str(SEARCH_PER_PAGE_MAX))),
        rate_group=PATH_USERS_SEARCH,
    )


def list_users() -> Generator[ApiRequest, Any, list[dict[str, Any]]]:
    """Every user of the team, page by page."""
    users = yield from read_all_pages(users_page_request, "users")
    return users


def match_owner(users: Sequence[Mapping[str, Any]], owner: str, argument: str = "owner") -> str:
    """
    The user id for ``owner`` (a user id, or an email compared case-insensitively).

    Unknown: an ``ApolloArgumentError`` naming ``argument`` and listing the team's users' emails.
    """
    wanted = owner.strip()
    for user in users:
        if user.get("id") == wanted:
            return str(user["id"])
    folded = wanted.casefold()
    for user in users:
        if str(user.get("email") or "").casefold() == folded and not user.get("deleted"):
            return str(user["id"])
    emails = sorted(str(u.get("email")) for u in users if u.get("email") and not u.get("deleted"))
    raise ApolloArgumentError(
        f"Unknown owner {wanted!r} (given as {argument}): no Apollo user has that email. "
        f"The team's users: {listing(emails)}."
    )


def check_owner(owner: Any, argument: str = "owner") -> str:
    if not isinstance(owner, str) or not owner.strip():
        raise ApolloArgumentError(
            f"{argument} must be a non-empty string (an Apollo user id or the user's email), got {owner!r}."
        )
    return owner.strip()


def master_key_error(error: ApolloAuthError, owner: str) -> ApolloAuthError:
    """A 403 from the users endpoint, said in the user's terms: what is needed and how to avoid it."""
    return ApolloAuthError(
        f"Could not look up owner {owner!r} by email: Apollo's users endpoint (GET {PATH_USERS_SEARCH}) "
        "needs an API key with access to api/v1/users/search or a master API key, and this connection's "
        "key was refused (403). Either give the key access to that endpoint (or use a master key), or pass the owner's Apollo user id instead of the email (new_owner='<user id>'; "
        "an admin finds it in Apollo under Settings > Users, or with a master key through GET /users/search).",
        status_code=error.status_code,
        body=error.body,
    )
