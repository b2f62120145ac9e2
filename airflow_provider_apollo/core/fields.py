"""Custom fields by label, and bulk field updates: resolution and request building without I/O.

Contacts carry custom values as ``typed_custom_fields: {field id: value}`` (a picklist takes its
option's id). Users write ``custom_fields: {"Lead score": 87, "Segment": "Enterprise"}``; the
catalog from ``GET /fields?source=custom`` turns one into the other, refusing an unknown field or
picklist value with the known ones before any write.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_apollo.core.endpoints import PATH_BULK_UPDATE, PATH_FIELDS, ApiRequest
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError

# The key users write custom values under, beside Apollo's own ``typed_custom_fields``.
CUSTOM_FIELDS_KEY = "custom_fields"
TYPED_CUSTOM_FIELDS = "typed_custom_fields"

# The contact fields bulk update takes (its reference lists these, per contact and shared).
BULK_UPDATE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "title",
    "organization_name",
    "owner_id",
    "account_id",
    "present_raw_address",
    "linkedin_url",
    TYPED_CUSTOM_FIELDS,
)
PICKLIST_TYPES = ("picklist", "multipicklist", "multi_select")


def fields_request() -> ApiRequest:
    """``GET /fields?source=custom``: the team's custom fields (``/typed_custom_fields`` is deprecated)."""
    return ApiRequest("GET", PATH_FIELDS, params=(("source", "custom"),), rate_group=PATH_FIELDS)


@dataclass(frozen=True)
class CustomField:
    """One custom contact field: the key contacts use, its label, type and picklist options (name -> id)."""

    key: str
    label: str
    type: str
    options: tuple[tuple[str, str], ...] = ()

    def option_id(self, value: Any, argument: str) -> str:
        if isinstance(value, str):
            folded = value.strip().casefold()
            for name, option_id in self.options:
                if name.casefold() == folded or option_id == value:
                    return option_id
        known = ", ".join(repr(name) for name, _ in self.options) or "none"
        raise ApolloArgumentError(
            f"{argument}: {value!r} is not an option of the picklist field {self.label!r}. Its options: {known}."
        )


