"""Record types as descriptions: where Apollo keeps contacts, accounts and deals, and how it answers.

A :class:`RecordType` holds facts from Apollo's reference (``contacts.yml``, ``accounts.yml``,
``deals.yml``): paths, answer keys, documented fields, search filters and limits, and how bulk
create deduplicates. It holds no behaviour. The code that works on records (the operations in
:mod:`~airflow_provider_apollo.core.operations`, the stage look-ups of
:class:`~airflow_provider_apollo.core.lookups.TeamLookups`) takes a description and reads what it
needs, so an account is created, moved between stages and given an owner by the code that does it
for contacts. The functions below are the pure ones over a description: argument checks before any
request, request building, and matching a bulk create's answer back to its inputs.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from airflow_provider_apollo.core.endpoints import (
    ACCOUNT_SORT_FIELDS,
    BULK_CREATE_MAX,
    BULK_UPDATE_MAX,
    DEAL_SORT_FIELDS,
    PATH_ACCOUNT,
    PATH_ACCOUNT_BULK_CREATE,
    PATH_ACCOUNT_BULK_UPDATE,
    PATH_ACCOUNT_SEARCH,
    PATH_ACCOUNT_STAGES,
    PATH_ACCOUNT_UPDATE_OWNERS,
    PATH_ACCOUNTS,
    PATH_BULK_CREATE,
    PATH_BULK_UPDATE,
    PATH_CONTACT,
    PATH_CONTACTS,
    PATH_DEAL,
    PATH_DEAL_SEARCH,
    PATH_DEAL_STAGES,
    PATH_DEALS,
    PATH_SEARCH,
    PATH_STAGES,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
    SEARCH_RESULT_CAP,
    SEARCH_SORT_FIELDS,
    ApiRequest,
)
from airflow_provider_apollo.core.stages import match_stage
from airflow_provider_apollo.core.validation import check_contact_ids, check_json, check_non_empty_string
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError

# The key users write custom values under by label (contacts only: core.fields).
CUSTOM_FIELDS_KEY = "custom_fields"


@dataclass(frozen=True)
class DedupeKey:
    """
    One way a bulk create's answer is matched back to an input: by these fields' values, case ignored.

    :param fields: the fields compared, together.
    :param when_any: the key is tried for an input with a value in one of these fields.
    :param strip: compare values without surrounding spaces.
    :param domain: compare as web domains (scheme, ``www.``, path and case ignored).
    """

    fields: tuple[str, ...]
    when_any: tuple[str, ...]
    strip: bool = True
    domain: bool = False


@dataclass(frozen=True)
class RecordType:
    """
    What Apollo documents about one kind of record; ``None`` where Apollo has no such thing.

    :param noun: the record in the user's words, singular (``"account"``); ``plural`` likewise.
    :param create_path: ``POST`` creates one record.
    :param record_path: view (``GET``) and update (``PATCH``) one record; ``path_param`` is its
        placeholder for the id.
    :param search_path: the search (``search_method`` ``POST`` with a JSON body, or ``GET`` with
        query parameters for the deal list).
    :param stages_path: the record's stages (``GET``).
    :param bulk_create_path: bulk create, at most ``bulk_create_max`` a call.
    :param bulk_update_path: bulk update, at most ``bulk_update_max`` a call.
    :param update_stages_path: an endpoint of its own that moves many records to a stage (contacts'
        ``update_stages``; accounts move through bulk update).
    :param update_owners_path: an endpoint of its own that gives many records an owner.
    :param one_key: the answer's key for one record (``"opportunity"``); ``many_key`` for a list,
        also the bulk create body's list; ``stages_key`` for the stage list.
    :param created_key: bulk create's key for the created records; ``existing_key`` for the
        existing ones it matched.
    :param ids_param: the name of a list of ids in a request (``account_ids``, ``account_ids[]`` in
        a query string).
    :param id_field: the id's field in an answered record.
    :param stage_field: the record's stage id field.
    :param stage_ids_filter: the search filter for stage ids (any of).
    :param slice_filter: the filter that splits a search above ``search_cap`` into slices (stage
        ids); ``None`` when the search has no cap to slice around.
    :param search_cap: the most records one search shows, however many match.
    :param search_filters: the documented search filters (empty: the search only sorts and pages).
    :param sort_fields: the documented ``sort_by_field`` values.
    :param dedupe_keys: how Apollo's bulk create deduplicates, in order: the keys its answer is
        matched back to the inputs by.
    :param create_dedupes: whether one create takes ``run_dedupe`` (accounts dedupe only in bulk).
    :param create_fields: the fields one create documents (``None``: not checked, contacts);
        ``update_fields``, ``bulk_create_fields`` likewise.
    :param create_requires_any: a create needs a value in one of these.
    :param stage_key: a key users may write a stage under by name or id, beside ``stage_field``.
    :param custom_field_labels: custom values may be given by label (``custom_fields``).
    :param amount_fields: numbers Apollo takes as strings without commas or currency symbols.
    :param date_fields: dates Apollo takes as ``YYYY-MM-DD``.
    :param list_modality: the ``modality`` of Apollo lists (labels) holding these records.
    """

    noun: str
    plural: str
    create_path: str
    record_path: str
    path_param: str
    search_path: str
    search_method: str
    stages_path: str
    bulk_create_path: str | None
    bulk_update_path: str | None
    update_stages_path: str | None
    update_owners_path: str | None
    one_key: str
    many_key: str
    stages_key: str
    created_key: str | None
    existing_key: str | None
    ids_param: str | None
    id_field: str
    stage_field: str
    stage_ids_filter: str | None
    slice_filter: str | None
    search_cap: int | None
    search_filters: tuple[str, ...]
    sort_fields: tuple[str, ...]
    dedupe_keys: tuple[DedupeKey, ...]
    create_dedupes: bool
    bulk_create_max: int | None
    bulk_update_max: int | None
    create_fields: tuple[str, ...] | None
    update_fields: tuple[str, ...] | None
    bulk_create_fields: tuple[str, ...] | None
    create_requires_any: tuple[str, ...] = ()
    stage_key: str | None = None
    custom_field_labels: bool = False
    amount_fields: tuple[str, ...] = ()
    date_fields: tuple[str, ...] = ()
    list_modality: str | None = None

    @property
    def capped(self) -> bool:
        """Whether a search shows fewer records than match (and must be sliced to reach the rest)."""
        return self.search_cap is not None

    @property
    def filterable(self) -> bool:
        """Whether the search takes filters (the deal list only sorts and pages)."""
        return bool(self.search_filters)


CONTACTS = RecordType(
    noun="contact",
    plural="contacts",
    create_path=PATH_CONTACTS,
    record_path=PATH_CONTACT,
    path_param="contact_id",
    search_path=PATH_SEARCH,
    search_method="POST",
    stages_path=PATH_STAGES,
    bulk_create_path=PATH_BULK_CREATE,
    bulk_update_path=PATH_BULK_UPDATE,
    update_stages_path=PATH_UPDATE_STAGES,
    update_owners_path=PATH_UPDATE_OWNERS,
    one_key="contact",
    many_key="contacts",
    stages_key="contact_stages",
    created_key="created_contacts",
    existing_key="existing_contacts",
    ids_param="contact_ids",
    id_field="id",
    stage_field="contact_stage_id",
    stage_ids_filter="contact_stage_ids",
    slice_filter="contact_stage_ids",
    search_cap=SEARCH_RESULT_CAP,
    search_filters=("q_keywords", "contact_stage_ids", "contact_label_ids"),
    sort_fields=SEARCH_SORT_FIELDS,
    # Apollo's dedupe (id, CRM ids, email, name and company) leaves an input's email or name on the
    # answered contact: matched by email, then by name and company (a first or last name needed).
    dedupe_keys=(
        DedupeKey(("email",), when_any=("email",), strip=False),
        DedupeKey(("first_name", "last_name", "organization_name"), when_any=("first_name", "last_name")),
    ),
    create_dedupes=True,
    bulk_create_max=BULK_CREATE_MAX,
    bulk_update_max=BULK_UPDATE_MAX,
    # Not checked: the contact operations take any field, as they always have (core.fields checks
    # the bulk update's).
    create_fields=None,
    update_fields=None,
    bulk_create_fields=None,
    custom_field_labels=True,
    list_modality="contacts",
)

_ACCOUNT_FIELDS = (
    "name",
    "domain",
    "owner_id",
    "account_stage_id",
    "phone",
    "raw_address",
    "typed_custom_fields",
)

ACCOUNTS = RecordType(
    noun="account",
    plural="accounts",
    create_path=PATH_ACCOUNTS,
    record_path=PATH_ACCOUNT,
    path_param="account_id",
    search_path=PATH_ACCOUNT_SEARCH,
    search_method="POST",
    stages_path=PATH_ACCOUNT_STAGES,
    bulk_create_path=PATH_ACCOUNT_BULK_CREATE,
    bulk_update_path=PATH_ACCOUNT_BULK_UPDATE,
    # "To update the account stage for multiple accounts, use the Bulk Update Accounts endpoint."
    update_stages_path=None,
    update_owners_path=PATH_ACCOUNT_UPDATE_OWNERS,
    one_key="account",
    many_key="accounts",
    stages_key="account_stages",
    created_key="created_accounts",
    existing_key="existing_accounts",
    ids_param="account_ids",
    id_field="id",
    stage_field="account_stage_id",
    stage_ids_filter="account_stage_ids",
    slice_filter="account_stage_ids",
    search_cap=SEARCH_RESULT_CAP,
    search_filters=("q_organization_name", "account_stage_ids", "account_label_ids"),
    sort_fields=ACCOUNT_SORT_FIELDS,
    # Bulk create's run_dedupe: "When false (default), only matches by CRM IDs. When true, also
    # matches by domain, organization_id, and name."
    dedupe_keys=(
        DedupeKey(("salesforce_id",), when_any=("salesforce_id",)),
        DedupeKey(("hubspot_id",), when_any=("hubspot_id",)),
        DedupeKey(("domain",), when_any=("domain",), domain=True),
        DedupeKey(("organization_id",), when_any=("organization_id",)),
        DedupeKey(("name",), when_any=("name",)),
    ),
    # "Apollo doesn't apply deduplication processes when you create a new account via the API."
    create_dedupes=False,
    bulk_create_max=BULK_CREATE_MAX,
    bulk_update_max=BULK_UPDATE_MAX,
    create_fields=_ACCOUNT_FIELDS,
    update_fields=_ACCOUNT_FIELDS,
    bulk_create_fields=(
        *_ACCOUNT_FIELDS,
        "phone_status_cd",
        "linkedin_url",
        "facebook_url",
        "twitter_url",
        "salesforce_id",
        "hubspot_id",
        "merged_crm_ids",
        "organization_id",
        "parent_account_id",
    ),
    # "Please specify at least a name or domain." (422)
    create_requires_any=("name", "domain"),
    stage_key="stage",
    list_modality="accounts",
)

DEALS = RecordType(
    noun="deal",
    plural="deals",
    create_path=PATH_DEALS,
    record_path=PATH_DEAL,
    path_param="opportunity_id",
    search_path=PATH_DEAL_SEARCH,
    search_method="GET",
    stages_path=PATH_DEAL_STAGES,
    bulk_create_path=None,
    bulk_update_path=None,
    update_stages_path=None,
    update_owners_path=None,
    one_key="opportunity",
    many_key="opportunities",
    stages_key="opportunity_stages",
    created_key=None,
    existing_key=None,
    ids_param=None,
    id_field="id",
    stage_field="opportunity_stage_id",
    stage_ids_filter=None,
    # List All Deals: "retrieve every deal"; sort_by_field, page and per_page only, no display cap.
    slice_filter=None,
    search_cap=None,
    search_filters=(),
    sort_fields=DEAL_SORT_FIELDS,
    dedupe_keys=(),
    create_dedupes=False,
    bulk_create_max=None,
    bulk_update_max=None,
    create_fields=(
        "name",
        "owner_id",
        "account_id",
        "amount",
        "opportunity_stage_id",
        "closed_date",
        "typed_custom_fields",
    ),
    update_fields=(
        "owner_id",
        "name",
        "amount",
        "opportunity_stage_id",
        "closed_date",
        "typed_custom_fields",
    ),
    bulk_create_fields=None,
    # "Name is required" (422).
    create_requires_any=("name",),
    stage_key="stage",
    amount_fields=("amount",),
    date_fields=("closed_date",),
)

RECORD_TYPES: dict[str, RecordType] = {record.plural: record for record in (CONTACTS, ACCOUNTS, DEALS)}


def record_type(value: Any) -> RecordType:
    """A record type given as itself or by its plural (``"accounts"``); unknown: an error listing them."""
    if isinstance(value, RecordType):
        return value
    if isinstance(value, str) and value.strip().casefold() in RECORD_TYPES:
        return RECORD_TYPES[value.strip().casefold()]
    raise ApolloArgumentError(
        f"record_type must be one of {', '.join(map(repr, RECORD_TYPES))}, got {value!r}."
    )


# ------------------------------------------------------------------ argument checks (before any request)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def check_record_id(record: RecordType, value: Any, argument: str) -> str:
    """One record id: a non-empty string."""
    return check_non_empty_string(value, argument, f"{_a(record.noun)} id")


def check_record_ids(record: RecordType, values: Any, argument: str) -> list[str]:
    """A non-empty list of record ids, each once, in first-seen order."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ApolloArgumentError(
            f"{argument} must be a list of {record.noun} id strings, got {type(values).__name__}."
        )
    ids = list(dict.fromkeys(check_contact_ids(values, argument)))
    if not ids:
        raise ApolloArgumentError(f"{argument} is empty: give at least one {record.noun} id.")
    return ids


