"""The emulator's deals (Apollo's ``opportunities``): deal stages, records and the endpoints that serve them.

Built from Apollo's published OpenAPI file for the Deals tag (``openapi/deals.yml``): paths, methods,
parameter names, answer shapes, status codes and error texts are the reference's. Where the reference
is silent the emulator makes a choice; each one is marked "emulator's choice" below and listed in
docs/testing.md ("Accounts and deals").

A mixin of :class:`~airflow_provider_apollo.testing.emulator.ApolloEmulator`; every method runs on the
emulator (``self``) and takes its lock for any state it reads or changes.
"""

from __future__ import annotations

import datetime
import itertools
import math
import random
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_apollo.testing._api import ApiError, EmulatedRequest, _int_or, _invalid_id, _text
from airflow_provider_apollo.testing._data import ObjectIdFactory, iso_ms, iso_offset

if TYPE_CHECKING:
    import threading

    from airflow_provider_apollo.testing._accounts import AccountRecord

# The deal stages of a new team: the first pipeline of the reference's List Deal Stages example
# (name, forecast_category_cd, is_won, is_closed, probability, type). Emulator's choice: one pipeline
# (the example's real team has several, partly overlapping ones).
DEAL_STAGE_SPECS: tuple[tuple[str, str, bool, bool, int, str], ...] = (
    ("Qualify", "Pipeline", False, False, 10, "Open"),
    ("Meet & Present", "Pipeline", False, False, 25, "Open"),
    ("Propose", "Pipeline", False, False, 50, "Open"),
    ("Negotiate", "Pipeline", False, False, 75, "Open"),
    ("Closed Won", "Closed", True, True, 100, "Closed/Won"),
    ("Closed Lost", "Omitted", False, True, 0, "Closed/Lost"),
)
# Emulator's choice (the reference does not say which stage a deal created without one gets): the
# first stage, as in the reference's Create Deal example (Qualify).
DEFAULT_DEAL_STAGE = "Qualify"
SEED_DEAL_STAGE_WEIGHTS: tuple[int, ...] = (30, 20, 15, 10, 15, 10)
SEED_DEAL_PRODUCTS = ("Platform", "Renewal", "Expansion", "Pilot", "Enterprise plan", "Data add-on")

# The sort keys the reference documents for List All Deals, each "first" (descending).
DEAL_SORT_FIELDS = ("amount", "is_closed", "is_won")
# Emulator's choices: the reference gives no default page size (25, as the other searches here) and
# no maximum (100, as the other searches).
DEALS_DEFAULT_PER_PAGE = 25
DEALS_MAX_PER_PAGE = 100
DEALS_PARTIAL_RESULTS_LIMIT = 10_000

# Apollo's error texts (deals.yml).
MSG_NAME_REQUIRED = "Name is required"
MSG_DEAL_MISSING = "Opportunity does not exist."
NOT_FOUND = {"status": 404, "error": "Not Found"}
CURRENCY = {"name": "US Dollar", "iso_code": "USD", "symbol": "$"}

CREATE_FIELDS = (
    "name",
    "owner_id",
    "account_id",
    "amount",
    "opportunity_stage_id",
    "closed_date",
    "typed_custom_fields",
)
# Update Deal documents no account_id: it is ignored there (emulator's choice), as any other key.
UPDATE_FIELDS = ("owner_id", "name", "amount", "opportunity_stage_id", "closed_date", "typed_custom_fields")

_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")


def deal_stage_objects(team_id: str, ids: ObjectIdFactory, pipeline_id: str) -> list[dict[str, Any]]:
    """The team's deal stages as ``GET /opportunity_stages`` lists them (display_order from 0)."""
    return [
        {
            "id": ids.next(),
            "team_id": team_id,
            "name": name,
            "display_order": order,
            "forecast_category_cd": forecast,
            "is_won": is_won,
            "is_closed": is_closed,
            "probability": probability,
            "description": None,
            "salesforce_id": None,
            "is_meeting_set": None,
            "opportunity_pipeline_id": pipeline_id,
            "is_editable": None,
            "type": stage_type,
        }
        for order, (name, forecast, is_won, is_closed, probability, stage_type) in enumerate(DEAL_STAGE_SPECS)
    ]


