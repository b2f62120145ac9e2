"""Endpoints and request building: Apollo's paths and limits, and the request value transports send."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# Apollo's documented and working limits: one fact, one place.
SEARCH_PER_PAGE_MAX = 100
SEARCH_RESULT_CAP = 50_000
BULK_CREATE_MAX = 100
# update_stages / update_owners take ids as query parameters; 100 ids keep URLs near 4 KB.
ID_BATCH_SIZE = 100

# Endpoint paths, relative to the base URL.
PATH_CONTACTS = "/contacts"
PATH_BULK_CREATE = "/contacts/bulk_create"
PATH_SEARCH = "/contacts/search"
PATH_CONTACT = "/contacts/{contact_id}"
PATH_STAGES = "/contact_stages"
PATH_UPDATE_STAGES = "/contacts/update_stages"
PATH_UPDATE_OWNERS = "/contacts/update_owners"
PATH_HEALTH = "/auth/health"

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
    # Groups requests that share one of Apollo's per-endpoint rate-limit windows.
    endpoint: str = ""
    # Seconds to wait for this request's answer; None: the connection's timeout.
    timeout: float | None = None

    @property
    def rate_key(self) -> str:
        return f"{self.method} {self.endpoint or self.path}"

    def describe(self) -> str:
        return f"{self.method} {self.endpoint or self.path}"


def contact_path(contact_id: str) -> str:
    return PATH_CONTACT.format(contact_id=quote(contact_id, safe=""))


def ids_params(name: str, ids: list[str], extra: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Query parameters in Rails' array form (``contact_ids[]=a&contact_ids[]=b``), as Apollo expects."""
    return tuple((f"{name}[]", contact_id) for contact_id in ids) + tuple(extra.items())


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def get_contact_request(contact_id: str) -> ApiRequest:
    return ApiRequest("GET", contact_path(contact_id), endpoint=PATH_CONTACT)


def list_stages_request() -> ApiRequest:
    return ApiRequest("GET", PATH_STAGES, endpoint=PATH_STAGES)
