"""Apollo's protocol decisions without I/O: config, requests, errors, retries, rate limits, paging.

The sync hook (``requests``) and the async trigger (``aiohttp``) only move bytes; every decision
about what to send, whether to retry, how long to wait and how to read a page lives here, once.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import tenacity

from airflow_provider_apollo import __version__
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloSearchCapError,
    ApolloServerError,
    ApolloValidationError,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.apollo.io/api/v1"
USER_AGENT = f"airflow-provider-apollo/{__version__}"

# Apollo's documented and working limits: one fact, one place.
SEARCH_PER_PAGE_MAX = 100
SEARCH_RESULT_CAP = 50_000
BULK_CREATE_MAX = 100
# update_stages / update_owners take ids as query parameters; 100 ids keep URLs near 4 KB.
ID_BATCH_SIZE = 100

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_WAIT = 60.0
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0

AUTH_API_KEY = "api_key"
AUTH_BEARER = "bearer"

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


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ApolloConfig:
    """
    What a connection says, validated: credentials, base URL and the retry budget.

    ``api_key`` is excluded from ``repr`` so a config never prints the key.
    """

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    auth_type: str = AUTH_API_KEY
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT

    @classmethod
    def from_connection(
        cls, *, conn_id: str, password: str | None, host: str | None, extra: Mapping[str, Any] | None
    ) -> ApolloConfig:
        """Build a config from an Airflow connection's fields; a missing key fails before any request."""
        if not password:
            raise ApolloAuthError(
                f"Connection {conn_id!r} has no API key: put the Apollo API key in the connection's password."
            )
        extra = dict(extra or {})
        auth_type = str(extra.get("auth_type") or AUTH_API_KEY).lower()
        if auth_type not in (AUTH_API_KEY, AUTH_BEARER):
            raise ApolloValidationError(
                f"Connection {conn_id!r}: extra 'auth_type' must be 'api_key' or 'bearer', got {auth_type!r}."
            )
        return cls(
            api_key=password,
            base_url=normalise_base_url(host),
            auth_type=auth_type,
            timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, conn_id, positive=True),
            max_retries=int(_number(extra, "max_retries", DEFAULT_MAX_RETRIES, conn_id)),
            max_retry_wait=_number(extra, "max_retry_wait", DEFAULT_MAX_RETRY_WAIT, conn_id),
        )

    def headers(self) -> dict[str, str]:
        """Headers for every request: authentication, JSON, and a User-Agent naming this package."""
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "User-Agent": USER_AGENT,
        }
        if self.auth_type == AUTH_BEARER:
            headers["Authorization"] = f"Bearer {self.api_key}"
        else:
            headers["x-api-key"] = self.api_key
        return headers

    def url(self, path: str) -> str:
        return self.base_url + path

    def redact(self, text: str) -> str:
        """Remove the key from text that may echo a request (URLs, bodies) before it is shown."""
        return text.replace(self.api_key, "***") if self.api_key else text


def normalise_base_url(host: str | None) -> str:
    """The connection's host as a base URL: default Apollo, scheme added, no trailing slash."""
    if not host:
        return DEFAULT_BASE_URL
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = "https://" + host
    if host.rstrip("/") in ("https://api.apollo.io", "http://api.apollo.io"):
        host += "/api/v1"
    return host


def _number(
    extra: Mapping[str, Any], name: str, default: float, conn_id: str, positive: bool = False
) -> float:
    value = extra.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ApolloValidationError(
            f"Connection {conn_id!r}: extra {name!r} must be a number, got {value!r}."
        ) from None
    if number < 0 or (positive and number == 0) or math.isnan(number):
        raise ApolloValidationError(
            f"Connection {conn_id!r}: extra {name!r} must be {'> 0' if positive else '>= 0'}, got {value!r}."
        )
    return number


# --------------------------------------------------------------------------- requests


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


# --------------------------------------------------------------------------- responses and errors


