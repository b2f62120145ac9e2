"""Argument checks done before any request: each error names the argument and what was expected."""

from __future__ import annotations

from typing import Any

from airflow_provider_apollo.exceptions import ApolloValidationError


def validate_contact_ids(contact_ids: Any, argument: str = "contact_ids") -> list[str]:
    """A list of non-empty string ids, or an ``ApolloValidationError`` naming the argument."""
    if isinstance(contact_ids, (str, bytes)) or not isinstance(contact_ids, (list, tuple)):
        raise ApolloValidationError(
            f"{argument} must be a list of contact id strings, got {type(contact_ids).__name__}."
        )
    bad = [repr(item) for item in contact_ids if not isinstance(item, str) or not item.strip()]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ApolloValidationError(f"{argument} must contain non-empty strings only; got {shown}.")
    return list(contact_ids)


def check_int_range(value: Any, argument: str, low: int, high: int) -> int:
    """An integer from ``low`` to ``high``, or an ``ApolloValidationError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApolloValidationError(f"{argument} must be an integer from {low} to {high}, got {value!r}.")
    return value
