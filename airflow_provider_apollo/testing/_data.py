"""Apollo's object shapes for the emulator: ids, timestamps, stages, users, labels and contact records."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

# The nine default stages of an Apollo team, in display order, with the legacy reference's
# ``ignore_trigger_override`` and ``category`` values.
STAGE_SPECS: tuple[tuple[str, bool | None, str | None], ...] = (
    ("Cold", False, "in_progress"),
    ("Approaching", None, "in_progress"),
    ("Replied", None, "in_progress"),
    ("Interested", True, "succeeded"),
    ("Not Interested", True, "failed"),
    ("Unresponsive", None, "failed"),
    ("Do Not Contact", True, "failed"),
    ("Bad Data", None, None),
    ("Changed Job", True, None),
)
DEFAULT_STAGE = "Cold"
# How seeded contacts spread over the stages (same order as STAGE_SPECS): most are still Cold.
SEED_STAGE_WEIGHTS: tuple[int, ...] = (60, 12, 6, 5, 5, 6, 2, 2, 2)

USER_SPECS: tuple[tuple[str, str, str], ...] = (
    ("Ada", "Lovelace", "Head of Sales"),
    ("Grace", "Hopper", "Account Executive"),
    ("Alan", "Turing", "Sales Development Representative"),
)

# Space-separated to keep the table compact.
_FIRST_NAMES_TEXT = (
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella James Mia William Amelia Benjamin Harper "
    "Lucas Evelyn Henry Abigail Theodore Emily Jack Ella Levi Elizabeth Alexander Camila Jackson Luna "
    "Mateo Sofia Daniel Avery Michael Mila Mason Aria Sebastian Scarlett Ethan Priya Wei Aiko Kwame "
    "Fatima Diego Ingrid Tomasz Chloe Omar"
)
FIRST_NAMES = tuple(_FIRST_NAMES_TEXT.split())
_LAST_NAMES_TEXT = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Patel Chen "
    "Tanaka Mensah Khan Silva Larsen Nowak Dubois Haddad"
)
LAST_NAMES = tuple(_LAST_NAMES_TEXT.split())
TITLES = (
    "Founder & CEO",
    "Chief Technology Officer",
    "VP of Engineering",
    "Head of Data",
    "Data Engineer",
    "Senior Data Engineer",
    "Analytics Engineer",
    "VP of Sales",
    "Account Executive",
    "Head of Marketing",
    "Marketing Operations Manager",
    "Revenue Operations Manager",
    "Director of Platform",
    "Staff Engineer",
    "Product Manager",
    "Chief Operating Officer",
    "Head of Growth",
    "Solutions Architect",
    "CFO",
    "IT Director",
)
ORGANIZATIONS = (
    ("Westeros", "westeros.com"),
    ("Initech", "initech.com"),
    ("Globex", "globex.com"),
    ("Umbrella Analytics", "umbrella-analytics.io"),
    ("Hooli", "hooli.com"),
    ("Stark Industries", "stark.com"),
    ("Wayne Enterprises", "wayne.com"),
    ("Acme Corp", "acme.com"),
    ("Soylent", "soylent.co"),
    ("Cyberdyne Systems", "cyberdyne.ai"),
    ("Tyrell", "tyrell.io"),
    ("Wonka Industries", "wonka.com"),
    ("Pied Piper", "piedpiper.com"),
    ("Vandelay Industries", "vandelay.com"),
    ("Oceanic Airlines", "oceanic.aero"),
    ("Aperture Science", "aperture.science"),
    ("Black Mesa", "blackmesa.org"),
    ("Massive Dynamic", "massive.dev"),
    ("Gringotts", "gringotts.bank"),
    ("Duff Brewing", "duff.beer"),
)
LOCATIONS = (
    ("San Francisco", "California", "United States", "America/Los_Angeles"),
    ("New York", "New York", "United States", "America/New_York"),
    ("Austin", "Texas", "United States", "America/Chicago"),
    ("Chicago", "Illinois", "United States", "America/Chicago"),
    ("Seattle", "Washington", "United States", "America/Los_Angeles"),
    ("Boston", "Massachusetts", "United States", "America/New_York"),
    ("London", "England", "United Kingdom", "Europe/London"),
    ("Berlin", "Berlin", "Germany", "Europe/Berlin"),
    ("Paris", "Ile-de-France", "France", "Europe/Paris"),
    ("Amsterdam", "North Holland", "Netherlands", "Europe/Amsterdam"),
    ("Toronto", "Ontario", "Canada", "America/Toronto"),
    ("Sydney", "New South Wales", "Australia", "Australia/Sydney"),
    ("Bangalore", "Karnataka", "India", "Asia/Kolkata"),
    ("Singapore", "Singapore", "Singapore", "Asia/Singapore"),
    ("Tokyo", "Tokyo", "Japan", "Asia/Tokyo"),
    ("Sao Paulo", "Sao Paulo", "Brazil", "America/Sao_Paulo"),
)

# The phone fields that create/update accept, and the phone_numbers[].type Apollo reports for each.
PHONE_FIELD_TYPES: dict[str, str] = {
    "direct_phone": "work_direct",
    "corporate_phone": "work_hq",
    "mobile_phone": "mobile",
    "home_phone": "home",
    "other_phone": "other",
}

_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")
# Apollo ignores an invalid email rather than rejecting the contact; this is the emulator's notion of valid.
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and _OBJECT_ID_RE.match(value) is not None


def is_valid_email(value: object) -> bool:
    return isinstance(value, str) and _EMAIL_RE.match(value) is not None


def stable_fraction(seed: int, key: str) -> float:
    """A deterministic number in [0, 1) for ``key`` under ``seed``."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class ObjectIdFactory:
    """Mongo-style 24-hex ids: deterministic from the seed, a kind and a counter, ascending in creation order.

    Like a real ObjectId from one process: a time-like prefix, a per-process part (here from the
    seed and kind, so different kinds never collide) and a counter.
    """

    def __init__(self, seed: int, kind: str) -> None:
        digest = hashlib.blake2b(f"{seed}:{kind}".encode(), digest_size=8).digest()
        self._machine = int.from_bytes(digest[:5], "big")
        self._prefix = 0x64000000 + int.from_bytes(digest[5:], "big") % 0x00100000
        self._counter = 0

    def next(self) -> str:
        self._counter += 1
        n = self._counter
        return f"{self._prefix + (n >> 24):08x}{self._machine:010x}{n & 0xFFFFFF:06x}"