def check_record_fields(
    record: RecordType,
    fields: Any,
    argument: str,
    allowed: Sequence[str] | None,
    *,
    creating: bool = False,
) -> dict[str, Any]:
    """
    One record's fields for a create or an update, checked and put in the form Apollo takes.

    Refused, naming ``argument``: anything but a non-empty dict; ``api_key``; a field the call does
    not document (``allowed``; Apollo would ignore it silently); ``custom_fields`` by label where
    only ids are supported; a stage given twice; a create without the field Apollo requires; an
    amount with commas or a currency symbol (Apollo leaves it blank); a date not ``YYYY-MM-DD``.
    Amounts given as numbers become strings, dates given as ``date`` objects ``YYYY-MM-DD``. Stage
    and owner names are resolved later, by :meth:`TeamLookups.record_fields
    <airflow_provider_apollo.core.lookups.TeamLookups.record_fields>`.
    """
    if not isinstance(fields, Mapping) or not fields:
        raise ApolloArgumentError(
            f"{argument} must be a non-empty dict of Apollo {record.noun} fields, got {fields!r}."
        )
    if "api_key" in fields:
        raise ApolloArgumentError(
            f"{argument} must not contain 'api_key': the key comes from the connection."
        )
    if CUSTOM_FIELDS_KEY in fields and not record.custom_field_labels:
        raise ApolloArgumentError(
            f"{argument}: custom_fields by label are supported for contacts only. Give {record.noun} "
            "custom values as typed_custom_fields: {field id: value} (the ids from GET /fields)."
        )
    if allowed is not None:
        takes = [*allowed, *([record.stage_key] if record.stage_key else [])]
        unknown = [key for key in fields if key not in takes]
        if unknown:
            raise ApolloArgumentError(
                f"{argument}: Apollo does not document {', '.join(map(repr, unknown))} for this {record.noun} "
                f"call and would ignore it. It takes {', '.join(takes)}."
            )
    if record.stage_key and record.stage_key in fields and record.stage_field in fields:
        raise ApolloArgumentError(
            f"{argument} gives the stage twice: pass {record.stage_key!r} (a stage name or id) or "
            f"{record.stage_field!r}, not both."
        )
    if (
        creating
        and record.create_requires_any
        and not any(_has_value(fields.get(name)) for name in record.create_requires_any)
    ):
        wanted = " or ".join(repr(name) for name in record.create_requires_any)
        raise ApolloArgumentError(f"{argument} needs {wanted}: Apollo refuses {_a(record.noun)} without one.")
    checked = dict(fields)
    for name in record.amount_fields:
        if checked.get(name) is not None:
            checked[name] = _amount(checked[name], f"{argument}[{name!r}]")
    for name in record.date_fields:
        if checked.get(name) is not None:
            checked[name] = _date(checked[name], f"{argument}[{name!r}]")
    check_json(checked, argument)
    return checked


