"""Sequences (Apollo's ``emailer_campaigns``) and mailboxes: requests, answers and names, without I/O.

A sequence is given by id or by name, a mailbox by id or by email address. Resolving either is a
generator of :class:`~airflow_provider_apollo.core.ApiRequest` (see
:func:`~airflow_provider_apollo.core.lifecycle.run_steps`), so the sync hook, the async hook
and tests drive the same decisions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_provider_apollo.core.endpoints import (
    PATH_EMAIL_ACCOUNTS,
    PATH_SEQUENCE_ADD,
    PATH_SEQUENCE_REMOVE,
    PATH_SEQUENCE_SEARCH,
    SEARCH_PER_PAGE_MAX,
    ApiRequest,
    ids_params,
)
from airflow_provider_apollo.core.paging import read_pagination
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError

# Apollo ids are 24 hexadecimal digits (Mongo object ids).
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")

# Apollo's enrollment flags (query parameters of add_contact_ids) and the provider's defaults: all
# False, as Apollo's own, so nobody is enrolled whom Apollo would normally hold back.
ENROLLMENT_FLAGS: dict[str, bool] = {
    "sequence_no_email": False,
    "sequence_unverified_email": False,
    "sequence_job_change": False,
    "sequence_active_in_other_campaigns": False,
    "sequence_finished_in_other_campaigns": False,
    "sequence_same_company_in_same_campaign": False,
    "contacts_without_ownership_permission": False,
    "add_if_in_queue": False,
    "contact_verification_skipped": False,
}
ENROLLMENT_STATUSES = ("active", "paused")

# The reason Apollo gives for a contact already in this sequence: a retried enrollment.
ALREADY_IN_SEQUENCE = "contacts_already_exists_in_current_campaign"
# Apollo reports some contacts neither enrolled nor skipped (already enrolled, by integrations' account).
NOT_REPORTED = "not_reported_by_apollo"

# The operator's modes and Apollo's names for them.
REMOVE_MODES: dict[str, str] = {"finish": "mark_as_finished", "remove": "remove", "stop": "stop"}

# What a skipped contact means, for messages (Apollo's reason codes, from its reference).
SKIP_REASONS: dict[str, str] = {
    "contact_not_found": "the contact does not exist",
    ALREADY_IN_SEQUENCE: "already in this sequence",
    "contacts_active_in_other_campaigns": "active in another sequence",
    "contacts_finished_in_other_campaigns": "finished another sequence",
    "contacts_without_email": "has no email address",
    "contacts_unverified_email": "email not verified",
    "contacts_with_job_change": "has a pending job change",
    "contacts_in_same_company": "a colleague is already in this sequence",
    "contacts_without_ownership_permission": "no permission to reach out to this contact",
    "contacts_in_pending_state": "already in the account queue",
    "contacts_with_unverified_user_managed_email": "user-managed email not verified",
}

Steps = Generator[ApiRequest, Any, Any]


def looks_like_id(value: str) -> bool:
    return bool(_OBJECT_ID.match(value))


def sequence_search_request(page: int, *, q_name: str | None = None) -> ApiRequest:
    """``POST /emailer_campaigns/search``; the reference puts its parameters in the query."""
    params: list[tuple[str, str]] = []
    if q_name:
        params.append(("q_name", q_name))
    params += [("page", str(page)), ("per_page", str(SEARCH_PER_PAGE_MAX))]
    return ApiRequest("POST", PATH_SEQUENCE_SEARCH, params=tuple(params), rate_group=PATH_SEQUENCE_SEARCH)


def read_all_pages(
    request_for: Callable[[int], ApiRequest], key: str
) -> Generator[ApiRequest, Any, list[Any]]:
    """Every item under ``key`` across the pages of a paged listing."""
    items: list[Any] = []
    page = 1
    while True:
        body = yield request_for(page)
        if not isinstance(body, dict):
            raise ApolloApiError(f"Apollo answered an unexpected body for {request_for(page).describe()}")
        items.extend(item for item in body.get(key) or [] if isinstance(item, dict))
        try:
            pages = read_pagination(body).total_pages
        except ApolloApiError:
            pages = page
        if page >= pages or not body.get(key):
            return items
        page += 1


def _sequence_label(sequence: Mapping[str, Any]) -> str:
    archived = " (archived)" if sequence.get("archived") else ""
    return f"{sequence.get('name')!r} ({sequence.get('id')}){archived}"


def listing(labels: list[str], limit: int = 30) -> str:
    if not labels:
        return "none"
    return ", ".join(labels[:limit]) + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


@dataclass(frozen=True)
class SequenceRef:
    """A resolved sequence: its id and name (for messages)."""

    id: str
    name: str


def match_sequence(sequences: Sequence[Mapping[str, Any]], wanted: str) -> SequenceRef | None:
    """
    The sequence ``wanted`` names (an id, or a name compared case-insensitively), or None.

    Several sequences with that name: an ``ApolloArgumentError`` listing them (archived ones do not
    count when exactly one is not archived).
    """
    for sequence in sequences:
        if sequence.get("id") == wanted:
            return SequenceRef(str(sequence["id"]), str(sequence.get("name") or wanted))
    folded = wanted.casefold()
    named = [s for s in sequences if str(s.get("name") or "").strip().casefold() == folded]
    if len(named) > 1:
        live = [s for s in named if not s.get("archived")]
        if len(live) == 1:
            named = live
        else:
            raise ApolloArgumentError(
                f"sequence {wanted!r} is ambiguous: {len(named)} sequences have that name: "
                f"{listing([_sequence_label(s) for s in named])}. Pass the sequence's id instead."
            )
    if named:
        return SequenceRef(str(named[0]["id"]), str(named[0].get("name")))
    return None


def resolve_sequence(sequence: Any) -> Generator[ApiRequest, Any, SequenceRef]:
    """
    Find a sequence by id or name: a name search (``q_name``) first, the whole list when that fails.

    An unknown sequence is an ``ApolloArgumentError`` listing the closest candidates (the name
    search's partial matches) or the team's sequences.
    """
    if not isinstance(sequence, str) or not sequence.strip():
        raise ApolloArgumentError(
            f"sequence must be a non-empty string (a sequence id or name), got {sequence!r}."
        )
    wanted = sequence.strip()
    partial: list[dict[str, Any]] = []
    if not looks_like_id(wanted):
        partial = yield from read_all_pages(
            lambda page: sequence_search_request(page, q_name=wanted), "emailer_campaigns"
        )
        found = match_sequence(partial, wanted)
        if found is not None:
            return found
    every = yield from read_all_pages(sequence_search_request, "emailer_campaigns")
    found = match_sequence(every, wanted)
    if found is not None:
        return found
    candidates = partial or every
    what = "Sequences whose name contains it" if partial else "The team's sequences"
    raise ApolloArgumentError(
        f"Unknown sequence {wanted!r} (not a sequence id, and no sequence has that name). "
        f"{what}: {listing([_sequence_label(s) for s in candidates])}."
    )


# ------------------------------------------------------------------ mailboxes


def email_accounts_request() -> ApiRequest:
    return ApiRequest("GET", PATH_EMAIL_ACCOUNTS, rate_group=PATH_EMAIL_ACCOUNTS)


def email_accounts_of(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("email_accounts"), list):
        raise ApolloApiError(
            "Apollo GET /email_accounts answered without an 'email_accounts' list", body=body
        )
    return [account for account in body["email_accounts"] if isinstance(account, dict)]


@dataclass(frozen=True)
class Mailbox:
    """A resolved mailbox: the email account id, and the address to send from."""

    id: str
    email: str


def match_mailbox(accounts: Sequence[Mapping[str, Any]], mailbox: Any) -> Mailbox:
    """
    The mailbox given by id or email address (case-insensitive; an alias counts).

    Unknown or inactive: an ``ApolloArgumentError`` listing the team's active mailboxes.
    """
    if not isinstance(mailbox, str) or not mailbox.strip():
        raise ApolloArgumentError(
            f"mailbox must be a non-empty string (an email account id or its address), got {mailbox!r}."
        )
    wanted = mailbox.strip()
    folded = wanted.casefold()
    chosen: Mapping[str, Any] | None = None
    address = ""
    for account in accounts:
        if account.get("id") == wanted:
            chosen, address = account, str(account.get("email") or "")
            break
    if chosen is None:
        for account in accounts:
            addresses = [account.get("email"), *(account.get("aliases") or [])]
            for candidate in addresses:
                if isinstance(candidate, str) and candidate.casefold() == folded:
                    chosen, address = account, candidate
                    break
            if chosen is not None:
                break
    known = listing([f"{a.get('email')} ({a.get('id')})" for a in accounts if a.get("active", True)])
    if chosen is None:
        raise ApolloArgumentError(f"Unknown mailbox {wanted!r}. The team's active mailboxes: {known}.")
    if chosen.get("active") is False:
        raise ApolloArgumentError(
            f"mailbox {wanted!r} is not active in Apollo ({chosen.get('inactive_reason') or 'inactive'}). "
            f"Active mailboxes: {known}."
        )
    return Mailbox(str(chosen["id"]), address)


# ------------------------------------------------------------------ enrollment


def check_enrollment_flags(flags: Mapping[str, Any]) -> dict[str, bool]:
    """Apollo's enrollment flags: only known names, only True or False."""
    unknown = sorted(set(flags) - set(ENROLLMENT_FLAGS))
    if unknown:
        raise ApolloArgumentError(
            f"Unknown enrollment flag(s) {', '.join(unknown)}. Apollo's flags: {', '.join(ENROLLMENT_FLAGS)}."
        )
    checked = dict(ENROLLMENT_FLAGS)
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ApolloArgumentError(f"{name} must be True or False, got {value!r}.")
        checked[name] = value
    return checked


def enroll_request(
    sequence_id: str,
    contact_ids: list[str],
    mailbox: Mailbox,
    flags: Mapping[str, bool],
    *,
    status: str | None = None,
    auto_unpause_at: str | None = None,
    user_id: str | None = None,
) -> ApiRequest:
    """``POST /emailer_campaigns/{id}/add_contact_ids`` with the reference's query parameters."""
    extra: dict[str, str] = {
        "emailer_campaign_id": sequence_id,
        "send_email_from_email_account_id": mailbox.id,
    }
    if mailbox.email:
        extra["send_email_from_email_address"] = mailbox.email
    extra.update({name: "true" if value else "false" for name, value in flags.items()})
    if status is not None:
        extra["status"] = status
    if auto_unpause_at is not None:
        extra["auto_unpause_at"] = auto_unpause_at
    if user_id is not None:
        extra["user_id"] = user_id
    path = PATH_SEQUENCE_ADD.format(sequence_id=quote(sequence_id, safe=""))
    return ApiRequest(
        "POST", path, params=ids_params("contact_ids", contact_ids, extra), rate_group=PATH_SEQUENCE_ADD
    )


@dataclass
class EnrollmentResult:
    """
    What an enrollment did, for the contacts asked for.

    :param enrolled: ids in the sequence now (added by this call, or already there: a retry).
    :param skipped: ids Apollo declined, with its reason code.
    :param already_enrolled: the part of ``enrolled`` that was in the sequence before this call.
    """

    enrolled: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    already_enrolled: list[str] = field(default_factory=list)

    def merge(self, other: EnrollmentResult) -> None:
        self.enrolled.extend(i for i in other.enrolled if i not in self.enrolled)
        self.skipped.update(other.skipped)
        self.already_enrolled.extend(i for i in other.already_enrolled if i not in self.already_enrolled)


def read_enrollment(requested: Sequence[str], body: Any) -> tuple[EnrollmentResult, list[str]]:
    """
    Apollo's answer to an enrollment, matched to the ids sent; also the ids it did not mention.

    ``skipped_contact_ids`` maps an id to a reason code (a plain list is read too, reason unknown).
    A contact skipped because it is already in this sequence counts as enrolled: enrolling the same
    contacts twice (a retried task) enrolls them once.
    """
    if not isinstance(body, dict):
        raise ApolloApiError("Apollo answered an enrollment with an unexpected body", body=body)
    returned = {str(c.get("id")) for c in body.get("contacts") or [] if isinstance(c, dict)}
    raw_skipped = body.get("skipped_contact_ids") or {}
    if isinstance(raw_skipped, list):
        raw_skipped = {str(i): "skipped" for i in raw_skipped}
    skipped_reasons = (
        {str(k): str(v) for k, v in raw_skipped.items()} if isinstance(raw_skipped, dict) else {}
    )
    result = EnrollmentResult()
    unreported: list[str] = []
    for contact_id in dict.fromkeys(requested):
        reason = skipped_reasons.get(contact_id)
        if reason == ALREADY_IN_SEQUENCE:
            result.enrolled.append(contact_id)
            result.already_enrolled.append(contact_id)
        elif reason is not None:
            result.skipped[contact_id] = reason
        elif contact_id in returned:
            result.enrolled.append(contact_id)
        else:
            unreported.append(contact_id)
    return result, unreported


def membership(contact: Mapping[str, Any], sequence_id: str) -> dict[str, Any] | None:
    """The contact's ``contact_campaign_statuses`` entry for the sequence, if any."""
    for status in contact.get("contact_campaign_statuses") or []:
        if isinstance(status, dict) and status.get("emailer_campaign_id") == sequence_id:
            return status
    return None


def describe_skipped(skipped: Mapping[str, str], limit: int = 20) -> str:
    shown = [f"{i}: {SKIP_REASONS.get(r, r)}" for i, r in list(skipped.items())[:limit]]
    more = f" and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return "; ".join(shown) + more


# ------------------------------------------------------------------ removal


def check_remove_mode(mode: Any) -> str:
    if mode not in REMOVE_MODES:
        raise ApolloArgumentError(f"mode must be one of {', '.join(map(repr, REMOVE_MODES))}, got {mode!r}.")
    return str(mode)


def remove_request(sequence_id: str, contact_ids: list[str], mode: str) -> ApiRequest:
    """``POST /emailer_campaigns/remove_or_stop_contact_ids`` with the reference's query parameters."""
    params = (("emailer_campaign_ids[]", sequence_id),) + ids_params(
        "contact_ids", contact_ids, {"mode": REMOVE_MODES[check_remove_mode(mode)]}
    )
    return ApiRequest("POST", PATH_SEQUENCE_REMOVE, params=params, rate_group=PATH_SEQUENCE_REMOVE)