def iso_ms(ms: int) -> str:
    """Apollo's record timestamp: ``2020-08-13T06:56:09.789Z``."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def iso_offset(ms: int) -> str:
    """Apollo's activity timestamp: ``2018-06-26T16:30:35.000+00:00``."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+00:00"


def sanitize_phone(raw: str) -> str:
    digits = "".join(ch for ch in raw if ch.isdigit())
    # Apollo assumes North America for a bare ten-digit number.
    if len(digits) == 10:
        return "+1" + digits
    return "+" + digits


def parse_address(raw: str | None) -> tuple[str | None, str | None, str | None]:
    """Split ``present_raw_address`` into (city, state, country) the simple way Apollo's examples suggest."""
    if not raw:
        return None, None, None
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if len(parts) >= 3:
        return parts[0], parts[1], parts[-1]
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return parts[0], None, None


def stage_objects(team_id: str, ids: ObjectIdFactory) -> list[dict[str, Any]]:
    return [
        {
            "id": ids.next(),
            "team_id": team_id,
            "display_name": name,
            "name": name,
            "display_order": order,
            "ignore_trigger_override": ignore_override,
            "category": category,
        }
        for order, (name, ignore_override, category) in enumerate(STAGE_SPECS)
    ]


def user_objects(team_id: str, ids: ObjectIdFactory, created_ms: int) -> list[dict[str, Any]]:
    users = []
    for first, last, title in USER_SPECS:
        users.append(
            {
                "id": ids.next(),
                "team_id": team_id,
                "first_name": first,
                "last_name": last,
                "name": f"{first} {last}",
                "title": title,
                "email": f"{first.lower()}.{last.lower()}@emulated-team.example",
                "created_at": iso_ms(created_ms),
                "deleted": False,
                "credit_limit": 10000,
                "opt_out_html_template": None,
            }
        )
    return users


def label_object(
    label_id: str, name: str, user_id: str, created_ms: int, cached_count: int, *, modality: str = "contacts"
) -> dict[str, Any]:
    return {
        "id": label_id,
        "modality": modality,
        "cached_count": cached_count,
        "name": name,
        "created_at": iso_ms(created_ms),
        "updated_at": iso_ms(created_ms),
        "user_id": user_id,
    }