def check_records(
    record: RecordType, items: Any, argument: str, allowed: Sequence[str] | None
) -> list[dict[str, Any]]:
    """A non-empty list of records to create, each checked by :func:`check_record_fields`."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise ApolloArgumentError(f"{argument} must be a list of dicts, got {type(items).__name__}.")
    if not items:
        raise ApolloArgumentError(f"{argument} is empty: give at least one {record.noun}'s fields.")
    return [
        check_record_fields(record, item, f"{argument}[{index}]", allowed, creating=True)
        for index, item in enumerate(items)
    ]


def _has_value(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


_AMOUNT = re.compile(r"^\d+(\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _amount(value: Any, argument: str) -> str:
    """A non-negative amount as Apollo takes it: digits and an optional decimal point, as a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal, str)):
        raise ApolloArgumentError(f"{argument} must be a number or a string of digits, got {value!r}.")
    text = str(value).strip() if isinstance(value, str) else format(decimal.Decimal(str(value)), "f")
    if not _AMOUNT.match(text):
        raise ApolloArgumentError(
            f"{argument} must be a non-negative number or a string of digits (such as '55000' or "
            f"'1250.50'), without commas or a currency symbol: Apollo leaves the amount blank "
            f"otherwise. Got {value!r}."
        )
    return text


