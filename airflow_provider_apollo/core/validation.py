"""Argument checks done before any request: each error names the argument and what was expected."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_apollo.exceptions import ApolloArgumentError


def check_contact_ids(contact_ids: Any, argument: str = "contact_ids") -> list[str]:
    """A list of non-empty string ids, or an ``ApolloArgumentError`` naming the argument."""
    if isinstance(contact_ids, (str, bytes)) or not isinstance(contact_ids, (list, tuple)):
        raise ApolloArgumentError(
            f"{argument} must be a list of contact id strings, got {type(contact_ids).__name__}."
        )
    bad = [repr(item) for item in contact_ids if not isinstance(item, str) or not item.strip()]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ApolloArgumentError(f"{argument} must contain non-empty strings only; got {shown}.")
    return list(contact_ids)


def check_int_range(value: Any, argument: str, low: int, high: int) -> int:
    """An integer from ``low`` to ``high``, or an ``ApolloArgumentError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApolloArgumentError(f"{argument} must be an integer from {low} to {high}, got {value!r}.")
    return value


def check_contact(contact: Any, argument: str) -> dict[str, Any]:
    """One contact's fields: a non-empty dict of JSON values, without ``api_key``."""
    if not isinstance(contact, Mapping) or not contact:
        raise ApolloArgumentError(
            f"{argument} must be a non-empty dict of Apollo contact fields, got {contact!r}."
        )
    if "api_key" in contact:
        raise ApolloArgumentError(
            f"{argument} must not contain 'api_key': the key comes from the connection."
        )
    check_json(contact, argument)
    return dict(contact)


def check_contacts(contacts: Any, argument: str = "contacts") -> list[dict[str, Any]]:
    """A list of contacts' fields, each checked by :func:`check_contact`."""
    if isinstance(contacts, (str, bytes, Mapping)) or not isinstance(contacts, Sequence):
        raise ApolloArgumentError(f"{argument} must be a list of dicts, got {type(contacts).__name__}.")
    return [check_contact(contact, f"{argument}[{index}]") for index, contact in enumerate(contacts)]


def check_fields(fields: Any, argument: str = "fields") -> dict[str, Any]:
    """The fields of an update: a non-empty dict of JSON values."""
    if not isinstance(fields, Mapping) or not fields:
        raise ApolloArgumentError(f"{argument} must be a non-empty dict, got {fields!r}.")
    check_json(fields, argument)
    return dict(fields)


def check_non_empty_string(value: Any, argument: str, what: str) -> str:
    """A non-empty string (stripped), or an error naming the argument and what it should hold."""
    if not isinstance(value, str) or not value.strip():
        raise ApolloArgumentError(f"{argument} must be a non-empty string ({what}), got {value!r}.")
    return value.strip()


def check_json(fields: Mapping[str, Any], argument: str) -> None:
    """Every value JSON-encodable; caught here, the error names the field (json.dumps would not)."""
    for name, value in fields.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as error:
            raise ApolloArgumentError(
                f"{argument}[{name!r}] must be a JSON value (str, number, bool, None, list or dict), "
                f"got {type(value).__name__}: {error}."
            ) from None