# Every contact response starts from this shape (the union of the legacy samples and the current
# OpenAPI example), so the key order and the constant fields match what Apollo sends.
CONTACT_TEMPLATE: dict[str, Any] = {
    "contact_roles": [],
    "id": None,
    "first_name": None,
    "last_name": None,
    "name": None,
    "linkedin_url": None,
    "title": None,
    "contact_stage_id": None,
    "owner_id": None,
    "creator_id": None,
    "person_id": None,
    "email_needs_tickling": False,
    "organization_name": None,
    "source": "api",
    "original_source": "api",
    "organization_id": None,
    "headline": None,
    "photo_url": None,
    "present_raw_address": None,
    "linkedin_uid": None,
    "extrapolated_email_confidence": None,
    "salesforce_id": None,
    "salesforce_lead_id": None,
    "salesforce_contact_id": None,
    "salesforce_account_id": None,
    "salesforce_owner_id": None,
    "crm_owner_id": None,
    "created_at": None,
    "lead_request_id": None,
    "test_predictive_score": None,
    "emailer_campaign_ids": [],
    "email_manually_changed": False,
    "direct_dial_status": None,
    "direct_dial_enrichment_failed_at": None,
    "email_status": None,
    "email_source": None,
    "account_id": None,
    "last_activity_date": None,
    "hubspot_vid": None,
    "hubspot_company_id": None,
    "crm_id": None,
    "sanitized_phone": None,
    "merged_crm_ids": [],
    "typed_custom_fields": {},
    "updated_at": None,
    "queued_for_crm_push": False,
    "starred_by_user_ids": [],
    "suggested_from_rule_engine_config_id": None,
    "email_unsubscribed": None,
    "label_ids": [],
    "has_pending_email_arcgate_request": False,
    "has_email_arcgate_request": False,
    "existence_level": "full",
    "email": None,
    "email_from_customer": None,
    "custom_field_errors": {},
    "crm_record_url": None,
    "email_true_status": None,
    "source_display_name": "Created from API",
    "twitter_url": None,
    "contact_emails": [],
    "contact_campaign_statuses": [],
    "next_contact_id": None,
    "time_zone": None,
    "city": None,
    "state": None,
    "country": None,
    "intent_strength": None,
    "show_intent": False,
    "phone_numbers": [],
    "account_phone_note": None,
    "free_domain": False,
    "is_likely_to_engage": False,
    "email_domain_catchall": False,
}
# Template values that are containers must not be shared between rendered contacts.
_MUTABLE_TEMPLATE_KEYS = tuple(
    key for key, value in CONTACT_TEMPLATE.items() if isinstance(value, list | dict)
)