@dataclass(frozen=True)
class ApiResponse:
    """What a transport received: status, lower-cased headers, raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def decode_body(response: ApiResponse) -> Any:
    """The body as JSON when it parses, else as text."""
    text = response.body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_retry_after(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date: Apollo sends seconds; treat an unknown form as absent
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "message", "error_message"):
            if body.get(key):
                return str(body[key])
        return json.dumps(body)[:500]
    text = str(body or "").strip()
    if text.startswith("<"):
        return "non-JSON (HTML) response"
    return text[:500] or "empty response"


def error_for(
    request: ApiRequest, response: ApiResponse, config: ApolloConfig | None = None
) -> ApolloApiError:
    """Map a non-2xx response to the exception type callers handle; the key is never in the message."""
    body = decode_body(response)
    message = f"Apollo {request.describe()} answered {response.status}: {_message_of(body)}"
    if config is not None:
        message = config.redact(message)
    status = response.status
    if status in (401, 403):
        return ApolloAuthError(message, status_code=status, body=body)
    if status == 422 or status == 400 or status == 404:
        deleted = body.get("deleted_contact_ids") if isinstance(body, dict) else None
        return ApolloValidationError(message, status_code=status, body=body, deleted_contact_ids=deleted)
    if status == 429:
        return ApolloRateLimitError(
            message,
            status_code=status,
            body=body,
            retry_after=parse_retry_after(response.header("retry-after")),
        )
    if status >= 500:
        return ApolloServerError(message, status_code=status, body=body)
    return ApolloApiError(message, status_code=status, body=body)


def parse_json_body(request: ApiRequest, response: ApiResponse) -> Any:
    """A 2xx body as JSON; a truncated or non-JSON body is a retryable transport fault, not data."""
    try:
        return json.loads(response.body)
    except ValueError:
        raise ApolloConnectionError(
            f"Apollo {request.describe()} answered {response.status} with a body that is not valid JSON "
            f"({len(response.body)} bytes)",
            maybe_applied=True,
        ) from None


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """
    What is retried, and how long to wait: the one policy both transports apply through tenacity.

    - 429: wait ``retry-after`` when it is within ``max_retry_wait``; longer (an hourly or daily
      quota) raises ``ApolloRateLimitError`` at once, so a worker is never held for hours.
    - 5xx, connection errors, truncated bodies: exponential backoff with full jitter.
    - A non-idempotent request (create without dedupe) is retried only when it cannot have been
      applied: a 429, or a connection that was never made.
    - 4xx other than 429: never retried.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    backoff_initial: float = BACKOFF_INITIAL
    backoff_max: float = BACKOFF_MAX

    @classmethod
    def from_config(cls, config: ApolloConfig) -> RetryPolicy:
        return cls(max_retries=config.max_retries, max_retry_wait=config.max_retry_wait)

    def should_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        if isinstance(error, ApolloRateLimitError):
            retry_after = error.retry_after
            return retry_after is None or retry_after <= self.max_retry_wait
        if isinstance(error, ApolloConnectionError):
            return idempotent or not error.maybe_applied
        if isinstance(error, ApolloServerError):
            return idempotent
        return False

    def wait_seconds(
        self, error: BaseException | None, attempt_number: int, rng: random.Random | None = None
    ) -> float:
        """Seconds before retry number ``attempt_number`` (1 = the first retry)."""
        if isinstance(error, ApolloRateLimitError) and error.retry_after is not None:
            # A small margin: Apollo's window resets at retry-after, not a moment before.
            return min(self.max_retry_wait, error.retry_after + 0.05)
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** (attempt_number - 1)))
        # Full jitter spreads retries of many workers hitting the same outage.
        return min(self.max_retry_wait, (rng or random).uniform(ceiling / 2, ceiling))

    def tenacity_kwargs(
        self, request: ApiRequest, on_retry: Callable[[tenacity.RetryCallState], None] | None = None
    ) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` or ``tenacity.AsyncRetrying``: same policy, either transport."""

        def retry(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or not outcome.failed:
                return False
            error = outcome.exception()
            return error is not None and self.should_retry(error, idempotent=request.idempotent)

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            return self.wait_seconds(error, state.attempt_number)

        return {
            "retry": retry,
            "wait": wait,
            "stop": tenacity.stop_after_attempt(self.max_retries + 1),
            "reraise": True,
            "before_sleep": on_retry or _log_retry(request),
        }


def _log_retry(request: ApiRequest) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        sleep = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "Apollo %s failed (%s); retry %d in %.1f s",
            request.describe(),
            error,
            state.attempt_number,
            sleep,
        )

    return before_sleep


# --------------------------------------------------------------------------- rate limits

# Apollo's rate-limit headers per window; the day window has two spellings.
_WINDOW_HEADERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "minute": (("x-rate-limit-minute", "x-minute-usage", "x-minute-requests-left"),),
    "hour": (("x-rate-limit-hourly", "x-hourly-usage", "x-hourly-requests-left"),),
    "day": (
        ("x-rate-limit-24-hour", "x-24-hour-usage", "x-24-hour-requests-left"),
        ("x-rate-limit-daily", "x-daily-usage", "x-daily-requests-left"),
    ),
}
MINUTE_WINDOW_SECONDS = 60.0
# The client sees a window open a little after Apollo does; waiting this much past the predicted
# reset absorbs that skew (0.65 s of a 60 s minute).
RESET_MARGIN = 0.05
RESET_MARGIN_SHARE = 0.01
# While one request learns when a used-up window resets, the others check back this often.
PROBE_POLL = 0.05


@dataclass(frozen=True)
class WindowUsage:
    limit: int | None
    used: int | None
    left: int | None


def read_rate_limit_headers(headers: Mapping[str, str]) -> dict[str, WindowUsage]:
    """Usage per window from Apollo's headers (both day-window spellings); empty values mean unlimited."""
    windows: dict[str, WindowUsage] = {}
    for window, spellings in _WINDOW_HEADERS.items():
        for limit_name, used_name, left_name in spellings:
            if limit_name in headers or left_name in headers:
                windows[window] = WindowUsage(
                    _int_or_none(headers.get(limit_name)),
                    _int_or_none(headers.get(used_name)),
                    _int_or_none(headers.get(left_name)),
                )
                break
    return windows


def _int_or_none(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


@dataclass
class _MinuteWindow:
    # Apollo opened the current window between these two instants: the opening request's send
    # time and its response's arrival. Learning the length from the earlier and predicting the
    # reset from the later keeps a predicted reset at or after the real one.
    opened_after: float | None = None
    started_at: float | None = None
    # Apollo's minute is 60 s, but only a 429's retry-after proves where a window ends; until one
    # arrives the limiter does not hold requests back on a guessed length.
    length: float = MINUTE_WINDOW_SECONDS
    length_learned: bool = False
    limit: int | None = None
    # The highest usage Apollo reported in this window: answers arrive out of order.
    used: int = 0
    # Requests sent and not yet answered (by ticket): Apollo may not have counted them yet.
    in_flight: set[int] = field(default_factory=set)
    tickets: int = 0
    # The one request sent to learn when a used-up window resets, while it is unanswered.
    probe: int | None = None

    def ends_at(self) -> float | None:
        if self.started_at is None or not self.length_learned:
            return None
        return self.started_at + self.length

    def left(self) -> int | None:
        """Requests this window still takes, counting unanswered ones as spent (the safe side)."""
        return None if self.limit is None else self.limit - self.used - len(self.in_flight)


class RateLimiter:
    """
    Paces requests per Apollo endpoint from the rate-limit headers, so long runs meet few 429s.

    Apollo's windows open on the first request, and no header says when they reset. The limiter
    notes when a window opened (a response whose usage is 1) and learns the window's length from
    the first 429's ``retry-after``. From then on, when the quota is used up (counting requests
    still in flight as spent) it holds requests until the reset instead of sending requests
    bound to fail; before the reset is known, a used-up window lets one request through to learn
    it while the others wait. One 429 per endpoint per run, however long the run and however
    many pages are fetched at once. No clock and no sleeping here: methods take ``now``
    (monotonic seconds) and callers sleep for the wait returned.
    """

    def __init__(self) -> None:
        self._windows: dict[str, _MinuteWindow] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float) -> tuple[float, int | None]:
        """
        Ask to send a request counting against ``key``'s window.

        Returns ``(0.0, ticket)``: send now and hand ``ticket`` to :meth:`observe` (or
        :meth:`release` when no response came); or ``(wait, None)``: sleep ``wait`` seconds and ask
        again.
        """
        with self._lock:
            window = self._windows.setdefault(key, _MinuteWindow())
            ends_at = window.ends_at()
            if ends_at is not None and now >= ends_at:
                # The predicted reset has passed: the next request opens a new window.
                window.opened_after = window.started_at = now
                window.used = 0
                ends_at = window.ends_at()
            left = window.left()
            if left is not None and left <= 0:
                if ends_at is not None:
                    return ends_at + window.length * RESET_MARGIN_SHARE + RESET_MARGIN - now, None
                if window.probe is not None:
                    return PROBE_POLL, None
            window.tickets += 1
            ticket = window.tickets
            window.in_flight.add(ticket)
            if left is not None and left <= 0:
                window.probe = ticket
            return 0.0, ticket

    def release(self, key: str, ticket: int) -> None:
        """A request got no response (connection error): stop counting it as in flight."""
        with self._lock:
            window = self._windows.get(key)
            if window is not None:
                window.in_flight.discard(ticket)
                if window.probe == ticket:
                    window.probe = None

    def observe(self, key: str, response: ApiResponse, sent_at: float, now: float, ticket: int) -> None:
        """Update ``key``'s window from the response to the request ``ticket`` sent at ``sent_at``."""
        with self._lock:
            window = self._windows.setdefault(key, _MinuteWindow())
            window.in_flight.discard(ticket)
            if window.probe == ticket:
                window.probe = None
            usage = read_rate_limit_headers(response.headers).get("minute")
            if response.status == 429:
                self._observe_429(window, response, usage, now)
                return
            if usage is None or usage.limit is None or usage.used is None:
                return
            window.limit = usage.limit
            if usage.used <= 1 and (window.started_at is None or sent_at >= window.started_at):
                # This request opened a new window (sent after the current one's start, so not a
                # late answer from an earlier window).
                window.opened_after, window.started_at, window.used = sent_at, now, usage.used
            elif window.started_at is None or sent_at >= window.started_at or usage.used > window.used:
                window.used = max(window.used, usage.used)

    @staticmethod
    def _observe_429(
        window: _MinuteWindow, response: ApiResponse, usage: WindowUsage | None, now: float
    ) -> None:
        retry_after = parse_retry_after(response.header("retry-after"))
        minute_has_room = usage is not None and usage.left is not None and usage.left > 0
        if retry_after is None or minute_has_room or retry_after > MINUTE_WINDOW_SECONDS * 1.5:
            return  # an hourly or daily quota: the retry policy raises, nothing to pace
        ends_at = now + retry_after
        if window.opened_after is not None and ends_at > window.opened_after:
            window.length = ends_at - window.opened_after
        if window.started_at is None or window.started_at + window.length < ends_at:
            window.started_at = ends_at - window.length
        window.length_learned = True
        if usage is not None and usage.limit is not None:
            window.limit = usage.limit
        window.used = window.limit or window.used


# --------------------------------------------------------------------------- paging


@dataclass(frozen=True)
class Pagination:
    page: int
    per_page: int
    total_entries: int
    total_pages: int


def read_pagination(body: Any) -> Pagination:
    """Apollo's pagination block; page numbers sometimes arrive as strings."""
    raw = body.get("pagination") if isinstance(body, dict) else None
    if not isinstance(raw, dict):
        raise ApolloApiError("Apollo search answered without a 'pagination' object", body=None)

    def number(name: str, default: int = 0) -> int:
        value = raw.get(name)
        try:
            return int(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            return default

    return Pagination(number("page", 1), number("per_page"), number("total_entries"), number("total_pages"))


def check_int_range(value: Any, argument: str, low: int, high: int) -> int:
    """An integer from ``low`` to ``high``, or an ``ApolloValidationError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApolloValidationError(f"{argument} must be an integer from {low} to {high}, got {value!r}.")
    return value


def validate_search(filters: Any, per_page: Any, max_records: Any) -> dict[str, Any]:
    """Search arguments checked before any request: filters a dict, per_page 1..100, max_records >= 0."""
    if filters is None:
        filters = {}
    if not isinstance(filters, Mapping):
        raise ApolloValidationError(f"search filters must be a dict, got {type(filters).__name__}.")
    for reserved in ("page", "per_page", "api_key"):
        if reserved in filters:
            raise ApolloValidationError(
                f"search filters must not contain {reserved!r}: paging is done for you "
                "(use per_page= and max_records=)."
            )
    check_int_range(per_page, "per_page", 1, SEARCH_PER_PAGE_MAX)
    if max_records is not None and (
        isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 0
    ):
        raise ApolloValidationError(
            f"max_records must be a non-negative integer or None, got {max_records!r}."
        )
    sort = filters.get("sort_by_field")
    if sort is not None and sort not in SEARCH_SORT_FIELDS:
        raise ApolloValidationError(
            f"search sort_by_field must be one of {', '.join(SEARCH_SORT_FIELDS)}; got {sort!r}."
        )
    return dict(filters)


class SearchPager:
    """
    The paging state of one search: which page to ask for next, and when to stop.

    Stops at ``total_pages``, at ``max_records``, or on an empty page. A search matching more than
    Apollo's 50,000-record cap raises ``ApolloSearchCapError`` on the first page, before any
    record is handed out, unless ``max_records`` is within the cap (a deliberate partial read).
    """

    def __init__(self, filters: Mapping[str, Any], *, per_page: int, max_records: int | None) -> None:
        self.filters = dict(filters)
        self.per_page = per_page
        self.max_records = max_records
        self.next_page: int | None = 1 if max_records != 0 else None
        self.emitted = 0
        self.rewinds = 0
        self.pagination: Pagination | None = None

    def body_for(self, page: int) -> dict[str, Any]:
        return {**self.filters, "page": page, "per_page": self.per_page}

    def request_for(self, page: int) -> ApiRequest:
        return ApiRequest("POST", PATH_SEARCH, json_body=self.body_for(page), endpoint=PATH_SEARCH)

    def next_request(self) -> ApiRequest | None:
        return None if self.next_page is None else self.request_for(self.next_page)

    def accept(self, body: Any, *, seen: set[str] | None = None) -> list[dict[str, Any]]:
        """
        Take one page's body; return the contacts to hand out and advance.

        ``seen`` holds the ids already handed out by this search: a contact shifted onto a later
        page (records added in front while paging) is not handed out twice. Contacts deleted in
        front shift later records back onto pages already read; when the total drops, the pager
        rewinds by as many pages as went missing and reads forward again, so none is skipped.
        """
        pagination = read_pagination(body)
        contacts = [c for c in body.get("contacts") or [] if seen is None or c.get("id") not in seen]
        previous = self.pagination
        if previous is None:
            check_search_cap(pagination.total_entries, self.max_records)
        self.pagination = pagination
        current = self.next_page or pagination.page
        if self.max_records is not None:
            contacts = contacts[: max(0, self.max_records - self.emitted)]
        self.emitted += len(contacts)
        if seen is not None:
            seen.update(c["id"] for c in contacts if c.get("id") is not None)
        if previous is not None and pagination.total_entries < previous.total_entries and current > 1:
            shrunk = previous.total_entries - pagination.total_entries
            self.rewinds += 1
            self.next_page = max(1, current - math.ceil(shrunk / self.per_page))
            return contacts
        done = (
            not body.get("contacts")
            or current >= pagination.total_pages
            or (self.max_records is not None and self.emitted >= self.max_records)
        )
        self.next_page = None if done else current + 1
        return contacts

    def planned_pages(self) -> int | None:
        """Pages this search will read, once the first page told the total."""
        if self.pagination is None:
            return None
        pages = self.pagination.total_pages
        if self.max_records is not None:
            pages = min(pages, math.ceil(self.max_records / self.per_page))
        return pages


def check_search_cap(total_entries: int, max_records: int | None) -> None:
    if total_entries > SEARCH_RESULT_CAP and (max_records is None or max_records > SEARCH_RESULT_CAP):
        raise ApolloSearchCapError(
            f"This search matches {total_entries:,} contacts, more than the {SEARCH_RESULT_CAP:,} Apollo "
            "returns for one query, so reading it would silently miss "
            f"{total_entries - SEARCH_RESULT_CAP:,} of them. Narrow the filters (contact_stage_ids, "
            "contact_label_ids, q_keywords), split the search into several, or pass "
            f"max_records<={SEARCH_RESULT_CAP:,} to read only the first records on purpose. "
            "ApolloSearchToS3Operator splits by contact stage for you.",
            total_entries=total_entries,
            cap=SEARCH_RESULT_CAP,
        )


# --------------------------------------------------------------------------- stages


def match_stage(stages: list[dict[str, Any]], stage: Any) -> str:
    """The id of ``stage`` given as an id or a display name (case-insensitive)."""
    if not isinstance(stage, str) or not stage.strip():
        raise ApolloValidationError(f"contact stage must be a non-empty string (id or name), got {stage!r}.")
    wanted = stage.strip()
    for item in stages:
        if item.get("id") == wanted:
            return str(item["id"])
    folded = wanted.casefold()
    for item in stages:
        names = {str(item.get("display_name") or "").casefold(), str(item.get("name") or "").casefold()}
        if folded in names:
            return str(item["id"])
    known = ", ".join(repr(item.get("display_name") or item.get("name")) for item in stages)
    raise ApolloValidationError(f"Unknown contact stage {stage!r}. Known stages: {known}.")


def stage_name(stages: list[dict[str, Any]], stage_id: str) -> str:
    for item in stages:
        if item.get("id") == stage_id:
            return str(item.get("display_name") or item.get("name") or stage_id)
    return stage_id