def _options(field: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    meta = field.get("meta") if isinstance(field.get("meta"), dict) else {}
    raw = (meta or {}).get("picklist_values") or field.get("picklist_values") or []
    return tuple(
        (str(option.get("name")), str(option.get("id") or option.get("_id")))
        for option in raw
        if isinstance(option, dict) and option.get("name") is not None
    )


def custom_fields_of(body: Any) -> list[CustomField]:
    """The custom contact fields in a ``GET /fields`` answer."""
    if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
        raise ApolloApiError("Apollo GET /fields answered without a 'fields' list", body=body)
    fields: list[CustomField] = []
    for field in body["fields"]:
        if not isinstance(field, dict) or field.get("source", "custom") != "custom":
            continue
        if str(field.get("modality") or "contact") != "contact":
            continue
        field_id = str(field.get("id") or "")
        key = field_id.split(".", 1)[1] if field_id.startswith("contact.") else field_id
        if key:
            fields.append(
                CustomField(
                    key, str(field.get("label") or key), str(field.get("type") or ""), _options(field)
                )
            )
    return fields


def _find_field(fields: Sequence[CustomField], name: str) -> CustomField | None:
    for field in fields:
        if name in (field.key, f"contact.{field.key}"):
            return field
    folded = name.strip().casefold()
    for field in fields:
        if field.label.strip().casefold() == folded:
            return field
    return None


def _value(field: CustomField, value: Any, argument: str) -> Any:
    if value is None:
        return None
    kind = field.type
    if kind in PICKLIST_TYPES:
        if kind == "picklist":
            return field.option_id(value, argument)
        values = value if isinstance(value, (list, tuple)) else [value]
        return [field.option_id(item, argument) for item in values]
    if kind in ("number", "currency"):
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else _number(value)
        if number is None or not math.isfinite(number):
            raise ApolloArgumentError(f"{argument}: field {field.label!r} holds a number, got {value!r}.")
        return number
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ApolloArgumentError(
                f"{argument}: field {field.label!r} holds True or False, got {value!r}."
            )
        return value
    if kind in ("date", "datetime") and isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        raise ApolloArgumentError(
            f"{argument}: field {field.label!r} ({kind}) takes one value, got {value!r}."
        )
    return value


def resolve_custom_fields(
    custom_fields: Any, fields: Sequence[CustomField], argument: str = CUSTOM_FIELDS_KEY
) -> dict[str, Any]:
    """
    ``{label: value}`` as Apollo's ``typed_custom_fields`` (``{field id: value}``).

    A label matches case-insensitively (an id is accepted too); a picklist value is given by its
    text and sent as its option's id. Unknown fields or values raise ``ApolloArgumentError``
    listing the known ones.
    """
    if not isinstance(custom_fields, Mapping):
        raise ApolloArgumentError(
            f"{argument} must be a dict of field label to value, got {custom_fields!r}."
        )
    typed: dict[str, Any] = {}
    unknown = []
    for name, value in custom_fields.items():
        field = _find_field(fields, str(name))
        if field is None:
            unknown.append(repr(name))
            continue
        typed[field.key] = _value(field, value, f"{argument}[{name!r}]")
    if unknown:
        known = (
            ", ".join(f"{f.label!r} ({f.type})" for f in fields)
            or "none (the team has no custom contact fields)"
        )
        raise ApolloArgumentError(
            f"{argument}: unknown custom field(s) {', '.join(unknown)}. The team's custom contact fields: {known}."
        )
    return typed


def needs_custom_fields(fields: Any) -> bool:
    return isinstance(fields, Mapping) and CUSTOM_FIELDS_KEY in fields


def apply_custom_fields(
    fields: Mapping[str, Any], catalog: Sequence[CustomField], argument: str
) -> dict[str, Any]:
    """Contact fields with ``custom_fields`` (labels) merged into ``typed_custom_fields`` (ids)."""
    if CUSTOM_FIELDS_KEY not in fields:
        return dict(fields)
    resolved = {key: value for key, value in fields.items() if key != CUSTOM_FIELDS_KEY}
    typed = resolve_custom_fields(fields[CUSTOM_FIELDS_KEY], catalog, f"{argument}[{CUSTOM_FIELDS_KEY!r}]")
    existing = resolved.get(TYPED_CUSTOM_FIELDS) or {}
    if not isinstance(existing, Mapping):
        raise ApolloArgumentError(f"{argument}[{TYPED_CUSTOM_FIELDS!r}] must be a dict, got {existing!r}.")
    resolved[TYPED_CUSTOM_FIELDS] = {**existing, **typed}
    return resolved


# ------------------------------------------------------------------ bulk update


def check_bulk_fields(fields: Mapping[str, Any], argument: str) -> dict[str, Any]:
    """Only the fields bulk update takes (others would be ignored silently, so they are refused)."""
    unknown = sorted(set(fields) - set(BULK_UPDATE_FIELDS) - {"id", CUSTOM_FIELDS_KEY})
    if unknown:
        raise ApolloArgumentError(
            f"{argument}: bulk update does not take {', '.join(map(repr, unknown))}. It takes "
            f"{', '.join(BULK_UPDATE_FIELDS)} and custom_fields (stages and owners also have their own operators)."
        )
    return dict(fields)


def check_contact_updates(updates: Any, argument: str = "contacts") -> list[dict[str, Any]]:
    """Per-contact updates: each a dict with an ``id`` and at least one field; one entry per id."""
    if not isinstance(updates, (list, tuple)) or not updates:
        raise ApolloArgumentError(
            f"{argument} must be a non-empty list of dicts with an 'id', got {updates!r}."
        )
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, update in enumerate(updates):
        where = f"{argument}[{index}]"
        if not isinstance(update, Mapping):
            raise ApolloArgumentError(f"{where} must be a dict with 'id' and fields, got {update!r}.")
        contact_id = update.get("id")
        if not isinstance(contact_id, str) or not contact_id.strip():
            raise ApolloArgumentError(f"{where} needs an 'id' (the contact's id), got {contact_id!r}.")
        if contact_id in seen:
            raise ApolloArgumentError(
                f"{where}: contact {contact_id!r} appears twice; give each contact once."
            )
        seen.add(contact_id)
        if len(update) < 2:
            raise ApolloArgumentError(f"{where} has no field to set besides 'id'.")
        checked.append(check_bulk_fields(update, where))
    return checked


def bulk_update_request(
    *,
    contact_attributes: list[dict[str, Any]] | None = None,
    contact_ids: list[str] | None = None,
    values: Mapping[str, Any] | None = None,
    run_async: bool = False,
) -> ApiRequest:
    """``POST /contacts/bulk_update``: per-contact values, or one set of values for many ids."""
    body: dict[str, Any]
    if contact_attributes is not None:
        body = {"contact_attributes": contact_attributes}
    else:
        body = {"contact_ids": list(contact_ids or []), **dict(values or {})}
    if run_async:
        body["async"] = True
    return ApiRequest("POST", PATH_BULK_UPDATE, json_body=body, rate_group=PATH_BULK_UPDATE)


def read_bulk_update(body: Any, sent_ids: Sequence[str]) -> list[dict[str, Any]]:
    """
    The contacts a bulk update answered with; for a background job (more than 100 contacts, or
    ``async``), one ``{"id": ...}`` per id the job took on.
    """
    if not isinstance(body, dict):
        raise ApolloApiError("Apollo answered a bulk update with an unexpected body", body=body)
    if isinstance(body.get("contacts"), list):
        return [c for c in body["contacts"] if isinstance(c, dict)]
    job = body.get("entity_progress_job")
    if isinstance(job, dict):
        ids = job.get("entity_ids") or list(sent_ids)
        return [{"id": str(i)} for i in ids]
    raise ApolloApiError(
        "Apollo answered a bulk update without 'contacts' or 'entity_progress_job'", body=body
    )


def _number(value: Any) -> int | float | None:
    """
    A number written out ("12", "12.5", "1e5", a ``Decimal`` from a database): an int when it is
    written as one; else None.
    """
    if isinstance(value, bool):
        return None
    text = str(value)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