class ContactRecord:
    """The emulator's compact storage of one contact; ``render()`` builds Apollo's full object.

    Slots and integer timestamps keep 100,000 contacts to tens of megabytes and make sorting cheap.
    """

    __slots__ = (
        "id",
        "first_name",
        "last_name",
        "title",
        "organization_name",
        "organization_id",
        "email",
        "email_status",
        "contact_stage_id",
        "owner_id",
        "creator_id",
        "person_id",
        "account_id",
        "label_ids",
        "typed_custom_fields",
        "phones",
        "present_raw_address",
        "city",
        "state",
        "country",
        "time_zone",
        "linkedin_url",
        "source",
        "created_ms",
        "updated_ms",
        "last_activity_ms",
        "email_unsubscribed",
        "enrollments",
        "_haystack",
    )

    def __init__(self, contact_id: str, created_ms: int, stage_id: str, owner_id: str) -> None:
        self.id = contact_id
        self.first_name: str | None = None
        self.last_name: str | None = None
        self.title: str | None = None
        self.organization_name: str | None = None
        self.organization_id: str | None = None
        self.email: str | None = None
        self.email_status: str | None = None
        self.contact_stage_id = stage_id
        self.owner_id = owner_id
        self.creator_id = owner_id
        self.person_id: str | None = None
        self.account_id: str | None = None
        self.label_ids: tuple[str, ...] = ()
        self.typed_custom_fields: dict[str, Any] | None = None
        # (phone_numbers[].type, raw number) in position order.
        self.phones: tuple[tuple[str, str], ...] = ()
        self.present_raw_address: str | None = None
        self.city: str | None = None
        self.state: str | None = None
        self.country: str | None = None
        self.time_zone: str | None = None
        self.linkedin_url: str | None = None
        self.source = "api"
        self.created_ms = created_ms
        self.updated_ms = created_ms
        self.last_activity_ms: int | None = None
        self.email_unsubscribed: bool | None = None
        # Sequence memberships by sequence id; None until the contact is first enrolled.
        self.enrollments: dict[str, Enrollment] | None = None
        self._haystack: str | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def haystack(self) -> str:
        """Lower-cased text that ``q_keywords`` searches; cached until ``touch_text()``."""
        if self._haystack is None:
            self._haystack = "\n".join(
                (self.name, self.title or "", self.organization_name or "", self.email or "")
            ).lower()
        return self._haystack

    def touch_text(self) -> None:
        self._haystack = None

    def render(self) -> dict[str, Any]:
        contact = dict(CONTACT_TEMPLATE)
        for key in _MUTABLE_TEMPLATE_KEYS:
            contact[key] = type(CONTACT_TEMPLATE[key])()
        contact["id"] = self.id
        contact["first_name"] = self.first_name
        contact["last_name"] = self.last_name
        contact["name"] = self.name
        contact["linkedin_url"] = self.linkedin_url
        contact["title"] = self.title
        contact["contact_stage_id"] = self.contact_stage_id
        contact["owner_id"] = self.owner_id
        contact["creator_id"] = self.creator_id
        contact["person_id"] = self.person_id
        contact["organization_name"] = self.organization_name
        contact["source"] = self.source
        contact["original_source"] = self.source
        contact["organization_id"] = self.organization_id
        if self.title and self.organization_name:
            contact["headline"] = f"{self.title} at {self.organization_name}"
        contact["present_raw_address"] = self.present_raw_address
        contact["created_at"] = iso_ms(self.created_ms)
        contact["email_status"] = self.email_status
        contact["account_id"] = self.account_id
        if self.last_activity_ms is not None:
            contact["last_activity_date"] = iso_offset(self.last_activity_ms)
        contact["typed_custom_fields"] = dict(self.typed_custom_fields or {})
        contact["updated_at"] = iso_ms(self.updated_ms)
        contact["label_ids"] = list(self.label_ids)
        contact["email"] = self.email
        if self.email:
            contact["email_from_customer"] = self.source == "api"
            contact["email_true_status"] = "User Managed" if self.source == "api" else "Verified"
        if self.source != "api":
            contact["source_display_name"] = "Imported from CSV"
        contact["time_zone"] = self.time_zone
        contact["city"] = self.city
        contact["state"] = self.state
        contact["country"] = self.country
        contact["email_unsubscribed"] = self.email_unsubscribed
        if self.enrollments:
            now_ms = int(time.time() * 1000)
            contact["emailer_campaign_ids"] = list(self.enrollments)
            contact["contact_campaign_statuses"] = [
                enrollment.render(now_ms) for enrollment in self.enrollments.values()
            ]
        if self.phones:
            numbers = [
                {
                    "raw_number": raw,
                    "sanitized_number": sanitize_phone(raw),
                    "type": phone_type,
                    "position": position,
                    "status": "no_status",
                    "dnc_status": None,
                    "dnc_other_info": None,
                    "dialer_flags": None,
                }
                for position, (phone_type, raw) in enumerate(self.phones)
            ]
            contact["phone_numbers"] = numbers
            contact["sanitized_phone"] = numbers[0]["sanitized_number"]
        return contact


# ----------------------------------------------------------------- keyword search

_WORD_RE = re.compile(r"\w+")


def keyword_tokens(text: str) -> list[str]:
    """The lower-cased words of a ``q_keywords`` value: punctuation separates words and is dropped."""
    return _WORD_RE.findall(text.lower())


# ----------------------------------------------------------------- the default team

# Each user's mailboxes: (user index, local part, is the user's default mailbox).
EMAIL_ACCOUNT_SPECS: tuple[tuple[int, str, bool], ...] = (
    (0, "ada.lovelace", True),
    (0, "ada", False),
    (1, "grace.hopper", True),
    (2, "alan.turing", True),
)
EMAIL_DOMAIN = "emulated-team.example"
OUTREACH_DOMAIN = "outreach.emulated-team.example"

# (name, steps, active, archived, owner index)
SEQUENCE_SPECS: tuple[tuple[str, int, bool, bool, int], ...] = (
    ("Outbound - Data leaders", 4, True, False, 0),
    ("Inbound demo follow-up", 3, True, False, 1),
    ("Event - Data Council 2026", 2, True, False, 2),
    ("Re-engage cold accounts", 3, False, False, 1),
    ("Outbound - Q1 2025 (old)", 3, False, True, 0),
)
LABEL_NAMES: tuple[str, ...] = ("Conference 2026 leads", "Newsletter subscribers", "Target accounts")

