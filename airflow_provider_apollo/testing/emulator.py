"""A faithful, stateful local Apollo.io API for tests, demos and benchmarks (standard library only)."""

from __future__ import annotations

import gc
import itertools
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from airflow_provider_apollo.testing._accounts import AccountEndpoints
from airflow_provider_apollo.testing._api import (
    ApiError,
    EmulatedRequest,
    _dedupe_ids,
    _gc_paused,
    _int_or,
    _invalid_id,
    _text,
    _truthy,
)
from airflow_provider_apollo.testing._data import (
    DEFAULT_STAGE,
    FIRST_NAMES,
    LAST_NAMES,
    LOCATIONS,
    ORGANIZATIONS,
    PHONE_FIELD_TYPES,
    SEED_STAGE_WEIGHTS,
    TITLES,
    ContactRecord,
    ObjectIdFactory,
    is_object_id,
    is_valid_email,
    iso_ms,
    keyword_tokens,
    label_object,
    parse_address,
    stable_fraction,
    stage_objects,
    user_objects,
)
from airflow_provider_apollo.testing._deals import DealEndpoints
from airflow_provider_apollo.testing._outreach import OutreachEndpoints
from airflow_provider_apollo.testing._ratelimit import RateLimiter

# Apollo's documented limits, one place each.
BULK_CREATE_LIMIT = 100
BULK_UPDATE_LIMIT = 1000
BULK_UPDATE_SYNC_LIMIT = 100
SEARCH_RESULT_CAP = 50_000
SEARCH_MAX_PER_PAGE = 100
SEARCH_DEFAULT_PER_PAGE = 25
SEARCH_PARTIAL_RESULTS_LIMIT = 10_000
USERS_DEFAULT_PER_PAGE = 25
SEED_HISTORY_MS = 365 * 24 * 3600 * 1000
SEED_COLLECT_THRESHOLD = 10_000

FAULT_KINDS = frozenset(
    {"status", "status_after_apply", "drop", "drop_after_apply", "delay", "truncate", "non_json"}
)
# Fault kinds that answer with a status code (500 unless told).
STATUS_FAULT_KINDS = frozenset({"status", "status_after_apply"})

# Apollo's search sort keys and the record attribute each one orders by; the email engagement
# dates are never set in the emulator, so sorting on them keeps the default (id) order.
SORT_FIELDS: dict[str, str | None] = {
    "contact_created_at": "created_ms",
    "contact_updated_at": "updated_ms",
    "contact_last_activity_date": "last_activity_ms",
    "contact_email_last_opened_at": None,
    "contact_email_last_clicked_at": None,
}

# Apollo's error texts.
MSG_CONTACT_MISSING = "Oops! This contact does not exist in Apollo."
MSG_CONTACT_DELETED = "Cannot update contact as it is deleted."
MSG_BULK_CREATE_LIMIT = f"Please limit your array to {BULK_CREATE_LIMIT} contacts or fewer."
MSG_BULK_UPDATE_LIMIT = "Please limit your array to fewer than 1000."
MSG_BULK_UPDATE_MISSING = "Please provide either contact_ids or contact_attributes"


