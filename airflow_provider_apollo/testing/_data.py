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
    label_id: str, name: str, user_id: str, created_ms: int, cached_count: int
) -> dict[str, Any]:
    return {
        "id": label_id,
        "modality": "contacts",
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