def parse_amount(value: Any) -> int | float | None:
    """A deal amount from a request: a string in the reference (a number is accepted too).

    "Commas are not accepted and result in the deal amount being left blank": a comma leaves it None,
    and so (emulator's choice) does anything else that is not a plain number, such as a currency symbol.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if not text or "," in text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def parse_closed_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` from a request (a date-time is cut to its date); ApiError for anything else."""
    text = _text(value)
    if text is None:
        return None
    found = _DATE_RE.match(text)
    if found:
        try:
            return datetime.date(*(int(part) for part in found.groups())).isoformat()
        except ValueError:
            pass
    # Emulator's choice: the reference documents the format (YYYY-MM-DD) but no error for another one.
    raise ApiError(422, {"error": f"Parameters misconfigured. {text} is not a valid date"})


class DealRecord:
    """The emulator's compact storage of one deal."""

    __slots__ = (
        "id",
        "name",
        "owner_id",
        "account_id",
        "amount",
        "opportunity_stage_id",
        "closed_date",
        "typed_custom_fields",
        "source",
        "created_by_id",
        "created_ms",
        "updated_ms",
        "stage_updated_ms",
        "last_activity_ms",
    )

    def __init__(
        self, deal_id: str, created_ms: int, stage_id: str, owner_id: str, created_by_id: str
    ) -> None:
        self.id = deal_id
        self.name = ""
        self.owner_id = owner_id
        self.account_id: str | None = None
        self.amount: int | float | None = None
        self.opportunity_stage_id = stage_id
        self.closed_date: str | None = None
        self.typed_custom_fields: dict[str, Any] | None = None
        self.source = "api"
        self.created_by_id = created_by_id
        self.created_ms = created_ms
        self.updated_ms = created_ms
        self.stage_updated_ms = created_ms
        self.last_activity_ms = created_ms

    def render(self, team_id: str, stage: dict[str, Any]) -> dict[str, Any]:
        """The deal as create and update answer it (the Create Deal example's keys)."""
        probability = stage["probability"]
        forecasted = None if self.amount is None else self.amount * probability / 100
        return {
            "id": self.id,
            "team_id": team_id,
            "owner_id": self.owner_id,
            "salesforce_owner_id": None,
            "amount": self.amount,
            "closed_date": None if self.closed_date is None else f"{self.closed_date}T00:00:00.000+00:00",
            "account_id": self.account_id,
            "description": None,
            "is_closed": stage["is_closed"],
            "is_won": stage["is_won"],
            "name": self.name,
            # null in every example of the reference, even with a stage set.
            "stage_name": None,
            "opportunity_stage_id": self.opportunity_stage_id,
            "source": self.source,
            "salesforce_id": None,
            "created_at": iso_ms(self.created_ms),
            "actual_close_date": None,
            "next_step": None,
            "next_step_date": None,
            "closed_lost_reason": None,
            "closed_won_reason": None,
            "forecast_category": (stage["forecast_category_cd"] or "").lower() or None,
            "deal_probability": probability,
            "created_by_id": self.created_by_id,
            "current_solutions": None,
            "deal_source": None,
            "manually_updated_probability": None,
            "manually_updated_forecast": None,
            "crm_id": None,
            "crm_record_url": None,
            "crm_owner_id": None,
            "probability": None,
            "opportunity_pipeline_id": stage["opportunity_pipeline_id"],
            "stage_updated_at": iso_offset(self.stage_updated_ms),
            "next_step_last_updated_at": None,
            "exchange_rate_code": CURRENCY["iso_code"],
            "exchange_rate_value": 1,
            "amount_in_team_currency": self.amount,
            "forecasted_revenue": forecasted,
            "last_activity_date": iso_ms(self.last_activity_ms),
            "existence_level": "full",
            "opportunity_rule_config_statuses": [],
            "opportunity_contact_roles": [],
            "currency": dict(CURRENCY),
            "typed_custom_fields": dict(self.typed_custom_fields or {}),
        }