def _date(value: Any, argument: str) -> str:
    """A date as Apollo takes it (``YYYY-MM-DD``), from a string in that form or a ``date``."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ApolloArgumentError(f"{argument} must be a date as 'YYYY-MM-DD' (or a date object), got {value!r}.")


def match_record_stage(
    record: RecordType, stages: Sequence[dict[str, Any]], stage: Any, argument: str
) -> str:
    """
    The id of a stage of ``record`` given by id or name (case-insensitive), from the team's list
    (:func:`~airflow_provider_apollo.core.stages.match_stage` decides); an unknown one is an
    ``ApolloArgumentError`` naming ``argument`` and listing the record type's stages.
    """
    wanted = check_non_empty_string(stage, argument, f"{_a(record.noun)} stage id or name")
    try:
        return match_stage(list(stages), wanted)
    except ApolloArgumentError:
        known = ", ".join(repr(item.get("display_name") or item.get("name")) for item in stages)
        raise ApolloArgumentError(
            f"Unknown {record.noun} stage {wanted!r} (given as {argument}). The team's {record.noun} "
            f"stages: {known or 'none'}."
        ) from None


# ------------------------------------------------------------------ requests and answers


def record_path(record: RecordType, record_id: str) -> str:
    """The path of one record, its id quoted."""
    return record.record_path.format(**{record.path_param: quote(record_id, safe="")})


def view_request(record: RecordType, record_id: str) -> ApiRequest:
    """``GET`` one record."""
    return ApiRequest("GET", record_path(record, record_id), rate_group=record.record_path)


def create_request(record: RecordType, fields: Mapping[str, Any]) -> ApiRequest:
    """``POST`` one record. Never idempotent: only contacts' create deduplicates, and not here."""
    return ApiRequest("POST", record.create_path, json_body=dict(fields), idempotent=False)