# (label, type, picklist options)
CUSTOM_FIELD_SPECS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Lead score", "number", ()),
    ("Segment", "picklist", ("Enterprise", "Mid-Market", "SMB")),
    ("Lead source detail", "string", ()),
    ("Renewal date", "date", ()),
    ("Trial user", "boolean", ()),
)
# A few of the system contact fields GET /fields lists next to the custom ones: (id suffix, label, type).
SYSTEM_FIELD_SPECS: tuple[tuple[str, str, str], ...] = (
    ("id", "Identifier", "string"),
    ("first_name", "First name", "string"),
    ("last_name", "Last name", "string"),
    ("email", "Email", "string"),
    ("title", "Title", "string"),
    ("contact_stage_id", "Contact stage", "association"),
    ("owner_id", "Contact owner", "association"),
)


def email_account_object(
    account_id: str, user_id: str, email: str, *, default: bool, created_ms: int
) -> dict[str, Any]:
    """A mailbox as ``GET /email_accounts`` lists it (the fields a client reads, plus Apollo's common ones)."""
    return {
        "aliases": [],
        "id": account_id,
        "user_id": user_id,
        "email": email,
        "type": "gmail",
        "active": True,
        "default": default,
        "seconds_delay_between_emails": 60,
        "provider_display_name": "Gmail",
        "last_synced_at": iso_ms(created_ms),
        "email_sending_policy_cd": "default",
        "signature_edit_disabled": False,
        "revoked_at": None,
        "inactive_reason": None,
        "created_at": iso_ms(created_ms),
        "email_daily_threshold": 300,
        "max_outbound_emails_per_hour": 50,
        "limits_editable": True,
        "active_campaigns_count": 0,
        "signature_html": "",
        "fields_fully_loaded": True,
    }


def sequence_object(
    sequence_id: str,
    name: str,
    *,
    user_id: str,
    schedule_id: str,
    num_steps: int,
    active: bool,
    archived: bool,
    created_ms: int,
) -> dict[str, Any]:
    """A sequence (``emailer_campaign``) with zero counters; the emulator fills the counters when rendering."""
    return {
        "id": sequence_id,
        "name": name,
        "archived": archived,
        "created_at": iso_ms(created_ms),
        "emailer_schedule_id": schedule_id,
        "max_emails_per_day": None,
        "user_id": user_id,
        "same_account_reply_policy_cd": None,
        "excluded_account_stage_ids": [],
        "excluded_contact_stage_ids": [],
        "contact_email_event_to_stage_mapping": {},
        "label_ids": [],
        "create_task_if_email_open": False,
        "email_open_trigger_task_threshold": 0,
        "mark_finished_if_click": False,
        "active": active,
        "days_to_wait_before_mark_as_response": 5,
        "starred_by_user_ids": [],
        "mark_finished_if_reply": True,
        "mark_finished_if_interested": True,
        "mark_paused_if_ooo": True,
        "sequence_by_exact_daytime": None,
        "last_used_at": None,
        "folder_id": None,
        "same_account_reply_delay_days": 30,
        "is_performing_poorly": False,
        "num_contacts_email_status_extrapolated": 0,
        "remind_ab_test_results": False,
        "ab_test_step_ids": [],
        "prioritized_by_user": None,
        "creation_type": "new",
        "num_steps": num_steps,
        "loaded_stats": True,
        "cc_emails": "",
        "bcc_emails": "",
        "underperforming_touches_count": 0,
    }


def sequence_step_objects(sequence_id: str, ids: ObjectIdFactory, num_steps: int) -> list[dict[str, Any]]:
    """The automatic email steps of a sequence, two days apart."""
    return [
        {
            "id": ids.next(),
            "emailer_campaign_id": sequence_id,
            "position": position,
            "wait_time": 0 if position == 1 else 2,
            "type": "auto_email",
            "wait_mode": "day",
            "note": None,
            "max_emails_per_day": None,
            "exact_datetime": None,
            "priority": "medium",
            "auto_skip_in_x_days": None,
        }
        for position in range(1, num_steps + 1)
    ]