class DealEndpoints:
    """Deals and deal stages, and the endpoints that serve them."""

    # Provided by ApolloEmulator (and AccountEndpoints).
    seed: int
    users: list[dict[str, Any]]
    team_id: str
    pagination_as_strings: bool
    _lock: threading.RLock
    _anchor_ms: int
    _user_ids: set[str]
    _accounts: dict[str, AccountRecord]
    _account_index: dict[tuple[str, str], list[str]]

    if TYPE_CHECKING:

        def _stamp(self) -> int: ...

        def _render_search(self, record: AccountRecord) -> dict[str, Any]: ...

    # ----------------------------------------------------------------- construction

    def _init_deals(self) -> None:
        self._deal_ids = ObjectIdFactory(self.seed, "opportunity")
        self.deal_pipeline_id = ObjectIdFactory(self.seed, "opportunity_pipeline").next()
        self.deal_stages: list[dict[str, Any]] = deal_stage_objects(
            self.team_id, ObjectIdFactory(self.seed, "opportunity_stage"), self.deal_pipeline_id
        )
        self._deal_stages_by_id = {stage["id"]: stage for stage in self.deal_stages}
        self._deals: dict[str, DealRecord] = {}
        self._deal_seed_batches = 0

    # ----------------------------------------------------------------- state for tests

    @property
    def deals(self) -> dict[str, dict[str, Any]]:
        """A snapshot ``{id: deal}`` of every deal, as ``GET /opportunities/{id}`` renders it."""
        with self._lock:
            return {deal_id: self._render_deal_view(record) for deal_id, record in self._deals.items()}

    def get_deal(self, deal_id: str) -> dict[str, Any] | None:
        """One deal as ``GET /opportunities/{id}`` renders it, or None."""
        with self._lock:
            record = self._deals.get(deal_id)
            return None if record is None else self._render_deal_view(record)

    @property
    def deal_count(self) -> int:
        return len(self._deals)

    def deal_stage_id(self, name_or_id: str) -> str:
        """Resolve a deal stage name (case-insensitive) or id to the id; ValueError names the known ones."""
        if name_or_id in self._deal_stages_by_id:
            return name_or_id
        wanted = name_or_id.strip().lower()
        for stage in self.deal_stages:
            if stage["name"].lower() == wanted:
                return str(stage["id"])
        known = ", ".join(stage["name"] for stage in self.deal_stages)
        raise ValueError(f"unknown deal stage {name_or_id!r}; known stages: {known}")

    def add_deal(
        self,
        name: str,
        *,
        account_id: str | None = None,
        amount: int | float | str | None = None,
        stage: str | None = None,
        owner_id: str | None = None,
        closed_date: str | None = None,
    ) -> dict[str, Any]:
        """Add one deal (as ``POST /opportunities`` would); returns it as ``GET /opportunities/{id}`` shows it."""
        if not name.strip():
            raise ValueError("a deal needs a name")
        if account_id is not None and account_id not in self._accounts:
            raise ValueError(f"unknown account id {account_id!r}")
        if owner_id is not None and owner_id not in self._user_ids:
            raise ValueError(f"unknown user id {owner_id!r}")
        fields: dict[str, Any] = {
            "name": name,
            "account_id": account_id,
            "amount": amount,
            "owner_id": owner_id,
        }
        if stage is not None:
            fields["opportunity_stage_id"] = self.deal_stage_id(stage)
        if closed_date is not None:
            fields["closed_date"] = closed_date
        with self._lock:
            record = self._create_deal(self._validate_deal_fields(fields, CREATE_FIELDS))
            return self._render_deal_view(record)

    def seed_deals(
        self, n: int, *, stage: str | None = None, account_ids: Iterable[str] | None = None
    ) -> list[str]:
        """Add ``n`` deterministic deals spread over the past year and the deal stages (or all in
        ``stage``), each on one of ``account_ids`` (default: every account; none when there is none)."""
        fixed_stage = self.deal_stage_id(stage) if stage is not None else None
        stage_ids = [stage_obj["id"] for stage_obj in self.deal_stages]
        owner_ids = [user["id"] for user in self.users]
        history_ms = 365 * 24 * 3600 * 1000
        day_ms = 24 * 3600 * 1000
        with self._lock:
            accounts = list(self._accounts) if account_ids is None else list(account_ids)
            unknown = [known for known in accounts if known not in self._accounts]
            if unknown:
                raise ValueError(f"unknown account ids {unknown!r}")
            rng = random.Random(f"{self.seed}:deals:{self._deal_seed_batches}")
            self._deal_seed_batches += 1
            picks = (
                [fixed_stage] * n
                if fixed_stage is not None
                else rng.choices(
                    stage_ids, cum_weights=list(itertools.accumulate(SEED_DEAL_STAGE_WEIGHTS)), k=n
                )
            )
            start_ms = self._anchor_ms - history_ms
            step = history_ms / max(n, 1)
            jitter = max(int(step), 1)
            new_ids: list[str] = []
            for i in range(n):
                created_ms = start_ms + int(i * step) + rng.randrange(jitter)
                owner = rng.choice(owner_ids)
                record = DealRecord(self._deal_ids.next(), created_ms, picks[i], owner, owner_ids[0])
                account_id: str | None = rng.choice(accounts) if accounts else None
                account = self._accounts.get(account_id) if account_id else None
                product = rng.choice(SEED_DEAL_PRODUCTS)
                record.name = (
                    f"{account.name} - {product}" if account is not None and account.name else product
                )
                record.account_id = account_id
                record.amount = rng.randrange(5, 500) * 1000
                closed_ms = created_ms + rng.randrange(14, 181) * day_ms
                record.closed_date = (
                    datetime.datetime.fromtimestamp(closed_ms / 1000, datetime.timezone.utc)
                    .date()
                    .isoformat()
                )
                record.updated_ms = created_ms + int(rng.random() * (self._anchor_ms - created_ms))
                record.stage_updated_ms = record.last_activity_ms = record.updated_ms
                self._deals[record.id] = record
                new_ids.append(record.id)
        return new_ids

    # ----------------------------------------------------------------- internal

    def _resolve_deal_account(self, value: Any) -> str | None:
        """The account a deal names: an account id, or (emulator's choice) the organization_id of an
        account, since the reference tells clients to take ``organization_id`` from Organization Search."""
        text = _text(value)
        if text is None:
            return None
        if text in self._accounts:
            return text
        ids = self._account_index.get(("organization_id", text))
        if ids:
            return min(ids)
        raise ApiError(422, {"error": _invalid_id(text)})

    def _validate_deal_fields(self, fields: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
        picked = {key: fields[key] for key in allowed if key in fields}
        owner = _text(picked.get("owner_id"))
        if owner is not None and owner not in self._user_ids:
            raise ApiError(422, {"error": _invalid_id(owner)})
        stage = _text(picked.get("opportunity_stage_id"))
        if stage is not None and stage not in self._deal_stages_by_id:
            raise ApiError(422, {"error": _invalid_id(stage)})
        if "account_id" in picked:
            picked["account_id"] = self._resolve_deal_account(picked["account_id"])
        if "closed_date" in picked:
            picked["closed_date"] = parse_closed_date(picked["closed_date"])
        custom = picked.get("typed_custom_fields")
        if custom is not None and not isinstance(custom, dict):
            raise ApiError(422, {"error": "Parameters misconfigured. typed_custom_fields must be an object"})
        return picked

    def _apply_deal_fields(self, record: DealRecord, fields: dict[str, Any], now_ms: int) -> None:
        if _text(fields.get("name")) is not None:
            record.name = str(fields["name"]).strip()
        if _text(fields.get("owner_id")):
            record.owner_id = str(fields["owner_id"]).strip()
        if "account_id" in fields:
            record.account_id = fields["account_id"]
        if "amount" in fields:
            record.amount = parse_amount(fields["amount"])
        stage = _text(fields.get("opportunity_stage_id"))
        if stage is not None and stage != record.opportunity_stage_id:
            record.opportunity_stage_id = stage
            record.stage_updated_ms = now_ms
        if "closed_date" in fields:
            record.closed_date = fields["closed_date"]
        custom = fields.get("typed_custom_fields")
        if isinstance(custom, dict):
            # Stored as given, keyed by field id; null clears one (emulator's choice, as for accounts).
            merged = {**(record.typed_custom_fields or {}), **custom}
            record.typed_custom_fields = {key: value for key, value in merged.items() if value is not None}
        record.updated_ms = record.last_activity_ms = now_ms

    def _create_deal(self, fields: dict[str, Any]) -> DealRecord:
        creator = self.users[0]["id"]
        now_ms = self._stamp()
        stage = _text(fields.get("opportunity_stage_id")) or self.deal_stage_id(DEFAULT_DEAL_STAGE)
        # Emulator's choice: without owner_id the deal belongs to the key's user.
        owner = _text(fields.get("owner_id")) or creator
        record = DealRecord(self._deal_ids.next(), now_ms, stage, owner, creator)
        self._apply_deal_fields(record, fields, now_ms)
        self._deals[record.id] = record
        return record

    def _render_deal(self, record: DealRecord) -> dict[str, Any]:
        return record.render(self.team_id, self._deal_stages_by_id[record.opportunity_stage_id])

    def _deal_account(self, record: DealRecord) -> dict[str, Any] | None:
        account = self._accounts.get(record.account_id) if record.account_id else None
        return None if account is None else self._render_search(account)

    def _render_deal_listed(self, record: DealRecord) -> dict[str, Any]:
        """A deal as List All Deals shows it: with its ``account`` (the search shape)."""
        deal = self._render_deal(record)
        deal["account"] = self._deal_account(record)
        return deal

    def _render_deal_view(self, record: DealRecord) -> dict[str, Any]:
        """A deal as View Deal shows it: with ``num_contacts`` and its ``account``."""
        deal = self._render_deal(record)
        # The deal's contacts are its contact roles, which the emulator does not model: always 0.
        deal["num_contacts"] = 0
        deal["account"] = self._deal_account(record)
        return deal

    # ----------------------------------------------------------------- endpoints

    def api_create_deal(self, request: EmulatedRequest) -> tuple[int, Any]:
        if _text(request.body.get("name")) is None:
            raise ApiError(422, {"error": MSG_NAME_REQUIRED})
        with self._lock:
            record = self._create_deal(self._validate_deal_fields(request.body, CREATE_FIELDS))
            return 200, {"opportunity": self._render_deal(record)}

    def api_update_deal(self, request: EmulatedRequest) -> tuple[int, Any]:
        deal_id = request.path_params["opportunity_id"]
        with self._lock:
            record = self._deals.get(deal_id)
            if record is None:
                raise ApiError(422, {"error": MSG_DEAL_MISSING})
            if "name" in request.body and _text(request.body["name"]) is None:
                # Emulator's choice: a deal keeps a name (create answers this for a missing one).
                raise ApiError(422, {"error": MSG_NAME_REQUIRED})
            fields = self._validate_deal_fields(request.body, UPDATE_FIELDS)
            self._apply_deal_fields(record, fields, self._stamp())
            return 200, {"opportunity": self._render_deal(record)}

    def api_view_deal(self, request: EmulatedRequest) -> tuple[int, Any]:
        deal_id = request.path_params["opportunity_id"]
        with self._lock:
            record = self._deals.get(deal_id)
            if record is None:
                # Emulator's choice between the two documented answers: a well-formed id that names no
                # deal is the 404, anything else the 422 "... is not a valid ID".
                if _OBJECT_ID_RE.match(deal_id):
                    raise ApiError(404, dict(NOT_FOUND))
                raise ApiError(422, {"error": _invalid_id(deal_id)})
            return 200, {"opportunity": self._render_deal_view(record)}

    def api_list_deals(self, request: EmulatedRequest) -> tuple[int, Any]:
        # The reference documents only sort_by_field, page and per_page (query parameters); the
        # emulator also reads them from a JSON body, as Apollo's CLI POSTs it. Other filters (the
        # CLI's q_keywords, account_id ...) and sort_ascending are ignored (emulator's choice).
        sort_field = _text(request.value("sort_by_field"))
        page = max(_int_or(request.value("page"), 1), 1)
        per_page = min(max(_int_or(request.value("per_page"), DEALS_DEFAULT_PER_PAGE), 1), DEALS_MAX_PER_PAGE)
        with self._lock:
            # Default order: creation (id) order, oldest first, as in the reference's example.
            records = list(self._deals.values())
            if sort_field == "amount":
                # "The largest deal values first"; deals without an amount last (emulator's choice).
                present = [record for record in records if record.amount is not None]
                absent = [record for record in records if record.amount is None]
                present.sort(key=lambda record: record.amount or 0, reverse=True)
                records = present + absent
            elif sort_field in ("is_closed", "is_won"):
                # "Deals that have been closed (won) first"; stable, so ties keep id order.
                records.sort(
                    key=lambda record: not self._deal_stages_by_id[record.opportunity_stage_id][sort_field]
                )
            # An unknown sort_by_field is ignored (emulator's choice: the reference documents no error).
            total = len(records)
            total_pages = math.ceil(total / per_page)
            start = (page - 1) * per_page
            opportunities = [self._render_deal_listed(record) for record in records[start : start + per_page]]
        return 200, {
            "breadcrumbs": [],
            "opportunities": opportunities,
            "salesforce_users": [],
            "partial_results_only": False,
            "has_join": False,
            "disable_eu_prospecting": False,
            "partial_results_limit": DEALS_PARTIAL_RESULTS_LIMIT,
            "pagination": {
                "page": str(page) if self.pagination_as_strings else page,
                "per_page": str(per_page) if self.pagination_as_strings else per_page,
                "total_entries": total,
                "total_pages": total_pages,
            },
            "num_fetch_result": None,
        }

    def api_list_deal_stages(self, request: EmulatedRequest) -> tuple[int, Any]:
        return 200, {"opportunity_stages": [dict(stage) for stage in self.deal_stages]}