def update_request(record: RecordType, record_id: str, fields: Mapping[str, Any]) -> ApiRequest:
    """``PATCH`` one record's fields."""
    return ApiRequest(
        "PATCH", record_path(record, record_id), json_body=dict(fields), rate_group=record.record_path
    )


def stages_request(record: RecordType) -> ApiRequest:
    """``GET`` the record's stages."""
    return ApiRequest("GET", record.stages_path, rate_group=record.stages_path)


def bulk_create_request(record: RecordType, batch: list[dict[str, Any]], run_dedupe: bool) -> ApiRequest:
    """Bulk create: with dedupe every retry is safe (Apollo finds what the first try created)."""
    if record.bulk_create_path is None:
        raise ApolloArgumentError(f"Apollo has no bulk create for {record.plural}.")
    return ApiRequest(
        "POST",
        record.bulk_create_path,
        json_body={record.many_key: batch, "run_dedupe": bool(run_dedupe)},
        idempotent=bool(run_dedupe),
    )


def read_stages(record: RecordType, body: Any) -> list[dict[str, Any]]:
    """The stage list from the record's stages endpoint."""
    if not isinstance(body, dict):
        raise ApolloApiError(f"Apollo GET {record.stages_path} answered an unexpected body", body=body)
    return list(body.get(record.stages_key) or [])