def full_label_object(label: dict[str, Any], team_id: str, cached_count: int) -> dict[str, Any]:
    """A list as ``GET /labels`` shows it (Mongo-style ``_id`` and ``key`` next to ``id``)."""
    return {
        "_id": label["id"],
        "cached_count": cached_count,
        "concurrency_locks": {},
        "created_at": label["created_at"],
        "modality": label["modality"],
        "name": label["name"],
        "need_cached_count_update": False,
        "needs_count_update_at": label["created_at"],
        "rule_config_template_id": None,
        "team_id": team_id,
        "updated_at": label["updated_at"],
        "user_id": label["user_id"],
        "id": label["id"],
        "key": label["id"],
    }


def custom_field_object(
    field_id: str, label: str, field_type: str, options: list[dict[str, Any]], created_ms: int
) -> dict[str, Any]:
    """A custom contact field as ``GET /fields`` lists it.

    ``id`` is ``contact.<hex>``; contacts key its value by the bare ``<hex>`` in ``typed_custom_fields``.
    Picklist options appear as ``meta.picklist_values`` (the shape ``PATCH /fields`` takes) and, as the
    deprecated ``GET /typed_custom_fields`` shows them, as ``picklist_values``.
    """
    field: dict[str, Any] = {
        "id": f"contact.{field_id}",
        "category": "person",
        # The schema types ``context`` as a string naming the record type (its example shows a list).
        "context": "contact",
        "description": None,
        "editable": True,
        "example": None,
        "field_name": label,
        "group": None,
        "icon_class": None,
        "label": label,
        "modality": "contact",
        "parent": "contact.other_custom_field",
        "source": "custom",
        "type": field_type,
        "finder_view_ids": [],
        "project_workspace_id": None,
        "finder_views": [],
        "is_local": False,
        "meta": {},
        "created_at": iso_ms(created_ms),
        "updated_at": iso_ms(created_ms),
    }
    if field_type in ("picklist", "multipicklist"):
        field["meta"] = {"picklist_values": [{"id": o["id"], "name": o["name"]} for o in options]}
        field["picklist_values"] = [
            {"_id": o["id"], "id": o["id"], "key": o["id"], "name": o["name"], "mapped_crm_values": {}}
            for o in options
        ]
    return field


def system_field_object(suffix: str, label: str, field_type: str) -> dict[str, Any]:
    return {
        "id": f"contact.{suffix}",
        "category": "person",
        "context": "contact",
        "description": None,
        "editable": False,
        "example": None,
        "field_name": f"contact.{suffix}",
        "group": "basic_info",
        "icon_class": "user",
        "label": label,
        "modality": "contact",
        "parent": None,
        "source": "system",
        "type": field_type,
        "finder_view_ids": [],
        "project_workspace_id": None,
        "finder_views": [],
        "is_local": False,
    }


# ----------------------------------------------------------------- sequence membership

# What finally happens to an enrolled contact (decided deterministically at enrollment).
OUTCOME_REPLY = "reply"
OUTCOME_BOUNCE = "bounce"
OUTCOME_FINISH = "finish"
# The ``inactive_reason``/``failure_reason`` texts the emulator writes: Apollo's own ("Sequence
# inactive", "manually finished") where its reference shows one, otherwise the emulator's choice
# (docs/testing.md). None of them says "replied": Apollo documents no reason text for a reply, and the
# provider reads replies from the outreach emails.
REASON_SEQUENCE_INACTIVE = "Sequence inactive"
REASON_MANUALLY_FINISHED = "manually finished"
REASON_MANUALLY_STOPPED = "manually stopped"
REASON_PAUSED = "paused on enrollment"
REASON_COMPLETED = "completed all steps"
REASON_BOUNCED = "bounced"  # a documented failure_reason value
# Apollo's reply classes (emailer_message_reply_classes[] in its reference).
REPLY_CLASSES = (
    "willing_to_meet",
    "follow_up_question",
    "person_referral",
    "out_of_office",
    "already_left_company_or_not_right_person",
    "not_interested",
    "unsubscribe",
    "none_of_the_above",
)
OUT_OF_OFFICE = "out_of_office"


