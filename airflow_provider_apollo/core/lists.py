"""Lists (Apollo's labels): adding and removing contacts by list name, in batches."""

from __future__ import annotations

from typing import Any

from airflow_provider_apollo.core.endpoints import PATH_LABELS_ADD, PATH_LABELS_REMOVE, ApiRequest
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError

MODALITY_CONTACTS = "contacts"


def check_list_names(list_names: Any, argument: str = "list_names") -> list[str]:
    """A non-empty list of list names (a single name is taken as a list of one), duplicates dropped."""
    if isinstance(list_names, str):
        list_names = [list_names]
    if not isinstance(list_names, (list, tuple)) or not list_names:
        raise ApolloArgumentError(f"{argument} must be a non-empty list of list names, got {list_names!r}.")
    bad = [repr(name) for name in list_names if not isinstance(name, str) or not name.strip()]
    if bad:
        raise ApolloArgumentError(
            f"{argument} must contain non-empty strings only; got {', '.join(bad[:5])}."
        )
    return list(dict.fromkeys(name.strip() for name in list_names))


def list_membership_request(add: bool, contact_ids: list[str], list_names: list[str]) -> ApiRequest:
    """Add contacts to (or remove them from) lists by name; Apollo creates a missing list on add."""
    path = PATH_LABELS_ADD if add else PATH_LABELS_REMOVE
    body = {
        "entity_ids": list(contact_ids),
        "label_names": list(list_names),
        "modality": MODALITY_CONTACTS,
        "async": False,
    }
    return ApiRequest("POST", path, json_body=body, rate_group=path)


def read_list_answer(body: Any) -> list[dict[str, Any]]:
    """The lists Apollo reports after the change (empty for its "nothing to change" answer)."""
    if not isinstance(body, dict):
        raise ApolloApiError("Apollo answered a list change with an unexpected body", body=body)
    return [label for label in body.get("labels") or [] if isinstance(label, dict)]
