"""Contact results: matching Apollo's bulk-create answer back to its inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_apollo.exceptions import ApolloApiError


def order_bulk_result(
    inputs: list[dict[str, Any]], created: list[dict[str, Any]], existing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """
    Apollo's bulk-create answer, one contact per input in input order.

    Apollo splits the answer into created and existing contacts; each input is matched back by
    email, then by name and company, then by position among what is left.
    """
    returned = list(created) + list(existing)
    by_email: dict[str, dict[str, Any]] = {}
    by_name: dict[tuple[str, str, str], dict[str, Any]] = {}
    for contact in returned:
        if contact.get("email"):
            by_email.setdefault(str(contact["email"]).casefold(), contact)
        by_name.setdefault(_name_key(contact), contact)
    ordered: list[dict[str, Any] | None] = []
    used: set[int] = set()
    for contact in inputs:
        match = by_email.get(str(contact.get("email") or "").casefold()) if contact.get("email") else None
        if match is None and (contact.get("first_name") or contact.get("last_name")):
            match = by_name.get(_name_key(contact))
        if match is not None:
            used.add(id(match))
        ordered.append(match)
    leftovers = iter(c for c in returned if id(c) not in used)
    result: list[dict[str, Any]] = []
    for match in ordered:
        if match is None:
            match = next(leftovers, None)
            if match is None:
                raise ApolloApiError(
                    f"Apollo's bulk create answered {len(returned)} contacts for {len(inputs)} inputs; "
                    "some inputs could not be matched to a contact."
                )
        result.append(match)
    return result


def _name_key(contact: Mapping[str, Any]) -> tuple[str, str, str]:
    return tuple(  # type: ignore[return-value]
        str(contact.get(name) or "").strip().casefold()
        for name in ("first_name", "last_name", "organization_name")
    )