class Enrollment:
    """One contact's membership in one sequence (Apollo's ``contact_campaign_status``) and its emails.

    Progress is computed when read. An active membership sends step 1 when it starts and each next
    step ``step_ms`` after the previous one; every sent step is an outreach email (``emailer_message``).
    The outcome comes ``step_ms`` after the email of ``outcome_step`` was sent: a reply to that email
    (with ``reply_class``), a bounce of the first email, or, after the last step, the end of the
    sequence. A reply finishes the membership only when the sequence has ``mark_finished_if_reply``;
    an out-of-office reply pauses it when the sequence has ``mark_paused_if_ooo``; otherwise the
    membership goes on. ``step_ms`` None: only the first email is sent, and nothing happens on its own.
    """

    __slots__ = (
        "id",
        "contact_id",
        "sequence_id",
        "email_account_id",
        "email_address",
        "sender_user_id",
        "added_by_user_id",
        "added_ms",
        "status",
        "started_ms",
        "inactive_reason",
        "finished_ms",
        "paused_ms",
        "auto_unpause_ms",
        "failure_reason",
        "num_steps",
        "step_ids",
        "step_ms",
        "outcome",
        "outcome_step",
        "reply_class",
        "message_ids",
        "sent_ms",
        "replies",
        "bounced_step",
        "finish_on_reply",
        "pause_on_ooo",
        "events",
    )

    def __init__(
        self,
        enrollment_id: str,
        contact_id: str,
        sequence_id: str,
        *,
        email_account_id: str,
        email_address: str,
        sender_user_id: str,
        added_by_user_id: str,
        added_ms: int,
        step_ids: list[str],
        step_ms: int | None,
        outcome: str,
        outcome_step: int,
        message_ids: list[str],
        reply_class: str = "willing_to_meet",
        finish_on_reply: bool = True,
        pause_on_ooo: bool = True,
    ) -> None:
        self.id = enrollment_id
        self.contact_id = contact_id
        self.sequence_id = sequence_id
        self.email_account_id = email_account_id
        self.email_address = email_address
        self.sender_user_id = sender_user_id
        self.added_by_user_id = added_by_user_id
        self.added_ms = added_ms
        self.status = "active"
        self.started_ms: int | None = added_ms
        self.inactive_reason: str | None = None
        self.finished_ms: int | None = None
        self.paused_ms: int | None = None
        self.auto_unpause_ms: int | None = None
        self.failure_reason: str | None = None
        self.num_steps = max(len(step_ids), 1)
        self.step_ids = step_ids
        self.step_ms = step_ms
        self.outcome = outcome
        self.outcome_step = min(max(outcome_step, 1), self.num_steps)
        self.reply_class = reply_class
        self.message_ids = message_ids
        # When each step's email was sent (index = position - 1).
        self.sent_ms: list[int] = []
        # Replies by the position of the email replied to: (reply class, when).
        self.replies: dict[int, tuple[str, int]] = {}
        self.bounced_step: int | None = None
        self.finish_on_reply = finish_on_reply
        self.pause_on_ooo = pause_on_ooo
        # The membership's timeline, oldest first (the activity feed serves it newest first).
        self.events: list[dict[str, Any]] = []
        self._event("enrolled", added_ms, step_position=1)

    def _event(self, kind: str, at_ms: int, **extra: Any) -> None:
        self.events.append({"type": kind, "occurred_at_ms": at_ms, **extra})

    def pause(self, now_ms: int, reason: str | None, *, auto_unpause_ms: int | None = None) -> None:
        self.status = "paused"
        self.started_ms = None
        self.paused_ms = now_ms
        self.inactive_reason = reason
        self.auto_unpause_ms = auto_unpause_ms
        extra = {"reason": reason} if reason else {}
        self._event("paused", now_ms, **extra)

    def resume(self, now_ms: int) -> None:
        self.status = "active"
        self.started_ms = now_ms
        self.paused_ms = None
        self.inactive_reason = None
        self.auto_unpause_ms = None
        self._event("resumed", now_ms)

    def finish(self, now_ms: int, reason: str | None) -> None:
        self.status = "finished"
        self.started_ms = None
        self.finished_ms = now_ms
        self.inactive_reason = reason
        self._event("completed", now_ms)

    def fail(self, now_ms: int, reason: str) -> None:
        self.status = "failed"
        self.started_ms = None
        self.finished_ms = now_ms
        self.failure_reason = reason
        self.inactive_reason = reason
        self._event("failed", now_ms)

    def _next_send_ms(self) -> int | None:
        if self.started_ms is None or len(self.sent_ms) >= self.num_steps:
            return None
        if not self.sent_ms:
            return self.started_ms
        if self.step_ms is None:
            return None
        return max(self.sent_ms[-1] + self.step_ms, self.started_ms)

    def _due(self) -> list[tuple[int, int, str]]:
        """What happens next and when: (when, order on a tie, what)."""
        due: list[tuple[int, int, str]] = []
        if self.step_ms is not None:
            step = self.outcome_step
            if self.outcome == OUTCOME_REPLY and step not in self.replies and len(self.sent_ms) >= step:
                due.append((self.sent_ms[step - 1] + self.step_ms, 0, "reply"))
            if self.outcome == OUTCOME_BOUNCE and self.bounced_step is None and self.sent_ms:
                due.append((self.sent_ms[0] + self.step_ms, 1, "bounce"))
            if len(self.sent_ms) >= self.num_steps:
                due.append((self.sent_ms[-1] + self.step_ms, 2, "finish"))
        send = self._next_send_ms()
        if send is not None:
            due.append((send, 3, "send"))
        return due

    def settle(self, now_ms: int) -> None:
        """Bring the membership up to ``now_ms``: unpause on schedule, send due emails, reach the outcome."""
        if self.status == "paused" and self.auto_unpause_ms is not None and now_ms >= self.auto_unpause_ms:
            self.resume(self.auto_unpause_ms)
        while self.status == "active" and self.started_ms is not None:
            due = [item for item in self._due() if item[0] <= now_ms]
            if not due:
                return
            at_ms, _, what = min(due)
            if what == "send":
                self.sent_ms.append(at_ms)
            elif what == "reply":
                self.reply(at_ms, self.outcome_step, self.reply_class)
            elif what == "bounce":
                self.bounced_step = 1
                self.fail(at_ms, REASON_BOUNCED)
            else:
                self.finish(at_ms, REASON_COMPLETED)

    def reply(self, now_ms: int, position: int, reply_class: str) -> None:
        """The contact replies to the email of ``position``; the sequence's settings decide what follows."""
        self.replies[position] = (reply_class, now_ms)
        self._event("replied", now_ms, emailer_message_id=self.message_ids[position - 1])
        if self.status != "active":
            return
        if reply_class == OUT_OF_OFFICE and self.pause_on_ooo:
            self.pause(now_ms, None)
        elif self.finish_on_reply:
            self.finish(now_ms, None)

    @property
    def replied(self) -> bool:
        return bool(self.replies)

    @property
    def bounced(self) -> bool:
        return self.bounced_step is not None

    def current_position(self, now_ms: int) -> int | None:
        if self.status != "active" or self.started_ms is None:
            return None
        return max(len(self.sent_ms), 1)

    def messages(self, now_ms: int) -> list[dict[str, Any]]:
        """The outreach emails sent so far, each with its reply or bounce (raw, for the message search)."""
        self.settle(now_ms)
        found = []
        for index, sent_ms in enumerate(self.sent_ms):
            position = index + 1
            reply = self.replies.get(position)
            found.append(
                {
                    "id": self.message_ids[index],
                    "position": position,
                    "step_id": self.step_ids[index] if index < len(self.step_ids) else None,
                    "sent_ms": sent_ms,
                    "reply_class": reply[0] if reply else None,
                    "replied_ms": reply[1] if reply else None,
                    "bounced": self.bounced_step == position,
                }
            )
        return found

    def render(self, now_ms: int) -> dict[str, Any]:
        self.settle(now_ms)
        position = self.current_position(now_ms)
        return {
            "id": self.id,
            "emailer_campaign_id": self.sequence_id,
            "send_email_from_user_id": self.sender_user_id,
            "inactive_reason": self.inactive_reason,
            "status": self.status,
            "added_at": iso_offset(self.added_ms),
            "added_by_user_id": self.added_by_user_id,
            "finished_at": None if self.finished_ms is None else iso_offset(self.finished_ms),
            "paused_at": None if self.paused_ms is None else iso_offset(self.paused_ms),
            "auto_unpause_at": None if self.auto_unpause_ms is None else iso_offset(self.auto_unpause_ms),
            "send_email_from_email_address": self.email_address,
            "send_email_from_email_account_id": self.email_account_id,
            "manually_set_unpause": None,
            "failure_reason": self.failure_reason,
            "current_step_id": self.step_ids[position - 1]
            if position is not None and position <= len(self.step_ids)
            else None,
            "in_response_to_emailer_message_id": None,
            "cc_emails": None,
            "bcc_emails": None,
            "to_emails": None,
            "current_step_position": position,
        }