@dataclass
class RecordedRequest:
    """One request the emulator received; ``status`` is what it sent (0 when the connection was dropped)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0
    time: float = 0.0
    # The request target as sent (path and query string) and the body's bytes, before any parsing.
    target: str = ""
    raw_body: bytes = b""


@dataclass
class Fault:
    """An injected failure; see :meth:`ApolloEmulator.add_fault`. ``hits`` counts the requests it hit."""

    kind: str
    count: int | None = 1
    every: int | None = None
    path: str | None = None
    method: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    start: int | None = None
    seen: int = 0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or self.path in path

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def fire(self) -> bool:
        """Count one matching request and say whether the fault hits it."""
        self.seen += 1
        if self.exhausted:
            return False
        # The first request hit is number ``start`` (default: ``every``), then every ``every``-th one.
        first = self.start if self.start is not None else (self.every or 1)
        if self.seen < first:
            return False
        if self.every is not None and (self.seen - first) % self.every:
            return False
        self.hits += 1
        return True


class ApolloEmulator(OutreachEndpoints, AccountEndpoints, DealEndpoints):
    """A local, stateful Apollo.io API served on loopback from a background thread.

    :param api_key: the key accepted in the ``x-api-key`` header; assign ``.api_key`` later to revoke it.
    :param host: interface to bind.
    :param port: port to bind; 0 picks a free one (read ``.url`` after :meth:`start`).
    :param rate_limits: ``{"minute": N, "hour": N, "day": N}`` per endpoint; a missing or None window is unlimited.
    :param time_scale: real seconds per emulated second (0.05 makes a minute window last 3 s).
    :param latency: seconds added to every response.
    :param oauth_tokens: tokens accepted as ``Authorization: Bearer``.
    :param pagination_as_strings: send search ``page``/``per_page`` as strings, as Apollo sometimes does.
    :param reply_after: real seconds after which a fraction of the contacts moved into Approaching by
        ``update_stages`` move on to ``reply_stage``; None disables it.
    :param reply_fraction: the deterministic share of those contacts that reply (at least one when above 0).
    :param reply_stage: stage name or id the replying contacts move to.
    :param legacy_day_headers: send ``x-rate-limit-daily``/``x-daily-*`` instead of the 24-hour spelling.
    :param seed: makes ids and seeded contacts deterministic.
    :param verbose: log every request to stderr.
    :param master_key: whether the key is a master key; False answers 403 on the master-key endpoints
        (users search, adding contacts to a sequence, API usage stats), as Apollo does.
    :param sequence_step_seconds: emulated seconds between a sequence's steps (real seconds are this
        times ``time_scale``); an enrolled contact replies, bounces or finishes after whole steps.
        None: sequence memberships never advance on their own.
    :param sequence_reply_fraction: the deterministic share of enrolled contacts that reply (at least
        one per enrollment request when above 0).
    :param sequence_bounce_fraction: the deterministic share whose first email bounces; the others
        finish the sequence after its last step.
    :param sequence_reply_classes: the reply classes automatic replies take, given in turn to the
        repliers of each enrollment request; None: a deterministic draw from a realistic mix of
        Apollo's eight classes.
    :param sequence_reply_step: the step whose email every replier answers; None: a step per contact.

    Each email a sequence sends is an outreach message (``GET /emailer_messages/search``); a reply is
    recorded on the message replied to (``replied``, ``reply_class``) and in the contact's activity
    feed (``POST /emailer_campaigns/activity_feed``), never as a reason text on the membership. A reply
    finishes the membership only when the sequence has ``mark_finished_if_reply`` (the default, as
    in Apollo), and an out-of-office reply pauses it when it has ``mark_paused_if_ooo``.

    The team starts with three users (the first owns the key), four mailboxes, five sequences (three
    active, one inactive, one archived), three lists and five custom contact fields (one a picklist);
    see ``users``, ``email_accounts``, ``sequences``, ``labels``, ``fields`` and the ``add_*`` helpers.

    Accounts and deals (``opportunities``) are served as Apollo's Accounts and Deals references
    document them. The team starts with eleven account stages and six deal stages and no accounts or
    deals: ``seed_accounts(n)``, ``add_account(...)``, ``seed_deals(n)`` and ``add_deal(...)`` add some;
    ``account_stage_id(name)`` and ``deal_stage_id(name)`` resolve stages. Seeded contacts belong to
    their company's account (an existing account with the company's domain or name, else a new one).

    ``contacts`` is a snapshot: each read renders a fresh ``{id: contact}`` copy of the live contacts.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: dict[str, int | None] | None = None,
        time_scale: float = 1.0,
        latency: float = 0.0,
        oauth_tokens: Iterable[str] = (),
        pagination_as_strings: bool = False,
        reply_after: float | None = None,
        reply_fraction: float = 0.5,
        reply_stage: str = "Replied",
        legacy_day_headers: bool = False,
        seed: int = 0,
        verbose: bool = False,
        master_key: bool = True,
        sequence_step_seconds: float | None = 86_400.0,
        sequence_reply_fraction: float = 0.3,
        sequence_bounce_fraction: float = 0.1,
        sequence_reply_classes: Iterable[str] | None = None,
        sequence_reply_step: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.latency = latency
        self.oauth_tokens = set(oauth_tokens)
        self.pagination_as_strings = pagination_as_strings
        self.reply_after = reply_after
        self.reply_fraction = reply_fraction
        self.reply_stage = reply_stage
        self.seed = seed
        self.verbose = verbose
        self.rate_limiter = RateLimiter(
            rate_limits, time_scale=time_scale, legacy_day_headers=legacy_day_headers
        )
        self.requests: list[RecordedRequest] = []

        # One lock guards all state below; nothing sleeps while holding it.
        self._lock = threading.RLock()
        self._requests_lock = threading.Lock()
        self._contact_ids = ObjectIdFactory(seed, "contact")
        self._label_ids = ObjectIdFactory(seed, "label")
        self._person_ids = ObjectIdFactory(seed, "person")
        self._job_ids = ObjectIdFactory(seed, "job")
        self.team_id = ObjectIdFactory(seed, "team").next()
        self._anchor_ms = int(time.time() * 1000)
        self._last_stamp_ms = self._anchor_ms
        self.stages: list[dict[str, Any]] = stage_objects(self.team_id, ObjectIdFactory(seed, "stage"))
        self._stages_by_id = {stage["id"]: stage for stage in self.stages}
        self.users: list[dict[str, Any]] = user_objects(
            self.team_id, ObjectIdFactory(seed, "user"), self._anchor_ms - SEED_HISTORY_MS
        )
        self._user_ids = {user["id"] for user in self.users}
        self.stage_id(reply_stage)  # fail at construction, not in a timer thread, on a misspelt stage
        self._organization_ids = ObjectIdFactory(seed, "organization")
        # The companies seeded contacts work at; each gets its account when a contact first needs it.
        self._seed_orgs = [(name, domain, self._organization_ids.next()) for name, domain in ORGANIZATIONS]
        self._live: dict[str, ContactRecord] = {}
        self._deleted: dict[str, ContactRecord] = {}
        self._labels: dict[str, dict[str, Any]] = {}
        # List names are unique per modality: contact lists and account lists have their own index.
        self._label_by_name: dict[str, str] = {}
        self._account_label_by_name: dict[str, str] = {}
        self._by_email: dict[str, list[str]] = {}
        self._by_name_org: dict[tuple[str, str, str], list[str]] = {}
        self._seeded = 0
        self._seed_batches = 0
        # Bumped by every mutation; search results are cached per (filters, sort) for one version.
        self._version = 0
        self._search_cache: dict[tuple[Any, ...], list[ContactRecord]] = {}
        self._search_cache_version = -1
        self._init_accounts()
        self._init_deals()
        self._init_team(
            master_key=master_key,
            sequence_step_seconds=sequence_step_seconds,
            sequence_reply_fraction=sequence_reply_fraction,
            sequence_bounce_fraction=sequence_bounce_fraction,
            sequence_reply_classes=sequence_reply_classes,
            sequence_reply_step=sequence_reply_step,
        )
        self._faults: list[Fault] = []
        self._timers: list[threading.Timer] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ApolloEmulator:
        """Bind and serve from a daemon thread; returns self."""
        from airflow_provider_apollo.testing._server import EmulatorHTTPServer

        if self._server is not None:
            return self
        self._server = EmulatorHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() quick for function-scoped fixtures.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="apollo-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and cancel pending replies."""
        server, self._server = self._server, None
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        if server is None:
            return
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ApolloEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the current API, e.g. ``http://127.0.0.1:PORT/api/v1``."""
        return f"http://{self.host}:{self.port}/api/v1"

    @property
    def base_url_legacy(self) -> str:
        """Base URL of the legacy API, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    # ----------------------------------------------------------------- state helpers for tests

    @property
    def contacts(self) -> dict[str, dict[str, Any]]:
        """A snapshot ``{id: contact}`` of the live (not deleted) contacts, rendered as the API would."""
        with self._lock, _gc_paused():
            return {contact_id: record.render() for contact_id, record in self._live.items()}

    def get_contact(self, contact_id: str) -> dict[str, Any] | None:
        """One live contact as the API renders it, or None (cheaper than ``contacts`` on big states)."""
        with self._lock:
            record = self._live.get(contact_id)
            return None if record is None else record.render()

    @property
    def contact_count(self) -> int:
        """How many live contacts there are."""
        return len(self._live)

    @property
    def connections_opened(self) -> int:
        """How many TCP connections clients have opened (a reused keep-alive session opens one)."""
        return 0 if self._server is None else int(self._server.connections_opened)

    @property
    def deleted_contact_ids(self) -> set[str]:
        with self._lock:
            return set(self._deleted)

    @property
    def labels(self) -> list[dict[str, Any]]:
        """The team's contact lists: the default ones and those created since (through ``label_names``,
        ``POST /labels``, adding contacts to a list by name or :meth:`add_label`)."""
        with self._lock:
            return [dict(label) for label in self._labels.values()]

    def stage_id(self, name_or_id: str) -> str:
        """Resolve a stage display name (case-insensitive) or id to the id; ValueError names the known stages."""
        if name_or_id in self._stages_by_id:
            return name_or_id
        wanted = name_or_id.strip().lower()
        for stage in self.stages:
            if stage["display_name"].lower() == wanted:
                return str(stage["id"])
        known = ", ".join(stage["display_name"] for stage in self.stages)
        raise ValueError(f"unknown contact stage {name_or_id!r}; known stages: {known}")

    def seed_contacts(self, n: int, *, stage: str | None = None) -> list[str]:
        """Add ``n`` deterministic contacts spread over the past year (and over the stages unless ``stage``).

        Each works at one of twenty companies and belongs to its account: an existing account with the
        company's domain, organization id or name, else one created the first time it is needed.
        """
        fixed_stage = self.stage_id(stage) if stage is not None else None
        stage_ids = [stage_obj["id"] for stage_obj in self.stages]
        cold_id = self.stage_id(DEFAULT_STAGE)
        owner_ids = [user["id"] for user in self.users]
        with self._lock, _gc_paused():
            rng = random.Random(f"{self.seed}:{self._seed_batches}")
            self._seed_batches += 1
            picks = (
                [fixed_stage] * n
                if fixed_stage is not None
                else rng.choices(stage_ids, cum_weights=list(itertools.accumulate(SEED_STAGE_WEIGHTS)), k=n)
            )
            start_ms = self._anchor_ms - SEED_HISTORY_MS
            step = SEED_HISTORY_MS / max(n, 1)
            jitter = max(int(step), 1)
            used_updated: set[int] = set()
            new_ids: list[str] = []
            # Each company's account: an existing one with its domain (or name), else a new one.
            org_accounts: dict[str, str] = {}
            for i in range(n):
                # Stratified over the year so created_at values are distinct and rise with the id.
                created_ms = start_ms + int(i * step) + rng.randrange(jitter)
                updated_ms = created_ms + int(rng.random() * (self._anchor_ms - created_ms))
                while updated_ms in used_updated:
                    updated_ms += 1
                used_updated.add(updated_ms)
                record = ContactRecord(self._contact_ids.next(), created_ms, picks[i], rng.choice(owner_ids))
                self._seeded += 1
                first = rng.choice(FIRST_NAMES)
                last = rng.choice(LAST_NAMES)
                org_name, domain, org_id = rng.choice(self._seed_orgs)
                account_id = org_accounts.get(org_id)
                if account_id is None:
                    account_id = org_accounts[org_id] = self._account_for_organization(
                        org_name, domain, org_id
                    )
                record.first_name = first
                record.last_name = last
                record.title = rng.choice(TITLES)
                record.organization_name = org_name
                record.organization_id = org_id
                record.account_id = account_id
                # The running number keeps every seeded email unique.
                record.email = f"{first}.{last}.{self._seeded}@{domain}".lower()
                record.email_status = "verified"
                record.creator_id = owner_ids[0]
                record.updated_ms = updated_ms
                if rng.random() < 0.6:
                    record.person_id = self._person_ids.next()
                    record.linkedin_url = (
                        f"http://www.linkedin.com/in/{first}-{last}-{self._seeded:x}".lower()
                    )
                if rng.random() < 0.8:
                    city, state, country, time_zone = rng.choice(LOCATIONS)
                    record.present_raw_address = f"{city}, {state}, {country}"
                    record.city, record.state, record.country, record.time_zone = (
                        city,
                        state,
                        country,
                        time_zone,
                    )
                if rng.random() < 0.4:
                    record.phones = (
                        ("work_direct", f"({rng.randrange(200, 1000)}) 555-{rng.randrange(10000):04d}"),
                    )
                if record.contact_stage_id != cold_id:
                    record.last_activity_ms = created_ms + int(rng.random() * (updated_ms - created_ms))
                self._live[record.id] = record
                self._index(record)
                new_ids.append(record.id)
            self._version += 1
        if n >= SEED_COLLECT_THRESHOLD:
            # Pay the one full collection the new objects cause now, not in the middle of a later request.
            gc.collect()
        return new_ids

    def set_contact_stage(self, contact_ids: str | Iterable[str], stage: str) -> None:
        """Move live contacts to ``stage`` (name or id) directly, as a reply seen in Apollo's UI would."""
        stage_id = self.stage_id(stage)
        ids = [contact_ids] if isinstance(contact_ids, str) else list(contact_ids)
        with self._lock:
            records = [self._require_live(contact_id) for contact_id in ids]
            for record in records:
                record.contact_stage_id = stage_id
                record.last_activity_ms = record.updated_ms = self._stamp()
            self._version += 1

    def delete_contacts(self, contact_ids: str | Iterable[str]) -> None:
        """Soft-delete live contacts: the API then answers 422 for them."""
        ids = [contact_ids] if isinstance(contact_ids, str) else list(contact_ids)
        with self._lock:
            records = [self._require_live(contact_id) for contact_id in ids]
            for record in records:
                self._unindex(record)
                del self._live[record.id]
                self._deleted[record.id] = record
            self._version += 1

    def _require_live(self, contact_id: str) -> ContactRecord:
        record = self._live.get(contact_id)
        if record is None:
            raise KeyError(f"no live contact {contact_id!r}")
        return record

    # ----------------------------------------------------------------- faults, rate limits, statistics

    def add_fault(
        self,
        kind: str,
        *,
        count: int | None = 1,
        every: int | None = None,
        path: str | None = None,
        method: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        start: int | None = None,
    ) -> Fault:
        """Inject a failure into matching requests (after authentication and rate limiting).

        :param kind: ``status`` (answer ``status`` with Apollo's body for it, not applied),
            ``status_after_apply`` (apply the request, then answer ``status`` as if it failed: a 5xx
            that may have been applied), ``drop`` (close the connection before applying),
            ``drop_after_apply`` (apply, then close without answering),
            ``delay`` (sleep ``delay`` seconds first), ``truncate`` (cut the JSON body in half, with a
            matching Content-Length) or ``non_json`` (200 with an HTML page, not applied).
        :param count: how many requests it hits; None for no limit.
        :param every: hit only every Nth matching request.
        :param start: the first matching request it hits (1 = the first; default ``every``, or 1).
        :param path: substring the request path must contain.
        :param method: HTTP method the request must use.
        :param status: the status for ``status`` and ``status_after_apply`` faults (default 500).
        :param retry_after: the ``retry-after`` of a 429 status fault (default 1).
        :param delay: the seconds of a ``delay`` fault.

        Faults are consulted in the order they were added; the first that hits a request wins.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        if every is not None and every < 1:
            raise ValueError("every must be at least 1")
        if start is not None and start < 1:
            raise ValueError("start must be at least 1")
        if kind == "delay" and delay is None:
            raise ValueError("a delay fault needs delay=SECONDS")
        fault = Fault(
            kind,
            count=count,
            every=every,
            path=path,
            method=method,
            status=(status or 500) if kind in STATUS_FAULT_KINDS else status,
            retry_after=retry_after,
            delay=delay,
            start=start,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The fault that hits this request, if any (used by the server)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path) and fault.fire():
                    return fault
        return None

    def reset_rate_limits(self) -> None:
        self.rate_limiter.reset()

    def record(self, request: RecordedRequest) -> None:
        with self._requests_lock:
            self.requests.append(request)

    def request_count(self, path_contains: str | None = None, method: str | None = None) -> int:
        """How many requests matched ``path_contains`` (substring) and ``method``."""
        with self._requests_lock:
            recorded = list(self.requests)
        return sum(
            1
            for request in recorded
            if (path_contains is None or path_contains in request.path)
            and (method is None or request.method == method.upper())
        )

    def status_counts(self) -> dict[int, int]:
        """``{status: number of responses}``; 0 counts dropped connections."""
        with self._requests_lock:
            return dict(Counter(request.status for request in self.requests))

    def authenticate(self, headers: dict[str, str], legacy_key: str | None) -> bool:
        """Whether a request's credentials are valid (``legacy_key`` is the ``api_key`` parameter on /v1)."""
        if "x-api-key" in headers:
            return headers["x-api-key"] == self.api_key
        authorization = headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            # An API key is not an OAuth token: Apollo answers 401 when one is sent as Bearer.
            return scheme.lower() == "bearer" and token.strip() in self.oauth_tokens
        return legacy_key is not None and legacy_key == self.api_key

    # ----------------------------------------------------------------- internal state operations

    def _stamp(self) -> int:
        # Strictly increasing, so every mutation visibly moves updated_at even within one millisecond.
        self._last_stamp_ms = max(int(time.time() * 1000), self._last_stamp_ms + 1)
        return self._last_stamp_ms

    @staticmethod
    def _name_org_key(record: ContactRecord) -> tuple[str, str, str] | None:
        if record.first_name and record.last_name and record.organization_name:
            return (record.first_name.lower(), record.last_name.lower(), record.organization_name.lower())
        return None

    def _index(self, record: ContactRecord) -> None:
        if record.email:
            self._by_email.setdefault(record.email.lower(), []).append(record.id)
        key = self._name_org_key(record)
        if key is not None:
            self._by_name_org.setdefault(key, []).append(record.id)

    def _unindex(self, record: ContactRecord) -> None:
        if record.email:
            ids = self._by_email.get(record.email.lower(), [])
            if record.id in ids:
                ids.remove(record.id)
        key = self._name_org_key(record)
        if key is not None:
            ids = self._by_name_org.get(key, [])
            if record.id in ids:
                ids.remove(record.id)

    def _find_duplicate(self, fields: dict[str, Any]) -> tuple[ContactRecord | None, str | None]:
        contact_id = fields.get("id")
        if isinstance(contact_id, str) and contact_id in self._live:
            return self._live[contact_id], "id"
        email = fields.get("email")
        if is_valid_email(email):
            ids = self._by_email.get(str(email).strip().lower())
            if ids:
                return self._live[min(ids)], "email"
        first, last, org = (
            _text(fields.get(name)) for name in ("first_name", "last_name", "organization_name")
        )
        if first and last and org:
            ids = self._by_name_org.get((first.lower(), last.lower(), org.lower()))
            if ids:
                return self._live[min(ids)], "name_and_organization"
        return None, None

    def _validate_fields(self, fields: Any) -> None:
        if not isinstance(fields, dict):
            raise ApiError(422, {"error": "Parameters misconfigured. Each contact must be an object"})
        stage = fields.get("contact_stage_id")
        if stage not in (None, "") and stage not in self._stages_by_id:
            raise ApiError(422, {"error": _invalid_id(stage)})
        owner = fields.get("owner_id")
        if owner not in (None, "") and owner not in self._user_ids:
            raise ApiError(422, {"error": _invalid_id(owner)})
        account = fields.get("account_id")
        # A contact's account_id must name an emulated account (contacts.yml: 422 "Check the account ID").
        if account not in (None, "") and (not is_object_id(account) or account not in self._accounts):
            raise ApiError(422, {"error": _invalid_id(account)})
        if "typed_custom_fields" in fields:
            self._normalize_custom_fields(fields["typed_custom_fields"])

    def _labels_for(self, names: Any, modality: str = "contacts") -> tuple[str, ...]:
        if isinstance(names, str):
            names = [names]
        index = self._account_label_by_name if modality == "accounts" else self._label_by_name
        label_ids: list[str] = []
        for name in names or []:
            text = _text(name)
            if text is None:
                continue
            label_id = index.get(text.lower())
            if label_id is None:
                # Apollo creates a list on the fly for a name it has not seen (per modality).
                label_id = self._label_ids.next()
                self._labels[label_id] = label_object(
                    label_id, text, self.users[0]["id"], self._stamp(), 0, modality=modality
                )
                index[text.lower()] = label_id
            if label_id not in label_ids:
                label_ids.append(label_id)
        return tuple(label_ids)

    def _label_objects(self, record: ContactRecord) -> list[dict[str, Any]]:
        return [dict(self._labels[label_id]) for label_id in record.label_ids if label_id in self._labels]

    def _apply_fields(self, record: ContactRecord, fields: dict[str, Any], *, set_stage: bool = True) -> None:
        self._unindex(record)
        for name in ("first_name", "last_name", "organization_name", "title", "linkedin_url"):
            if name in fields:
                setattr(record, name, _text(fields[name]))
        if "account_id" in fields:
            record.account_id = _text(fields["account_id"])
        if "email" in fields:
            email = fields["email"]
            if email in (None, ""):
                record.email, record.email_status = None, None
            elif is_valid_email(email):
                record.email, record.email_status = str(email).strip(), "verified"
            # Apollo ignores an invalid email instead of rejecting the request.
        if "label_names" in fields:
            record.label_ids = self._labels_for(fields["label_names"])
        if set_stage and fields.get("contact_stage_id"):
            record.contact_stage_id = fields["contact_stage_id"]
        if fields.get("owner_id"):
            record.owner_id = fields["owner_id"]
        if "present_raw_address" in fields:
            record.present_raw_address = _text(fields["present_raw_address"])
            record.city, record.state, record.country = parse_address(record.present_raw_address)
            record.time_zone = None
        phones = list(record.phones)
        for field_name, phone_type in PHONE_FIELD_TYPES.items():
            raw = _text(fields.get(field_name))
            if raw is None:
                continue
            # A number of a type the contact already has overwrites it; otherwise it is added.
            for position, (existing_type, _) in enumerate(phones):
                if existing_type == phone_type:
                    phones[position] = (phone_type, raw)
                    break
            else:
                phones.append((phone_type, raw))
        record.phones = tuple(phones)
        custom = fields.get("typed_custom_fields")
        if isinstance(custom, dict):
            # Keyed by the bare field id; an empty value clears the field.
            merged = {**(record.typed_custom_fields or {}), **self._normalize_custom_fields(custom)}
            record.typed_custom_fields = {key: value for key, value in merged.items() if value is not None}
        record.touch_text()
        self._index(record)

    def _create_record(self, fields: dict[str, Any]) -> ContactRecord:
        creator = self.users[0]["id"]
        record = ContactRecord(self._contact_ids.next(), self._stamp(), self.stage_id(DEFAULT_STAGE), creator)
        self._apply_fields(record, fields)
        self._live[record.id] = record
        return record

    def _update_record(
        self, record: ContactRecord, fields: dict[str, Any], *, set_stage: bool = True
    ) -> None:
        self._apply_fields(record, fields, set_stage=set_stage)
        record.updated_ms = self._stamp()

    def _resolve_for_update(self, contact_ids: Iterable[str]) -> list[ContactRecord]:
        ids = _dedupe_ids(contact_ids)
        deleted = [contact_id for contact_id in ids if contact_id in self._deleted]
        if deleted:
            raise ApiError(422, {"error": MSG_CONTACT_DELETED, "deleted_contact_ids": deleted})
        missing = [contact_id for contact_id in ids if contact_id not in self._live]
        if missing:
            raise ApiError(422, {"error": MSG_CONTACT_MISSING, "contact_ids": missing})
        return [self._live[contact_id] for contact_id in ids]

    def _search_records(
        self,
        keywords: str,
        stage_ids: list[str],
        label_ids: list[str],
        sort_attr: str | None,
        ascending: bool,
    ) -> list[ContactRecord]:
        if self._search_cache_version != self._version:
            self._search_cache.clear()
            self._search_cache_version = self._version
        key = (keywords, tuple(sorted(stage_ids)), tuple(sorted(label_ids)), sort_attr, ascending)
        cached = self._search_cache.get(key)
        if cached is not None:
            return cached
        # The live dict keeps insertion order, which is id order: the default sort needs no work.
        records: list[ContactRecord] = list(self._live.values())
        if stage_ids:
            wanted_stages = set(stage_ids)
            records = [record for record in records if record.contact_stage_id in wanted_stages]
        if label_ids:
            wanted_labels = set(label_ids)
            records = [record for record in records if not wanted_labels.isdisjoint(record.label_ids)]
        # Punctuation separates words: "Tim Zheng, CEO, Apollo" looks for tim, zheng, ceo and apollo.
        for token in keyword_tokens(keywords):
            records = [record for record in records if token in record.haystack()]
        if sort_attr is not None:
            present = [record for record in records if getattr(record, sort_attr) is not None]
            absent = [record for record in records if getattr(record, sort_attr) is None]
            # Stable sorts, so ties keep id order; contacts without the value come last either way.
            present.sort(key=lambda record: getattr(record, sort_attr), reverse=not ascending)
            records = present + absent
        if len(self._search_cache) >= 16:
            self._search_cache.clear()
        self._search_cache[key] = records
        return records

    def _schedule_replies(self, moved_ids: list[str]) -> None:
        if self.reply_after is None or not moved_ids or self.reply_fraction <= 0:
            return
        scores = {contact_id: stable_fraction(self.seed, contact_id) for contact_id in moved_ids}
        replying = [contact_id for contact_id in moved_ids if scores[contact_id] < self.reply_fraction]
        if not replying:
            replying = [min(moved_ids, key=scores.__getitem__)]
        timer = threading.Timer(self.reply_after, self._deliver_replies, args=(replying,))
        timer.daemon = True
        self._timers = [pending for pending in self._timers if pending.is_alive()]
        self._timers.append(timer)
        timer.start()

    def _deliver_replies(self, contact_ids: list[str]) -> None:
        approaching = self.stage_id("Approaching")
        reply_stage = self.stage_id(self.reply_stage)
        with self._lock:
            for contact_id in contact_ids:
                record = self._live.get(contact_id)
                # Someone may have moved or deleted the contact meanwhile; a reply only lands on Approaching.
                if record is not None and record.contact_stage_id == approaching:
                    record.contact_stage_id = reply_stage
                    record.last_activity_ms = record.updated_ms = self._stamp()
            self._version += 1

    # ----------------------------------------------------------------- endpoints (called by the server)

    def api_create_contact(self, request: EmulatedRequest) -> tuple[int, Any]:
        fields = request.body
        with self._lock:
            self._validate_fields(fields)
            if _truthy(fields.get("run_dedupe")):
                match, matched_on = self._find_duplicate(fields)
                if match is not None:
                    # The stage is only assigned to a contact that does not yet exist.
                    self._update_record(match, fields, set_stage=False)
                    self._version += 1
                    return 200, {
                        "contact": match.render(),
                        "labels": self._label_objects(match),
                        "dedupe_result": {"is_new": False, "contact_id": match.id, "matched_on": matched_on},
                    }
            record = self._create_record(fields)
            self._version += 1
            payload: dict[str, Any] = {"contact": record.render(), "labels": self._label_objects(record)}
            if _truthy(fields.get("run_dedupe")):
                payload["dedupe_result"] = {"is_new": True, "contact_id": record.id, "matched_on": None}
            return 200, payload

    def api_bulk_create(self, request: EmulatedRequest) -> tuple[int, Any]:
        entries = request.body.get("contacts")
        if not isinstance(entries, list):
            raise ApiError(422, {"error": "Parameters misconfigured. contacts must be an array"})
        if len(entries) > BULK_CREATE_LIMIT:
            raise ApiError(422, {"error": MSG_BULK_CREATE_LIMIT})
        run_dedupe = _truthy(request.body.get("run_dedupe"))
        owner_id = request.body.get("owner_id")
        append_labels = request.body.get("append_label_names") or []
        with self._lock:
            merged = []
            for entry in entries:
                self._validate_fields(entry)
                fields = dict(entry)
                if owner_id and not fields.get("owner_id"):
                    fields["owner_id"] = owner_id
                self._validate_fields(fields)
                merged.append(fields)
            created: list[dict[str, Any]] = []
            existing: list[dict[str, Any]] = []
            for fields in merged:
                if run_dedupe:
                    match, _ = self._find_duplicate(fields)
                    if match is not None:
                        # Bulk create reports a matched contact without changing it (unlike single create).
                        existing.append(match.render())
                        continue
                record = self._create_record(fields)
                if append_labels:
                    record.label_ids = tuple(
                        dict.fromkeys(record.label_ids + self._labels_for(append_labels))
                    )
                created.append(record.render())
            self._version += 1
            return 200, {"created_contacts": created, "existing_contacts": existing}

    def api_update_contact(self, request: EmulatedRequest) -> tuple[int, Any]:
        # Legacy PUT /v1/contacts carries the id in the body instead of the path.
        contact_id = request.path_params.get("contact_id") or _text(request.body.get("id")) or ""
        fields = {key: value for key, value in request.body.items() if key not in ("id", "api_key")}
        with self._lock:
            if contact_id in self._deleted:
                raise ApiError(422, {"error": MSG_CONTACT_DELETED, "deleted_contact_ids": [contact_id]})
            record = self._live.get(contact_id)
            if record is None:
                raise ApiError(422, {"error": MSG_CONTACT_MISSING})
            self._validate_fields(fields)
            self._update_record(record, fields)
            self._version += 1
            return 200, {"contact": record.render(), "labels": self._label_objects(record)}

    def api_view_contact(self, request: EmulatedRequest) -> tuple[int, Any]:
        with self._lock:
            record = self._live.get(request.path_params["contact_id"])
            if record is None:
                raise ApiError(422, {"error": MSG_CONTACT_MISSING})
            return 200, {"contact": record.render()}

    def api_search(self, request: EmulatedRequest) -> tuple[int, Any]:
        keywords = (_text(request.value("q_keywords")) or "").lower()
        sort_field = _text(request.value("sort_by_field"))
        sort_attr = SORT_FIELDS.get(sort_field) if sort_field else None
        ascending = _truthy(request.value("sort_ascending")) if sort_attr else False
        page = max(_int_or(request.value("page"), 1), 1)
        per_page = min(
            max(_int_or(request.value("per_page"), SEARCH_DEFAULT_PER_PAGE), 1), SEARCH_MAX_PER_PAGE
        )
        with self._lock:
            records = self._search_records(
                keywords,
                request.values("contact_stage_ids"),
                request.values("contact_label_ids"),
                sort_attr,
                ascending,
            )
            total = len(records)
            # Apollo counts every match but serves only the first SEARCH_RESULT_CAP of them.
            reachable = min(total, SEARCH_RESULT_CAP)
            total_pages = math.ceil(reachable / per_page)
            start = (page - 1) * per_page
            page_records = records[start : min(start + per_page, reachable)] if start < reachable else []
            contacts = [record.render() for record in page_records]
        breadcrumbs = []
        if keywords:
            original = _text(request.value("q_keywords"))
            breadcrumbs.append(
                {
                    "label": "Contains Keywords",
                    "signal_field_name": "q_keywords",
                    "value": original,
                    "display_name": original,
                }
            )
        return 200, {
            "contacts": contacts,
            "breadcrumbs": breadcrumbs,
            "partial_results_only": False,
            "disable_eu_prospecting": False,
            "partial_results_limit": SEARCH_PARTIAL_RESULTS_LIMIT,
            "pagination": {
                "page": str(page) if self.pagination_as_strings else page,
                "per_page": str(per_page) if self.pagination_as_strings else per_page,
                "total_entries": total,
                "total_pages": total_pages,
            },
            "num_fetch_result": None,
        }

    def api_list_stages(self, request: EmulatedRequest) -> tuple[int, Any]:
        return 200, {"contact_stages": [dict(stage) for stage in self.stages]}

    def api_update_stages(self, request: EmulatedRequest) -> tuple[int, Any]:
        stage_id = request.value("contact_stage_id")
        if stage_id not in self._stages_by_id:
            raise ApiError(422, {"error": _invalid_id(stage_id)})
        approaching = self.stage_id("Approaching")
        with self._lock:
            records = self._resolve_for_update(request.values("contact_ids"))
            moved = [record.id for record in records if record.contact_stage_id != stage_id]
            for record in records:
                record.contact_stage_id = stage_id
                record.updated_ms = self._stamp()
            self._version += 1
            if stage_id == approaching:
                self._schedule_replies(moved)
            return 200, {"contacts": [record.render() for record in records]}

    def api_update_owners(self, request: EmulatedRequest) -> tuple[int, Any]:
        owner_id = request.value("owner_id")
        if owner_id not in self._user_ids:
            raise ApiError(422, {"error": _invalid_id(owner_id)})
        with self._lock:
            records = self._resolve_for_update(request.values("contact_ids"))
            for record in records:
                record.owner_id = owner_id
                record.updated_ms = self._stamp()
            self._version += 1
            return 200, {"contacts": [record.render() for record in records]}

    def api_bulk_update(self, request: EmulatedRequest) -> tuple[int, Any]:
        body = request.body
        attributes = body.get("contact_attributes")
        updates: list[tuple[str, dict[str, Any]]]
        if isinstance(attributes, list):
            # One object per contact, each naming its id.
            updates = []
            for item in attributes:
                if not isinstance(item, dict) or not item.get("id"):
                    raise ApiError(
                        422, {"error": "Parameters misconfigured. Each contact_attributes item needs an id"}
                    )
                updates.append((str(item["id"]), {k: v for k, v in item.items() if k != "id"}))
        else:
            # The same fields for every listed contact, either flat in the body or under contact_attributes.
            shared = (
                attributes
                if isinstance(attributes, dict)
                else {
                    key: value
                    for key, value in body.items()
                    if key
                    not in ("contact_ids", "contact_attributes", "async", "api_key", "visible_entity_ids")
                }
            )
            contact_ids = request.values("contact_ids")
            if not contact_ids and attributes is None:
                raise ApiError(422, {"error": MSG_BULK_UPDATE_MISSING})
            updates = [(contact_id, shared) for contact_id in contact_ids]
        if len(updates) > BULK_UPDATE_LIMIT:
            raise ApiError(422, {"error": MSG_BULK_UPDATE_LIMIT})
        with self._lock:
            for _, fields in updates:
                self._validate_fields(fields)
            records = self._resolve_for_update(contact_id for contact_id, _ in updates)
            by_id = {record.id: record for record in records}
            for contact_id, fields in updates:
                self._update_record(by_id[contact_id], fields)
            self._version += 1
            if len(updates) > BULK_UPDATE_SYNC_LIMIT or _truthy(body.get("async")):
                # Applied at once; the job object is what Apollo answers for background processing.
                stamp = iso_ms(self._stamp())
                job = {
                    "id": self._job_ids.next(),
                    "job_type": "contact_bulk_update",
                    "status": "pending",
                    "entity_ids": _dedupe_ids(contact_id for contact_id, _ in updates),
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                return 200, {"entity_progress_job": job}
            return 200, {
                "contacts": [by_id[contact_id].render() for contact_id in _dedupe_ids(i for i, _ in updates)]
            }

    def api_health(self, request: EmulatedRequest) -> tuple[int, Any]:
        return 200, {"healthy": True, "is_logged_in": True}