def read_record(record: RecordType, body: Any) -> dict[str, Any]:
    """The one record an answer holds (``{"account": {...}}``)."""
    found = body.get(record.one_key) if isinstance(body, dict) else None
    if not isinstance(found, dict):
        raise ApolloApiError(f"Apollo answered without the {record.noun} ({record.one_key!r})", body=body)
    return dict(found)


def read_updated_records(record: RecordType, body: Any, sent_ids: Sequence[str]) -> list[dict[str, Any]]:
    """
    The records a bulk update answered with; for a background job (``entity_progress_job``), one
    ``{"id": ...}`` per id the job took on.
    """
    if isinstance(body, dict) and isinstance(body.get(record.many_key), list):
        return [item for item in body[record.many_key] if isinstance(item, dict)]
    job = body.get("entity_progress_job") if isinstance(body, dict) else None
    if isinstance(job, dict):
        return [{"id": str(item)} for item in job.get("entity_ids") or list(sent_ids)]
    raise ApolloApiError(
        f"Apollo answered a bulk update without {record.many_key!r} or 'entity_progress_job'", body=body
    )


# ------------------------------------------------------------------ bulk create's answer, in input order


def normalize_domain(value: Any) -> str | None:
    """A web domain for matching: case, scheme, ``www.``, path and a trailing dot ignored."""
    if value is None:
        return None
    text = str(value).strip().casefold()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    return text or None


def _check_dedupe(key: DedupeKey, fields: Mapping[str, Any]) -> Any:
    if key.domain:
        return normalize_domain(fields.get(key.fields[0]))
    parts = []
    for name in key.fields:
        text = str(fields.get(name) or "")
        parts.append((text.strip() if key.strip else text).casefold())
    return tuple(parts)


def match_bulk_answer(
    record: RecordType,
    inputs: Sequence[Mapping[str, Any]],
    created: Sequence[dict[str, Any]],
    existing: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """
    A bulk create's answer as one record per input, in input order, each answered record handed out once.

    Apollo splits its answer into created and existing records. Each input is matched by the record
    type's :attr:`~RecordType.dedupe_keys` in order (a key is tried when the input has a value for
    it), then by position among what is left. Matching is one to one: two inputs naming the same
    record (created twice without dedupe, or once and then matched) get the two answered records.
    """
    returned = [*created, *existing]
    index: list[defaultdict[Any, deque[int]]] = [defaultdict(deque) for _ in record.dedupe_keys]
    for position, answered in enumerate(returned):
        for slot, key in enumerate(record.dedupe_keys):
            value = _check_dedupe(key, answered)
            if value is not None:
                index[slot][value].append(position)
    used: set[int] = set()

    def take(candidates: deque[int] | None) -> int | None:
        while candidates:
            position = candidates.popleft()
            if position not in used:
                used.add(position)
                return position
        return None

    matched: list[int | None] = []
    for item in inputs:
        found = None
        for slot, key in enumerate(record.dedupe_keys):
            if not any(item.get(name) for name in key.when_any):
                continue
            value = _check_dedupe(key, item)
            found = take(index[slot].get(value)) if value is not None else None
            if found is not None:
                break
        matched.append(found)
    leftovers = iter(position for position in range(len(returned)) if position not in used)
    result: list[dict[str, Any]] = []
    for found_at in matched:
        chosen = found_at if found_at is not None else next(leftovers, None)
        if chosen is None:
            raise ApolloApiError(
                f"Apollo's bulk create answered {len(returned)} {record.plural} for {len(inputs)} inputs; "
                f"some inputs could not be matched to {_a(record.noun)}."
            )
        result.append(returned[chosen])
    return result
