"""Endpoints and request building: Apollo's paths and limits, and the request value transports send."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# Apollo's documented and working limits: one fact, one name, one place.
# Every paged endpoint (contact search, sequence search, users, messages) gives at most 100 a page.
SEARCH_PER_PAGE_MAX = 100
# A search shows at most 50,000 records (500 pages of 100), however many match.
SEARCH_RESULT_CAP = 50_000
# POST /contacts/bulk_create takes at most 100 contacts.
BULK_CREATE_MAX = 100
# Ids sent as query parameters (update_stages, update_owners, add_contact_ids,
# remove_or_stop_contact_ids): Apollo documents no maximum; 100 ids keep a URL near 4 KB.
ID_BATCH_SIZE = 100
# POST /contacts/bulk_update: up to 100 answered with the contacts, up to 1,000 as a background job.
BULK_UPDATE_SYNC_MAX = 100
BULK_UPDATE_MAX = 1000
# Lists: Apollo documents no maximum; a synchronous call must finish within its 5-minute timeout,
# and 1,000 ids (bulk update's documented maximum) keep each call well inside it.
LIST_BATCH_SIZE = 1000

# Endpoint paths, relative to the base URL: every path the provider sends, here and nowhere else.
PATH_HEALTH = "/auth/health"
PATH_CONTACTS = "/contacts"
PATH_CONTACT = "/contacts/{contact_id}"
PATH_BULK_CREATE = "/contacts/bulk_create"
PATH_BULK_UPDATE = "/contacts/bulk_update"
PATH_SEARCH = "/contacts/search"
PATH_UPDATE_STAGES = "/contacts/update_stages"
PATH_UPDATE_OWNERS = "/contacts/update_owners"
PATH_STAGES = "/contact_stages"
PATH_FIELDS = "/fields"
PATH_LABELS_ADD = "/labels/add_entity_ids_to_label_names"
PATH_LABELS_REMOVE = "/labels/remove_entity_ids_from_label_names"
PATH_USERS_SEARCH = "/users/search"
PATH_EMAIL_ACCOUNTS = "/email_accounts"
PATH_SEQUENCE_SEARCH = "/emailer_campaigns/search"
PATH_SEQUENCE_ADD = "/emailer_campaigns/{sequence_id}/add_contact_ids"
PATH_SEQUENCE_REMOVE = "/emailer_campaigns/remove_or_stop_contact_ids"
PATH_MESSAGE_SEARCH = "/emailer_messages/search"

SEARCH_SORT_FIELDS = (
    "contact_last_activity_date",
    "contact_email_last_opened_at",
    "contact_email_last_clicked_at",
    "contact_created_at",
    "contact_updated_at",
)


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request to Apollo, before any transport sends it."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json_body: Any = None
    # False for a create without dedupe: a retry after it may have been applied would duplicate.
    idempotent: bool = True
    # The rate-limit group: requests with the same group share one of Apollo's per-endpoint
    # windows (a path template such as "/contacts/{contact_id}"); empty: the path itself.
    rate_group: str = ""
    # Seconds to wait for this request's answer; None: the connection's timeout.
    timeout: float | None = None

    @property
    def rate_key(self) -> str:
        return f"{self.method} {self.rate_group or self.path}"

    def describe(self) -> str:
        return f"{self.method} {self.rate_group or self.path}"


def contact_path(contact_id: str) -> str:
    return PATH_CONTACT.format(contact_id=quote(contact_id, safe=""))


def ids_params(name: str, ids: list[str], extra: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Query parameters in Rails' array form (``contact_ids[]=a&contact_ids[]=b``), as Apollo expects."""
    return tuple((f"{name}[]", contact_id) for contact_id in ids) + tuple(extra.items())


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def get_contact_request(contact_id: str) -> ApiRequest:
    return ApiRequest("GET", contact_path(contact_id), rate_group=PATH_CONTACT)


def list_stages_request() -> ApiRequest:
    return ApiRequest("GET", PATH_STAGES, rate_group=PATH_STAGES)


# ------------------------------------------------------------------ accounts and deals
# Apollo's Accounts and Deals references (accounts.yml, deals.yml). Their limits are the contacts'
# facts under the same names: accounts' bulk create takes at most BULK_CREATE_MAX (100) a call, and
# their bulk update BULK_UPDATE_MAX (1,000); the account search shows SEARCH_RESULT_CAP (50,000)
# records, SEARCH_PER_PAGE_MAX a page. The deal list has no documented cap and no filters.

PATH_ACCOUNTS = "/accounts"
# Update (PATCH) names the id account_id and View (GET) names it id: one path (ENDPOINTS.md notes it).
PATH_ACCOUNT = "/accounts/{account_id}"
PATH_ACCOUNT_SEARCH = "/accounts/search"
PATH_ACCOUNT_BULK_CREATE = "/accounts/bulk_create"
PATH_ACCOUNT_BULK_UPDATE = "/accounts/bulk_update"
PATH_ACCOUNT_UPDATE_OWNERS = "/accounts/update_owners"
PATH_ACCOUNT_STAGES = "/account_stages"
PATH_DEALS = "/opportunities"
PATH_DEAL = "/opportunities/{opportunity_id}"
# List All Deals: GET with query parameters (Apollo's CLI POSTs a JSON body; the reference wins).
PATH_DEAL_SEARCH = "/opportunities/search"
PATH_DEAL_STAGES = "/opportunity_stages"

ACCOUNT_SORT_FIELDS = ("account_last_activity_date", "account_created_at", "account_updated_at")
DEAL_SORT_FIELDS = ("amount", "is_closed", "is_won")
