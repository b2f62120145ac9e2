"""Contact results: matching Apollo's bulk-create answer back to its inputs."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Generator, Iterable, Mapping
from typing import Any

from airflow_provider_apollo.core.endpoints import PATH_CONTACT, ApiRequest, contact_path, get_contact_request
from airflow_provider_apollo.core.validation import check_contact_ids, check_fields
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloNotFoundError, ApolloValidationError

# What read_contact returns for a contact Apollo says does not exist.
MISSING: Any = object()


def read_contact(contact_id: str) -> Generator[ApiRequest, Any, Any]:
    """``GET /contacts/{id}``: Apollo's answer, or :data:`MISSING` for a deleted or unknown contact."""
    try:
        return (yield get_contact_request(contact_id))
    except (ApolloValidationError, ApolloNotFoundError) as error:
        # Apollo answers 422 (rarely 404) for a deleted or unknown contact.
        if error.status_code in (404, 422):
            return MISSING
        raise


def update_contact_request(contact_id: Any, fields: Any) -> ApiRequest:
    """``PATCH /contacts/{id}`` with the fields to set (``label_names`` replaces the contact's lists)."""
    contact_id = check_contact_ids([contact_id], "contact_id")[0]
    return ApiRequest(
        "PATCH", contact_path(contact_id), json_body=check_fields(fields), rate_group=PATH_CONTACT
    )


def order_bulk_result(
    inputs: list[dict[str, Any]], created: list[dict[str, Any]], existing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """
    Apollo's bulk-create answer, one contact per input in input order, each contact handed out once.

    Apollo splits the answer into created and existing contacts; each input is matched back by
    email, then by name and company, then by position among what is left. Matching is one to one:
    two inputs with the same email (Apollo creates two contacts without dedupe) get the two
    contacts, in answer order, never the same one twice.
    """
    returned = list(created) + list(existing)
    by_email: dict[str, deque[int]] = defaultdict(deque)
    by_name: dict[tuple[str, str, str], deque[int]] = defaultdict(deque)
    for position, contact in enumerate(returned):
        if contact.get("email"):
            by_email[str(contact["email"]).casefold()].append(position)
        by_name[_name_key(contact)].append(position)
    used: set[int] = set()

    def take(candidates: deque[int] | None) -> int | None:
        while candidates:
            index = candidates.popleft()
            if index not in used:
                used.add(index)
                return index
        return None

    matched: list[int | None] = []
    for contact in inputs:
        index = take(by_email.get(str(contact["email"]).casefold())) if contact.get("email") else None
        if index is None and (contact.get("first_name") or contact.get("last_name")):
            index = take(by_name.get(_name_key(contact)))
        matched.append(index)
    leftovers = iter(index for index in range(len(returned)) if index not in used)
    result: list[dict[str, Any]] = []
    for index in matched:
        if index is None:
            index = next(leftovers, None)
            if index is None:
                raise ApolloApiError(
                    f"Apollo's bulk create answered {len(returned)} contacts for {len(inputs)} inputs; "
                    "some inputs could not be matched to a contact."
                )
        result.append(returned[index])
    return result


def _name_key(contact: Mapping[str, Any]) -> tuple[str, str, str]:
    return tuple(  # type: ignore[return-value]
        str(contact.get(name) or "").strip().casefold()
        for name in ("first_name", "last_name", "organization_name")
    )


class BulkUpdateResult(list):  # type: ignore[type-arg]
    """
    What a bulk stage or owner update did: the updated contacts (it is their list, as before), and
    ``skipped_deleted_ids``, the ids left out because Apollo reports them deleted (``skip_deleted``).
    """

    def __init__(
        self, contacts: Iterable[dict[str, Any]] = (), *, skipped_deleted_ids: Iterable[str] = ()
    ) -> None:
        super().__init__(contacts)
        self.skipped_deleted_ids: list[str] = list(skipped_deleted_ids)

    @property
    def updated_ids(self) -> list[str]:
        return [str(contact["id"]) for contact in self]
