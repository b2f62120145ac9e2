"""The emulator's team and outreach endpoints: users, mailboxes, sequences, lists and custom fields.

A mixin of :class:`~airflow_provider_apollo.testing.emulator.ApolloEmulator`; every method runs on the
emulator (``self``) and takes its lock for any state it reads or changes.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_apollo.testing._api import (
    ApiError,
    EmulatedRequest,
    _dedupe_ids,
    _int_or,
    _invalid_id,
    _text,
    _truthy,
)
from airflow_provider_apollo.testing._data import (
    CUSTOM_FIELD_SPECS,
    EMAIL_ACCOUNT_SPECS,
    EMAIL_DOMAIN,
    LABEL_NAMES,
    OUTCOME_BOUNCE,
    OUTCOME_FINISH,
    OUTCOME_REPLY,
    OUTREACH_DOMAIN,
    REASON_MANUALLY_FINISHED,
    REASON_MANUALLY_STOPPED,
    REASON_PAUSED,
    REASON_SEQUENCE_INACTIVE,
    REPLY_CLASSES,
    SEQUENCE_SPECS,
    SYSTEM_FIELD_SPECS,
    USER_SPECS,
    ContactRecord,
    Enrollment,
    ObjectIdFactory,
    custom_field_object,
    email_account_object,
    full_label_object,
    iso_ms,
    keyword_tokens,
    sequence_object,
    sequence_step_objects,
    stable_fraction,
    system_field_object,
)

if TYPE_CHECKING:
    import threading

    from airflow_provider_apollo.testing._ratelimit import RateLimiter

SEQUENCES_DEFAULT_PER_PAGE = 25
# emailer_messages/search: the reference gives no default page size (25, as the other searches
# here), and Apollo's 50,000-record display limit (page * per_page) answers 422 beyond it.
MESSAGES_DEFAULT_PER_PAGE = 25
MESSAGES_DISPLAY_LIMIT = 50_000
MSG_PAGE_LIMIT = "Invalid parameter passed in. Page * per page number is over threshold."
MSG_PER_PAGE_ZERO = "An error occurred. Per page cannot be 0."
# emailer_message_stats[] values the emulator can tell apart (the reference lists these and more).
MESSAGE_STATS = (
    "delivered",
    "scheduled",
    "drafted",
    "not_opened",
    "opened",
    "clicked",
    "unsubscribed",
    "demoed",
    "bounced",
    "spam_blocked",
    "failed_other",
)
ACTIVITY_FEED_MAX = 50
# A realistic mix of reply classes for automatic replies: (class, share).
DEFAULT_REPLY_CLASS_SHARES: tuple[tuple[str, float], ...] = (
    ("willing_to_meet", 0.25),
    ("follow_up_question", 0.15),
    ("person_referral", 0.05),
    ("out_of_office", 0.15),
    ("already_left_company_or_not_right_person", 0.05),
    ("not_interested", 0.2),
    ("unsubscribe", 0.1),
    ("none_of_the_above", 0.05),
)
USERS_DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
SEQUENCE_MODES = ("mark_as_finished", "remove", "stop")
CUSTOM_FIELD_TYPES = (
    "string",
    "textarea",
    "number",
    "date",
    "datetime",
    "boolean",
    "picklist",
    "multipicklist",
)
# miscellaneous.yml: a list holds contacts or accounts.
LIST_MODALITIES = ("contacts", "accounts")
REASON_SEQUENCE_ARCHIVED = "Sequence archived"

# Why add_contact_ids skipped a contact: Apollo's reason codes (x-enumDescriptions in the reference);
# the last two are the emulator's, as the reference names no code for them.
SKIP_NOT_FOUND = "contact_not_found"
SKIP_ALREADY_IN_SEQUENCE = "contacts_already_exists_in_current_campaign"
SKIP_ACTIVE_ELSEWHERE = "contacts_active_in_other_campaigns"
SKIP_FINISHED_ELSEWHERE = "contacts_finished_in_other_campaigns"
SKIP_NO_EMAIL = "contacts_without_email"
SKIP_UNVERIFIED_EMAIL = "contacts_unverified_email"
SKIP_UNSUBSCRIBED = "contacts_unsubscribed"
SKIP_BOUNCED = "contacts_email_bounced"

# Apollo's 403 for a key without access to an endpoint (a non-master key on a master-key endpoint).
MSG_NOT_AUTHORIZED = (
    "This API key is not authorized to access {endpoint}. Request an API key from your administrator "
    "that includes this endpoint in its configured scope."
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ].*)?$")


def _page_args(request: EmulatedRequest, default_per_page: int) -> tuple[int, int]:
    page = max(_int_or(request.value("page"), 1), 1)
    per_page = min(max(_int_or(request.value("per_page"), default_per_page), 1), MAX_PER_PAGE)
    return page, per_page


def _bare_field_id(key: str) -> str:
    # GET /fields names a custom field "contact.<id>"; contacts key its value by the bare id.
    return key.split(".", 1)[1] if key.startswith("contact.") else key


class OutreachEndpoints:
    """Team state (users, mailboxes, sequences, lists, custom fields) and the endpoints that serve it."""

    # Provided by ApolloEmulator.
    seed: int
    users: list[dict[str, Any]]
    team_id: str
    rate_limiter: RateLimiter
    _lock: threading.RLock
    _anchor_ms: int
    _user_ids: set[str]
    _labels: dict[str, dict[str, Any]]
    _label_by_name: dict[str, str]
    _account_label_by_name: dict[str, str]
    _live: dict[str, ContactRecord]
    _version: int
    _accounts_version: int
    _job_ids: ObjectIdFactory

    if TYPE_CHECKING:

        def _stamp(self) -> int: ...

        def _labels_for(self, names: Any, modality: str = "contacts") -> tuple[str, ...]: ...

        def _list_members(self, modality: str) -> dict[str, Any]: ...

        def _require_live(self, contact_id: str) -> ContactRecord: ...

    # ----------------------------------------------------------------- construction

    def _init_team(
        self,
        *,
        master_key: bool,
        sequence_step_seconds: float | None,
        sequence_reply_fraction: float,
        sequence_bounce_fraction: float,
        sequence_reply_classes: Iterable[str] | None = None,
        sequence_reply_step: int | None = None,
    ) -> None:
        classes = None if sequence_reply_classes is None else list(sequence_reply_classes)
        if classes is not None and (not classes or any(c not in REPLY_CLASSES for c in classes)):
            raise ValueError(f"sequence_reply_classes must be a non-empty list of {', '.join(REPLY_CLASSES)}")
        if sequence_reply_step is not None and sequence_reply_step < 1:
            raise ValueError("sequence_reply_step must be 1 or more (or None for a step per contact)")
        self.sequence_reply_classes = classes
        self.sequence_reply_step = sequence_reply_step
        if sequence_step_seconds is not None and sequence_step_seconds <= 0:
            raise ValueError("sequence_step_seconds must be positive (or None to never advance)")
        for name, fraction in (
            ("sequence_reply_fraction", sequence_reply_fraction),
            ("sequence_bounce_fraction", sequence_bounce_fraction),
        ):
            if not 0 <= fraction <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {fraction}")
        if sequence_reply_fraction + sequence_bounce_fraction > 1:
            raise ValueError("sequence_reply_fraction + sequence_bounce_fraction must not exceed 1")
        self.master_key = master_key
        self.sequence_step_seconds = sequence_step_seconds
        self.sequence_reply_fraction = sequence_reply_fraction
        self.sequence_bounce_fraction = sequence_bounce_fraction
        seed = self.seed
        self._users_factory = ObjectIdFactory(seed, "user")
        # user_objects() already drew the first ids from a factory of the same kind: skip past them.
        for _ in USER_SPECS:
            self._users_factory.next()
        self._email_account_ids = ObjectIdFactory(seed, "email_account")
        self._sequence_ids = ObjectIdFactory(seed, "emailer_campaign")
        self._step_ids = ObjectIdFactory(seed, "emailer_step")
        self._enrollment_ids = ObjectIdFactory(seed, "contact_campaign_status")
        self._message_ids = ObjectIdFactory(seed, "emailer_message")
        self._field_ids = ObjectIdFactory(seed, "typed_custom_field")
        self._option_ids = ObjectIdFactory(seed, "picklist_value")
        self.emailer_schedule_id = ObjectIdFactory(seed, "emailer_schedule").next()
        self._email_accounts: dict[str, dict[str, Any]] = {}
        self._sequences: dict[str, dict[str, Any]] = {}
        self._sequence_steps: dict[str, list[dict[str, Any]]] = {}
        self._members: dict[str, dict[str, Enrollment]] = {}
        # Memberships removed from their sequence: their sent emails and timeline stay.
        self._former_members: list[Enrollment] = []
        self._custom_fields: dict[str, dict[str, Any]] = {}
        self._system_fields = [system_field_object(*spec) for spec in SYSTEM_FIELD_SPECS]
        created_ms = self._anchor_ms - 180 * 24 * 3600 * 1000
        with self._lock:
            for user_index, local_part, default in EMAIL_ACCOUNT_SPECS:
                domain = EMAIL_DOMAIN if default else OUTREACH_DOMAIN
                self._add_email_account(
                    self.users[user_index]["id"], f"{local_part}@{domain}", default, created_ms
                )
            for name, num_steps, active, archived, owner_index in SEQUENCE_SPECS:
                self._add_sequence(
                    name, num_steps, active, archived, self.users[owner_index]["id"], created_ms
                )
            self._labels_for(LABEL_NAMES)
            for label, field_type, options in CUSTOM_FIELD_SPECS:
                self._add_field(label, field_type, options, created_ms)

    # ----------------------------------------------------------------- state for tests

    @property
    def email_accounts(self) -> list[dict[str, Any]]:
        """The team's mailboxes as ``GET /email_accounts`` lists them."""
        with self._lock:
            return [self._render_email_account(account) for account in self._email_accounts.values()]

    @property
    def sequences(self) -> list[dict[str, Any]]:
        """The team's sequences (``emailer_campaigns``) with their current counters."""
        with self._lock:
            return [self._render_sequence(sequence_id) for sequence_id in self._sequences]

    @property
    def fields(self) -> list[dict[str, Any]]:
        """The team's custom contact fields as ``GET /fields?source=custom`` lists them."""
        with self._lock:
            return [dict(field) for field in self._custom_fields.values()]

    def add_user(
        self,
        first_name: str,
        last_name: str,
        *,
        email: str | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Add a team member (a possible contact owner) with a default mailbox; returns the user."""
        with self._lock:
            email = email or f"{first_name}.{last_name}@{EMAIL_DOMAIN}".lower()
            if any(user["email"].lower() == email.lower() for user in self.users):
                raise ValueError(f"a user with email {email!r} already exists")
            user_id = self._users_factory.next()
            user: dict[str, Any] = {
                **{key: None for key in self.users[0]},
                "id": user_id,
                "team_id": self.team_id,
                "first_name": first_name,
                "last_name": last_name,
                "name": f"{first_name} {last_name}",
                "title": title,
                "email": email,
                "created_at": iso_ms(self._stamp()),
                "deleted": False,
                "credit_limit": 10000,
            }
            self.users.append(user)
            self._user_ids.add(user_id)
            self._add_email_account(user_id, email, True, self._stamp())
            return dict(user)

    def add_email_account(self, user_id: str, email: str, *, default: bool = False) -> dict[str, Any]:
        """Add a mailbox for ``user_id``; returns it."""
        with self._lock:
            if user_id not in self._user_ids:
                raise ValueError(f"unknown user id {user_id!r}")
            return self._render_email_account(self._add_email_account(user_id, email, default, self._stamp()))

    def add_sequence(
        self,
        name: str,
        *,
        num_steps: int = 3,
        active: bool = True,
        archived: bool = False,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a sequence; returns it as the search endpoint shows it."""
        if num_steps < 1:
            raise ValueError("num_steps must be at least 1")
        with self._lock:
            owner = user_id or self.users[0]["id"]
            if owner not in self._user_ids:
                raise ValueError(f"unknown user id {owner!r}")
            sequence_id = self._add_sequence(name, num_steps, active, archived, owner, self._stamp())
            return self._render_sequence(sequence_id)

    def add_label(self, name: str) -> dict[str, Any]:
        """Add a contact list (or return the existing one of that name)."""
        with self._lock:
            [label_id] = self._labels_for([name])
            return dict(self._labels[label_id])

    def add_field(
        self, label: str, field_type: str = "string", *, options: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Add a custom contact field (``options`` for a picklist); returns it as ``GET /fields`` shows it."""
        if field_type not in CUSTOM_FIELD_TYPES:
            raise ValueError(f"unknown field type {field_type!r}; use one of {', '.join(CUSTOM_FIELD_TYPES)}")
        options = tuple(options)
        if field_type in ("picklist", "multipicklist") and not options:
            raise ValueError("a picklist field needs options")
        with self._lock:
            if any(field["label"].lower() == label.lower() for field in self._custom_fields.values()):
                raise ValueError(f"a custom field labelled {label!r} already exists")
            return dict(self._add_field(label, field_type, options, self._stamp()))

    def sequence_id(self, name_or_id: str) -> str:
        """Resolve a sequence name (case-insensitive) or id to the id; ValueError names the known ones."""
        with self._lock:
            if name_or_id in self._sequences:
                return name_or_id
            for sequence_id, sequence in self._sequences.items():
                if sequence["name"].lower() == name_or_id.strip().lower():
                    return sequence_id
            known = ", ".join(sequence["name"] for sequence in self._sequences.values())
        raise ValueError(f"unknown sequence {name_or_id!r}; known sequences: {known}")

    def email_account_id(self, email: str) -> str:
        """The id of the mailbox with this address; ValueError names the known ones."""
        with self._lock:
            for account in self._email_accounts.values():
                if account["email"].lower() == email.strip().lower():
                    return str(account["id"])
            known = ", ".join(account["email"] for account in self._email_accounts.values())
        raise ValueError(f"unknown mailbox {email!r}; known mailboxes: {known}")

    def field_id(self, label: str) -> str:
        """The bare id (the ``typed_custom_fields`` key) of the custom field with this label."""
        with self._lock:
            for field_id, field in self._custom_fields.items():
                if field["label"].lower() == label.strip().lower():
                    return field_id
            known = ", ".join(field["label"] for field in self._custom_fields.values())
        raise ValueError(f"unknown custom field {label!r}; known fields: {known}")

    def picklist_option_id(self, label: str, option: str) -> str:
        """The id of one option of a picklist field, both given by their text."""
        field_id = self.field_id(label)
        with self._lock:
            for value in self._custom_fields[field_id].get("picklist_values", []):
                if value["name"].lower() == option.strip().lower():
                    return str(value["id"])
        raise ValueError(f"custom field {label!r} has no option {option!r}")

    def unsubscribe_contacts(self, contact_ids: str | Iterable[str]) -> None:
        """Mark live contacts as unsubscribed from email (they are then never enrolled in a sequence)."""
        ids = [contact_ids] if isinstance(contact_ids, str) else list(contact_ids)
        with self._lock:
            records = [self._require_live(contact_id) for contact_id in ids]
            for record in records:
                record.email_unsubscribed = True
                record.updated_ms = self._stamp()
            self._version += 1

    def reply_in_sequence(
        self,
        contact_ids: str | Iterable[str] | dict[str, str],
        sequence: str,
        reply_class: str = "willing_to_meet",
    ) -> None:
        """
        Contacts in ``sequence`` (name or id) reply now to the latest email it sent them.

        The reply is recorded on that outreach email with its ``reply_class`` (Apollo's classes);
        the membership then follows the sequence's settings (``mark_finished_if_reply``,
        ``mark_paused_if_ooo``). ``contact_ids`` may map each id to its own class; all reply at once.
        """
        if isinstance(contact_ids, dict):
            classes = dict(contact_ids)
        else:
            ids = [contact_ids] if isinstance(contact_ids, str) else list(contact_ids)
            classes = dict.fromkeys(ids, reply_class)
        for value in classes.values():
            if value not in REPLY_CLASSES:
                raise ValueError(f"unknown reply class {value!r}; Apollo's: {', '.join(REPLY_CLASSES)}")
        sequence_id = self.sequence_id(sequence)
        with self._lock:
            records = [self._require_live(contact_id) for contact_id in classes]
            now_ms = self._now_ms()
            for record in records:
                enrollment = (record.enrollments or {}).get(sequence_id)
                if enrollment is None:
                    raise ValueError(f"contact {record.id} is not in sequence {sequence!r}")
                # An enrollment stamped this very millisecond has sent its first email.
                now_ms = max(now_ms, enrollment.started_ms or 0)
                enrollment.settle(now_ms)
                if not enrollment.sent_ms:
                    raise ValueError(f"sequence {sequence!r} has sent contact {record.id} no email yet")
            for record in records:
                enrollment = (record.enrollments or {})[sequence_id]
                enrollment.reply(now_ms, len(enrollment.sent_ms), classes[record.id])
                record.updated_ms = self._stamp()
            self._version += 1

    def set_sequence_settings(self, sequence: str, **settings: bool) -> None:
        """Change a sequence's reply settings (``mark_finished_if_reply``, ``mark_paused_if_ooo``) for new members."""
        allowed = ("mark_finished_if_reply", "mark_paused_if_ooo")
        sequence_id = self.sequence_id(sequence)
        with self._lock:
            for name, value in settings.items():
                if name not in allowed:
                    raise ValueError(f"unknown setting {name!r}; known: {', '.join(allowed)}")
                self._sequences[sequence_id][name] = bool(value)

    def sequence_statuses(self, contact_id: str) -> dict[str, dict[str, Any]]:
        """``{sequence id: contact_campaign_status}`` of one live contact, as the API renders them now."""
        with self._lock:
            record = self._require_live(contact_id)
            now_ms = self._now_ms()
            return {
                sequence_id: enrollment.render(now_ms)
                for sequence_id, enrollment in (record.enrollments or {}).items()
            }

    # ----------------------------------------------------------------- internal

    def _now_ms(self) -> int:
        return int(time.time() * 1000)

    def _require_master_key(self, endpoint: str) -> None:
        if not self.master_key:
            raise ApiError(
                403,
                {"error": MSG_NOT_AUTHORIZED.format(endpoint=endpoint), "error_code": "API_INACCESSIBLE"},
            )

    def _add_email_account(self, user_id: str, email: str, default: bool, created_ms: int) -> dict[str, Any]:
        if any(account["email"].lower() == email.lower() for account in self._email_accounts.values()):
            raise ValueError(f"a mailbox {email!r} already exists")
        account = email_account_object(
            self._email_account_ids.next(), user_id, email, default=default, created_ms=created_ms
        )
        self._email_accounts[account["id"]] = account
        return account

    def _render_email_account(self, account: dict[str, Any]) -> dict[str, Any]:
        rendered = dict(account)
        rendered["aliases"] = list(account["aliases"])
        rendered["active_campaigns_count"] = sum(
            1
            for sequence_id, members in self._members.items()
            if self._sequences[sequence_id]["active"]
            and any(e.email_account_id == account["id"] for e in members.values())
        )
        return rendered

    def _add_sequence(
        self,
        name: str,
        num_steps: int,
        active: bool,
        archived: bool,
        user_id: str,
        created_ms: int,
    ) -> str:
        sequence_id = self._sequence_ids.next()
        self._sequences[sequence_id] = sequence_object(
            sequence_id,
            name,
            user_id=user_id,
            schedule_id=self.emailer_schedule_id,
            num_steps=num_steps,
            active=active and not archived,
            archived=archived,
            created_ms=created_ms,
        )
        self._sequence_steps[sequence_id] = sequence_step_objects(sequence_id, self._step_ids, num_steps)
        self._members[sequence_id] = {}
        return sequence_id

    def _add_field(
        self, label: str, field_type: str, options: Iterable[str], created_ms: int
    ) -> dict[str, Any]:
        field_id = self._field_ids.next()
        option_objects = [{"id": self._option_ids.next(), "name": name} for name in options]
        field = custom_field_object(field_id, label, field_type, option_objects, created_ms)
        self._custom_fields[field_id] = field
        return field

    def _sequence_counters(self, sequence_id: str) -> dict[str, int]:
        now_ms = self._now_ms()
        counts = {"active": 0, "paused": 0, "finished": 0, "failed": 0, "bounced": 0, "replied": 0}
        for enrollment in self._members[sequence_id].values():
            enrollment.settle(now_ms)
            counts[enrollment.status] += 1
            counts["bounced"] += enrollment.bounced
            counts["replied"] += enrollment.replied
        return counts

    def _render_sequence(self, sequence_id: str) -> dict[str, Any]:
        sequence = dict(self._sequences[sequence_id])
        counts = self._sequence_counters(sequence_id)
        total = len(self._members[sequence_id])
        # Every member that left the paused state has had at least its first email delivered (or bounced).
        started = sum(
            1
            for e in self._members[sequence_id].values()
            if e.status != "paused" or e.finished_ms is not None
        )
        delivered = started - counts["bounced"]
        sequence.update(
            {
                "unique_scheduled": counts["active"],
                "unique_delivered": delivered,
                "unique_bounced": counts["bounced"],
                "unique_opened": counts["replied"],
                "unique_hard_bounced": 0,
                "unique_spam_blocked": 0,
                "unique_replied": counts["replied"],
                "unique_demoed": 0,
                "unique_clicked": 0,
                "unique_unsubscribed": 0,
                # Whole percentages: the search schema types the rates as integers.
                "bounce_rate": round(100 * counts["bounced"] / started) if started else 0,
                "hard_bounce_rate": 0,
                "open_rate": round(100 * counts["replied"] / delivered) if delivered else 0,
                "click_rate": 0,
                "reply_rate": round(100 * counts["replied"] / delivered) if delivered else 0,
                "spam_block_rate": 0,
                "opt_out_rate": 0,
                "demo_rate": 0,
                "num_contacts": total,
                "contact_statuses": {
                    "active": counts["active"],
                    "paused": counts["paused"],
                    "finished": counts["finished"],
                    "failed": counts["failed"],
                    "bounced": counts["bounced"],
                },
            }
        )
        return sequence

    def _render_steps(self, sequence_id: str) -> list[dict[str, Any]]:
        now_ms = self._now_ms()
        steps = [dict(step) for step in self._sequence_steps[sequence_id]]
        for step in steps:
            step["counts"] = {"active": 0, "paused": 0, "finished": 0, "bounced": 0}
        for enrollment in self._members[sequence_id].values():
            position = enrollment.current_position(now_ms)
            if position is not None:
                steps[position - 1]["counts"]["active"] += 1
        return steps

    def _require_sequence(self, sequence_id: str) -> dict[str, Any]:
        sequence = self._sequences.get(sequence_id)
        if sequence is None:
            raise ApiError(422, {"error": _invalid_id(sequence_id)})
        return sequence

    def _normalize_custom_fields(self, values: Any) -> dict[str, Any]:
        """Check ``typed_custom_fields`` against the known fields and key them by bare id (422 otherwise).

        Values of fields the emulator does not know are kept as given (Apollo's handling of unknown ids is
        not documented).
        """
        if values is None:
            return {}
        if not isinstance(values, dict):
            raise ApiError(422, {"error": "Parameters misconfigured. typed_custom_fields must be an object"})
        normalized: dict[str, Any] = {}
        for key, value in values.items():
            field_id = _bare_field_id(str(key))
            field = self._custom_fields.get(field_id)
            normalized[field_id] = value if field is None else self._check_field_value(field, value)
        return normalized

    def _check_field_value(self, field: dict[str, Any], value: Any) -> Any:
        if value is None or value == "":
            return None
        field_type, label = field["type"], field["label"]

        def invalid(kind: str) -> ApiError:
            return ApiError(
                422,
                {
                    "error": f"Parameters misconfigured. {value!r} is not a valid {kind} for the custom field "
                    f"{label} ({field['id']})"
                },
            )

        if field_type in ("picklist", "multipicklist"):
            option_ids = {option["id"] for option in field["picklist_values"]}
            chosen = value if isinstance(value, list) and field_type == "multipicklist" else [value]
            if not all(isinstance(item, str) and item in option_ids for item in chosen):
                raise invalid("picklist option id")
            return value
        if field_type == "number":
            if isinstance(value, bool):
                raise invalid("number")
            if isinstance(value, int | float):
                return value
            try:
                number = float(str(value))
            except ValueError:
                raise invalid("number") from None
            if not math.isfinite(number):
                raise invalid("number")
            return int(number) if number.is_integer() else number
        if field_type == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).strip().lower() in ("true", "false"):
                return str(value).strip().lower() == "true"
            raise invalid("boolean")
        if field_type in ("date", "datetime"):
            if isinstance(value, str) and _DATE_RE.match(value.strip()):
                return value.strip()
            raise invalid(field_type)
        if isinstance(value, dict | list):
            raise invalid("text")
        return str(value)

    def _label_count(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for modality in LIST_MODALITIES:
            for record in self._list_members(modality).values():
                for label_id in record.label_ids:
                    counts[label_id] = counts.get(label_id, 0) + 1
        return counts

    def _label_with_count(self, label_id: str, counts: dict[str, int]) -> dict[str, Any]:
        return {**self._labels[label_id], "cached_count": counts.get(label_id, 0), "book_of_business": None}

    def _enrollment_outcomes(self, sequence_id: str, contact_ids: list[str]) -> dict[str, str]:
        """Each new member's fate: the lowest scores reply, the next ones bounce, the rest finish."""
        scores = {cid: stable_fraction(self.seed, f"sequence:{sequence_id}:{cid}") for cid in contact_ids}
        reply_below = self.sequence_reply_fraction
        bounce_below = reply_below + self.sequence_bounce_fraction
        outcomes = {
            cid: OUTCOME_REPLY
            if score < reply_below
            else OUTCOME_BOUNCE
            if score < bounce_below
            else OUTCOME_FINISH
            for cid, score in scores.items()
        }
        if contact_ids and reply_below > 0 and OUTCOME_REPLY not in outcomes.values():
            # Like the stage replies: a demo with a handful of contacts always sees someone reply.
            outcomes[min(contact_ids, key=scores.__getitem__)] = OUTCOME_REPLY
        return outcomes

    def _reply_classes_for(self, sequence_id: str, repliers: list[str]) -> dict[str, str]:
        """Each replier's class: ``sequence_reply_classes`` in turn, or a deterministic draw from a realistic mix."""
        if self.sequence_reply_classes is not None:
            cycle = self.sequence_reply_classes
            return {cid: cycle[index % len(cycle)] for index, cid in enumerate(repliers)}
        chosen = {}
        for cid in repliers:
            draw = stable_fraction(self.seed, f"reply_class:{sequence_id}:{cid}")
            for name, share in DEFAULT_REPLY_CLASS_SHARES:
                chosen[cid] = name
                draw -= share
                if draw < 0:
                    break
        return chosen

    def _skip_reason(
        self,
        record: ContactRecord | None,
        sequence_id: str,
        flags: dict[str, bool],
        now_ms: int,
    ) -> str | None:
        if record is None:
            return SKIP_NOT_FOUND
        memberships = record.enrollments or {}
        for enrollment in memberships.values():
            enrollment.settle(now_ms)
        if sequence_id in memberships:
            return SKIP_ALREADY_IN_SEQUENCE
        if not record.email and not flags["sequence_no_email"]:
            return SKIP_NO_EMAIL
        if record.email_unsubscribed:
            return SKIP_UNSUBSCRIBED
        if any(enrollment.bounced for enrollment in memberships.values()):
            return SKIP_BOUNCED
        if (
            record.email
            and record.email_status != "verified"
            and not (flags["sequence_unverified_email"] or flags["contact_verification_skipped"])
        ):
            return SKIP_UNVERIFIED_EMAIL
        others = [enrollment for enrollment in memberships.values()]
        if (
            any(e.status in ("active", "paused") for e in others)
            and not flags["sequence_active_in_other_campaigns"]
        ):
            return SKIP_ACTIVE_ELSEWHERE
        if any(e.status == "finished" for e in others) and not flags["sequence_finished_in_other_campaigns"]:
            return SKIP_FINISHED_ELSEWHERE
        return None

    # ----------------------------------------------------------------- endpoints: users and mailboxes

    def api_users_search(self, request: EmulatedRequest) -> tuple[int, Any]:
        self._require_master_key("api/v1/users/search")
        page, per_page = _page_args(request, USERS_DEFAULT_PER_PAGE)
        tokens = keyword_tokens(_text(request.value("q_keywords")) or "")
        with self._lock:
            users = [
                user
                for user in self.users
                if all(
                    token in " ".join(str(user.get(key) or "") for key in ("name", "email", "title")).lower()
                    for token in tokens
                )
            ]
            start = (page - 1) * per_page
            return 200, {
                # Apollo sends the users search's page numbers as strings.
                "pagination": {
                    "page": str(page),
                    "per_page": str(per_page),
                    "total_entries": len(users),
                    "total_pages": math.ceil(len(users) / per_page),
                },
                "users": [dict(user) for user in users[start : start + per_page]],
                "num_fetch_result": None,
            }

    def api_users_profile(self, request: EmulatedRequest) -> tuple[int, Any]:
        owner = self.users[0]
        return 200, {
            key: owner[key] for key in ("id", "team_id", "first_name", "last_name", "title", "email")
        }

    def api_email_accounts(self, request: EmulatedRequest) -> tuple[int, Any]:
        return 200, {"email_accounts": self.email_accounts}

    # ----------------------------------------------------------------- endpoints: sequences

    def api_sequences_search(self, request: EmulatedRequest) -> tuple[int, Any]:
        page, per_page = _page_args(request, SEQUENCES_DEFAULT_PER_PAGE)
        q_name = _text(request.value("q_name"))
        with self._lock:
            ids = [
                sequence_id
                for sequence_id, sequence in self._sequences.items()
                if q_name is None or q_name.lower() in sequence["name"].lower()
            ]
            start = (page - 1) * per_page
            campaigns = [self._render_sequence(sequence_id) for sequence_id in ids[start : start + per_page]]
        breadcrumbs = []
        if q_name:
            breadcrumbs.append(
                {"label": "Name", "signal_field_name": "q_name", "value": q_name, "display_name": q_name}
            )
        return 200, {
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total_entries": len(ids),
                "total_pages": math.ceil(len(ids) / per_page),
            },
            "breadcrumbs": breadcrumbs,
            "emailer_campaigns": campaigns,
            "num_fetch_result": None,
        }

    def api_add_contact_ids(self, request: EmulatedRequest) -> tuple[int, Any]:
        self._require_master_key("api/v1/emailer_campaigns/add_contact_ids")
        sequence_id = request.path_params["sequence_id"]
        named = _text(request.value("emailer_campaign_id"))
        if named is not None and named != sequence_id:
            raise ApiError(
                422,
                {"error": f"Parameters misconfigured. emailer_campaign_id {named} does not match the path"},
            )
        account_ids = request.values("send_email_from_email_account_id")
        contact_ids = _dedupe_ids(request.values("contact_ids"))
        label_names = request.values("label_names", split_commas=False)
        flags = {
            name: _truthy(request.value(name))
            for name in (
                "sequence_no_email",
                "sequence_unverified_email",
                "sequence_job_change",
                "sequence_active_in_other_campaigns",
                "sequence_finished_in_other_campaigns",
                "sequence_same_company_in_same_campaign",
                "contacts_without_ownership_permission",
                "add_if_in_queue",
                "contact_verification_skipped",
            )
        }
        status = _text(request.value("status")) or "active"
        if status not in ("active", "paused"):
            raise ApiError(
                422, {"error": f"Parameters misconfigured. status must be active or paused, not {status}"}
            )
        auto_unpause_ms = self._parse_time_ms(request.value("auto_unpause_at"), "auto_unpause_at")
        with self._lock:
            sequence = self._require_sequence(sequence_id)
            if not account_ids:
                raise ApiError(
                    422, {"error": "Parameters misconfigured. send_email_from_email_account_id is required"}
                )
            for account_id in account_ids:
                if account_id not in self._email_accounts:
                    raise ApiError(422, {"error": _invalid_id(account_id)})
            if not contact_ids and not label_names:
                raise ApiError(422, {"error": "Parameters misconfigured. Provide contact_ids or label_names"})
            if sequence["archived"]:
                raise ApiError(422, {"error": "Contacts cannot be added to an archived sequence."})
            adder = _text(request.value("user_id")) or self.users[0]["id"]
            if adder not in self._user_ids:
                raise ApiError(422, {"error": _invalid_id(adder)})
            if label_names:
                wanted = {
                    self._label_by_name[name.lower()]
                    for name in label_names
                    if name.lower() in self._label_by_name
                }
                contact_ids = _dedupe_ids(
                    contact_ids + [r.id for r in self._live.values() if not wanted.isdisjoint(r.label_ids)]
                )
            now_ms = self._now_ms()
            skipped: dict[str, str] = {}
            accepted: list[ContactRecord] = []
            for contact_id in contact_ids:
                record = self._live.get(contact_id)
                reason = self._skip_reason(record, sequence_id, flags, now_ms)
                if reason is not None:
                    skipped[contact_id] = reason
                elif record is not None:
                    accepted.append(record)
            outcomes = self._enrollment_outcomes(sequence_id, [record.id for record in accepted])
            reply_classes = self._reply_classes_for(
                sequence_id, [cid for cid in outcomes if outcomes[cid] == OUTCOME_REPLY]
            )
            steps = [step["id"] for step in self._sequence_steps[sequence_id]]
            step_ms = (
                None
                if self.sequence_step_seconds is None
                else max(int(self.sequence_step_seconds * self.rate_limiter.time_scale * 1000), 1)
            )
            sender_address = _text(request.value("send_email_from_email_address"))
            added_ms = self._stamp()
            for index, record in enumerate(accepted):
                # Several mailboxes take turns (Apollo's mailbox rotation).
                account = self._email_accounts[account_ids[index % len(account_ids)]]
                outcome = outcomes[record.id]
                reply_step = self.sequence_reply_step or 1 + int(
                    stable_fraction(self.seed, f"step:{sequence_id}:{record.id}") * len(steps)
                )
                enrollment = Enrollment(
                    self._enrollment_ids.next(),
                    record.id,
                    sequence_id,
                    email_account_id=account["id"],
                    email_address=sender_address or account["email"],
                    sender_user_id=account["user_id"],
                    added_by_user_id=adder,
                    added_ms=added_ms,
                    step_ids=steps,
                    step_ms=step_ms,
                    outcome=outcome,
                    outcome_step={OUTCOME_REPLY: reply_step, OUTCOME_BOUNCE: 1}.get(outcome, len(steps)),
                    message_ids=[self._message_ids.next() for _ in steps],
                    reply_class=reply_classes.get(record.id, "willing_to_meet"),
                    finish_on_reply=bool(sequence.get("mark_finished_if_reply")),
                    pause_on_ooo=bool(sequence.get("mark_paused_if_ooo")),
                )
                if not sequence["active"]:
                    enrollment.pause(added_ms, REASON_SEQUENCE_INACTIVE)
                elif status == "paused":
                    enrollment.pause(added_ms, REASON_PAUSED, auto_unpause_ms=auto_unpause_ms)
                if record.enrollments is None:
                    record.enrollments = {}
                record.enrollments[sequence_id] = enrollment
                self._members[sequence_id][record.id] = enrollment
                record.updated_ms = self._stamp()
            self._version += 1
            return 200, {
                "contacts": [record.render() for record in accepted],
                "skipped_contact_ids": skipped,
                "emailer_campaign": self._render_sequence(sequence_id),
                "emailer_steps": self._render_steps(sequence_id),
                "emailer_touches": [],
                "team": {"id": self.team_id, "sequences_finder_empty": False},
                "signals_hash": {},
            }

    def _parse_time_ms(self, value: Any, name: str) -> int | None:
        text = _text(value)
        if text is None:
            return None
        from datetime import datetime

        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(
                422, {"error": f"Parameters misconfigured. {name} is not a valid date-time"}
            ) from None
        return int(moment.timestamp() * 1000)

    def api_remove_or_stop_contact_ids(self, request: EmulatedRequest) -> tuple[int, Any]:
        sequence_ids = _dedupe_ids(request.values("emailer_campaign_ids"))
        contact_ids = _dedupe_ids(request.values("contact_ids"))
        mode = _text(request.value("mode"))
        if not sequence_ids or not contact_ids or mode is None:
            raise ApiError(
                422,
                {
                    "error": "Parameters misconfigured. emailer_campaign_ids, contact_ids and mode are required"
                },
            )
        if mode not in SEQUENCE_MODES:
            raise ApiError(
                422, {"error": f"Parameters misconfigured. mode must be one of {', '.join(SEQUENCE_MODES)}"}
            )
        stop_reason = _text(request.value("stop_reason")) or REASON_MANUALLY_STOPPED
        with self._lock:
            for sequence_id in sequence_ids:
                self._require_sequence(sequence_id)
            now_ms = self._stamp()
            records = [self._live[cid] for cid in contact_ids if cid in self._live]
            for record in records:
                changed = False
                for sequence_id in sequence_ids:
                    enrollment = (record.enrollments or {}).get(sequence_id)
                    if enrollment is None or record.enrollments is None:
                        continue
                    enrollment.settle(now_ms)
                    changed = True
                    if mode == "remove":
                        del record.enrollments[sequence_id]
                        del self._members[sequence_id][record.id]
                        enrollment._event("removed", now_ms)
                        self._former_members.append(enrollment)
                    elif enrollment.status in ("active", "paused"):
                        if mode == "mark_as_finished":
                            enrollment.finish(now_ms, REASON_MANUALLY_FINISHED)
                        else:
                            enrollment.pause(now_ms, stop_reason)
                if changed:
                    record.updated_ms = self._stamp()
            self._version += 1
            first = sequence_ids[0]
            return 200, {
                "contacts": [record.render() for record in records],
                "emailer_campaigns": [self._render_sequence(sequence_id) for sequence_id in sequence_ids],
                "num_contacts": len(records),
                "contact_statuses": self._render_sequence(first)["contact_statuses"],
                "emailer_steps": [step for sid in sequence_ids for step in self._render_steps(sid)],
            }

    def api_approve_sequence(self, request: EmulatedRequest) -> tuple[int, Any]:
        sequence_id = request.path_params["sequence_id"]
        with self._lock:
            sequence = self._require_sequence(sequence_id)
            if sequence["archived"]:
                raise ApiError(422, {"error": "An archived sequence cannot be activated."})
            sequence["active"] = True
            now_ms = self._stamp()
            for enrollment in self._members[sequence_id].values():
                if enrollment.status == "paused" and enrollment.inactive_reason == REASON_SEQUENCE_INACTIVE:
                    enrollment.resume(now_ms)
            self._version += 1
            return 200, {
                "emailer_campaign": self._render_sequence(sequence_id),
                "emailer_steps": self._render_steps(sequence_id),
            }

    def api_abort_sequence(self, request: EmulatedRequest) -> tuple[int, Any]:
        sequence_id = request.path_params["sequence_id"]
        with self._lock:
            sequence = self._require_sequence(sequence_id)
            sequence["active"] = False
            now_ms = self._stamp()
            for enrollment in self._members[sequence_id].values():
                enrollment.settle(now_ms)
                if enrollment.status == "active":
                    enrollment.pause(now_ms, REASON_SEQUENCE_INACTIVE)
            self._version += 1
            return 200, {
                "emailer_campaign": self._render_sequence(sequence_id),
                "emailer_steps": self._render_steps(sequence_id),
            }

    def api_archive_sequence(self, request: EmulatedRequest) -> tuple[int, Any]:
        sequence_id = request.path_params["sequence_id"]
        with self._lock:
            sequence = self._require_sequence(sequence_id)
            sequence["active"] = False
            sequence["archived"] = True
            now_ms = self._stamp()
            for enrollment in self._members[sequence_id].values():
                enrollment.settle(now_ms)
                if enrollment.status in ("active", "paused"):
                    enrollment.finish(now_ms, REASON_SEQUENCE_ARCHIVED)
            self._version += 1
            return 200, {"emailer_campaign": self._render_sequence(sequence_id)}

    # ----------------------------------------------------------------- endpoints: outreach emails

    def _all_enrollments(self, sequence_ids: list[str] | None) -> list[Enrollment]:
        """Current and removed memberships (a removed contact's sent emails stay), of some sequences or all."""
        chosen = list(self._members) if sequence_ids is None else sequence_ids
        found = [e for sid in chosen if sid in self._members for e in self._members[sid].values()]
        found += [e for e in self._former_members if sequence_ids is None or e.sequence_id in sequence_ids]
        return found

    def _render_message(self, enrollment: Enrollment, message: dict[str, Any]) -> dict[str, Any]:
        """An outreach email as the reference's example of GET /emailer_messages/search shows one."""
        record = self._live.get(enrollment.contact_id)
        sequence = self._sequences[enrollment.sequence_id]
        name = record.name if record is not None else None
        to_email = record.email if record is not None else None
        sent = iso_ms(message["sent_ms"])
        return {
            "id": message["id"],
            "user_id": enrollment.sender_user_id,
            "status": "completed",
            "time_zone": "America/Los_Angeles",
            "provider_message_id": None,
            "to_name": name,
            "due_at": sent,
            "completed_at": sent,
            "emailer_touch_id": None,
            "emailer_campaign_id": enrollment.sequence_id,
            "emailer_step_id": message["step_id"],
            "failed_at": None,
            "failure_reason": None,
            "attachment_ids": [],
            "enable_tracking": True,
            "type": "outreach_automatic_email",
            "contact_id": enrollment.contact_id,
            "provider_thread_id": None,
            "schedule_delayed_reason": None,
            "demoed": None,
            "email_account_id": enrollment.email_account_id,
            "due_at_manually_changed": False,
            "not_sent_reason": None,
            "bounce": True if message["bounced"] else None,
            "spam_blocked": None,
            "tracking_disabled_reason": None,
            "created_at": sent,
            "async_sending": True,
            "due_at_source": None,
            "crm_id": None,
            "replied": True if message["reply_class"] else None,
            "needs_dynamic_assemble": False,
            "personalized_opener": None,
            "reply_class": message["reply_class"],
            "schedule_delayed_limit_reason": None,
            "schedule_delayed_reason_details": None,
            "sensitive_info_redacted": None,
            "account_id": record.account_id if record is not None else None,
            "recipients": [
                {
                    "email": to_email,
                    "raw_name": name,
                    "recipient_type_cd": "to",
                    "contact_id": enrollment.contact_id,
                    "user_id": None,
                }
            ],
            "send_from": {
                "email": enrollment.email_address,
                "raw_name": None,
                "recipient_type_cd": None,
                "contact_id": None,
                "user_id": None,
            },
            "from_email": enrollment.email_address,
            "to_email": to_email,
            "from_name": None,
            "bcc_emails": [],
            "cc_emails": [],
            "send_from_info": f"{enrollment.email_account_id}***{enrollment.email_address}",
            "body_text": f"Step {message['position']} of {sequence['name']}",
            "body_html": f"<html><body><div>Step {message['position']} of {sequence['name']}</div></body></html>",
            "body_html_loaded": True,
            "appendment_html": "",
            "appendment_html_loaded": True,
            "subject": f"{sequence['name']} ({message['position']})",
            "campaign_name": sequence["name"],
            "campaign_max_emails_per_day": None,
            "campaign_position": message["position"],
            "step_max_emails_per_day": None,
        }

    @staticmethod
    def _message_stats(message: dict[str, Any]) -> set[str]:
        if message["bounced"]:
            return {"bounced"}
        # Delivered; a reply means it was opened (the emulator tracks no clicks or opens otherwise).
        return {"delivered", "opened"} if message["reply_class"] else {"delivered", "not_opened"}

    def api_search_messages(self, request: EmulatedRequest) -> tuple[int, Any]:
        """``GET /emailer_messages/search``: the filters as query-string arrays, newest email first."""
        raw_per_page = request.value("per_page")
        if raw_per_page is not None and _int_or(raw_per_page, 1) == 0:
            raise ApiError(422, {"error": MSG_PER_PAGE_ZERO})
        page, per_page = _page_args(request, MESSAGES_DEFAULT_PER_PAGE)
        if page * per_page > MESSAGES_DISPLAY_LIMIT:
            raise ApiError(422, {"error": MSG_PAGE_LIMIT})
        sequence_ids = _dedupe_ids(request.values("emailer_campaign_ids")) or None
        excluded = set(request.values("not_emailer_campaign_ids"))
        stats = set(request.values("emailer_message_stats"))
        classes = set(request.values("emailer_message_reply_classes"))
        user_ids = set(request.values("user_ids"))
        account = _text(request.value("email_account_id_and_aliases"))
        not_sent = set(request.values("not_sent_reason_cds"))
        keywords = (_text(request.value("q_keywords")) or "").casefold()
        mode = _text(request.value("emailer_message_date_range_mode"))
        low = _text(request.value("emailer_message_date_range[min]"))
        high = _text(request.value("emailer_message_date_range[max]"))
        with self._lock:
            now_ms = self._now_ms()
            found: list[tuple[int, str, dict[str, Any]]] = []
            for enrollment in self._all_enrollments(sequence_ids):
                if enrollment.sequence_id in excluded:
                    continue
                if user_ids and enrollment.sender_user_id not in user_ids:
                    continue
                if account and account not in (enrollment.email_account_id, enrollment.email_address):
                    continue
                for message in enrollment.messages(now_ms):
                    if stats and stats.isdisjoint(self._message_stats(message)):
                        continue
                    if classes and message["reply_class"] not in classes:
                        continue
                    if not_sent:  # every emulated email was sent
                        continue
                    day = iso_ms(message["sent_ms"])[:10]
                    if mode in ("due_at", "completed_at") and (
                        (low is not None and day < low) or (high is not None and day > high)
                    ):
                        continue
                    rendered = self._render_message(enrollment, message)
                    if keywords and not any(
                        keywords in str(rendered[key] or "").casefold()
                        for key in ("subject", "to_name", "to_email", "body_text", "from_email")
                    ):
                        continue
                    found.append((message["sent_ms"], message["id"], rendered))
            found.sort(key=lambda item: (-item[0], item[1]))
            chosen = [item[2] for item in found[(page - 1) * per_page : page * per_page]]
            step_ids = {m["emailer_step_id"] for m in chosen}
            steps = [
                {
                    key: step[key]
                    for key in (
                        "id",
                        "emailer_campaign_id",
                        "wait_time",
                        "wait_mode",
                        "max_emails_per_day",
                        "exact_datetime",
                        "auto_skip_in_x_days",
                        "position",
                    )
                }
                for sid in self._sequence_steps
                for step in self._sequence_steps[sid]
                if step["id"] in step_ids
            ]
            return 200, {
                "breadcrumbs": [],
                "emailer_messages": chosen,
                "emailer_steps": steps,
                "num_fetch_result": None,
            }

    def api_activity_feed(self, request: EmulatedRequest) -> tuple[int, Any]:
        """``POST /emailer_campaigns/activity_feed``: one contact's sequence timeline, newest first, at most 50."""
        contact_id = _text(request.value("contact_id"))
        if contact_id is None:
            raise ApiError(422, {"error": "Parameters misconfigured. contact_id is required"})
        sequence_id = _text(request.value("sequence_id"))
        limit = min(max(_int_or(request.value("per_page"), ACTIVITY_FEED_MAX), 1), ACTIVITY_FEED_MAX)
        with self._lock:
            record = self._live.get(contact_id)
            if record is None:
                raise ApiError(404, {"error": "Contact not found"})
            now_ms = self._now_ms()
            enrollments = [e for e in self._all_enrollments(None) if e.contact_id == contact_id]
            events: list[tuple[int, int, dict[str, Any]]] = []
            for enrollment in enrollments:
                if sequence_id is not None and enrollment.sequence_id != sequence_id:
                    continue
                enrollment.settle(now_ms)
                sequence = self._sequences.get(enrollment.sequence_id)
                for order, event in enumerate(enrollment.events):
                    rendered = {key: value for key, value in event.items() if key != "occurred_at_ms"}
                    rendered["occurred_at"] = iso_ms(event["occurred_at_ms"])
                    rendered["sequence_id"] = enrollment.sequence_id
                    if sequence is not None:
                        rendered["sequence_name"] = sequence["name"]
                    events.append((event["occurred_at_ms"], order, rendered))
            events.sort(key=lambda item: (item[0], item[1]), reverse=True)
            return 200, {"contact_id": contact_id, "events": [item[2] for item in events[:limit]]}

    # ----------------------------------------------------------------- endpoints: lists

    def api_list_labels(self, request: EmulatedRequest) -> tuple[int, Any]:
        with self._lock:
            counts = self._label_count()
            return 200, [
                full_label_object(label, self.team_id, counts.get(label_id, 0))
                for label_id, label in self._labels.items()
            ]

    def api_create_label(self, request: EmulatedRequest) -> tuple[int, Any]:
        name = _text(request.value("name"))
        modality = _text(request.value("modality"))
        if name is None:
            raise ApiError(422, {"error": "Please enter a non-empty name!"})
        if modality is None:
            raise ApiError(422, {"error": "Please enter a non-empty modality!"})
        if modality not in LIST_MODALITIES:
            raise ApiError(422, {"error": "Please enter a valid modality!"})
        index = self._account_label_by_name if modality == "accounts" else self._label_by_name
        with self._lock:
            # "List names must be unique for each modality within your team."
            if name.lower() in index:
                raise ApiError(422, {"error": f"{name} already exists", "skip_alert_dialog": True})
            [label_id] = self._labels_for([name], modality)
            return 200, {"label": self._label_with_count(label_id, {})}

    def _list_change(self, request: EmulatedRequest, *, add: bool) -> tuple[int, Any]:
        entity_ids = _dedupe_ids(request.values("entity_ids"))
        label_names = list(dict.fromkeys(request.values("label_names", split_commas=False)))
        modality = _text(request.value("modality"))
        if modality not in LIST_MODALITIES:
            raise ApiError(422, {"error": f"Invalid modality: {modality}."})
        index = self._account_label_by_name if modality == "accounts" else self._label_by_name
        with self._lock:
            members = self._list_members(modality)
            records = [members[entity_id] for entity_id in entity_ids if entity_id in members]
            if not records or not label_names:
                return 200, {"message": "No Models or Lists provided"}
            if add:
                # A list that does not exist yet is created, as Apollo does.
                label_ids = self._labels_for(label_names, modality)
            else:
                label_ids = tuple(index[name.lower()] for name in label_names if name.lower() in index)
            for record in records:
                if add:
                    updated = tuple(dict.fromkeys(record.label_ids + label_ids))
                else:
                    updated = tuple(label_id for label_id in record.label_ids if label_id not in label_ids)
                if updated != record.label_ids:
                    record.label_ids = updated
                    record.updated_ms = self._stamp()
            self._version += 1
            self._accounts_version += 1
            if _truthy(request.value("async")):
                return 200, {
                    "entity_progress_job": {
                        "id": self._job_ids.next(),
                        "user_id": self.users[0]["id"],
                        "job_type": "add_entities_to_labels" if add else "remove_entities_from_labels",
                        "entity_ids": [record.id for record in records],
                        "params": {"modality": modality, "label_names": label_names},
                        "progress": -1,
                        "batch_size": None,
                    }
                }
            counts = self._label_count()
            return 200, {"labels": [self._label_with_count(label_id, counts) for label_id in label_ids]}

    def api_add_to_labels(self, request: EmulatedRequest) -> tuple[int, Any]:
        return self._list_change(request, add=True)

    def api_remove_from_labels(self, request: EmulatedRequest) -> tuple[int, Any]:
        return self._list_change(request, add=False)

    # ----------------------------------------------------------------- endpoints: custom fields

    def api_list_fields(self, request: EmulatedRequest) -> tuple[int, Any]:
        source = _text(request.value("source"))
        with self._lock:
            fields = [dict(field) for field in self._system_fields] + [
                dict(field) for field in self._custom_fields.values()
            ]
        if source is not None:
            fields = [field for field in fields if field["source"] == source]
        return 200, {"fields": fields}

    def api_list_typed_custom_fields(self, request: EmulatedRequest) -> tuple[int, Any]:
        with self._lock:
            return 200, {
                "typed_custom_fields": [
                    {
                        "id": field_id,
                        "modality": "contact",
                        "name": field["label"],
                        "type": field["type"],
                        "picklist_options": [],
                        "picklist_values": [dict(value) for value in field.get("picklist_values", [])],
                        "mapped_crm_field": None,
                        "system_name": None,
                        "finder_view_ids": [],
                        "is_local": False,
                    }
                    for field_id, field in self._custom_fields.items()
                ]
            }

    # ----------------------------------------------------------------- endpoints: usage

    def api_usage_stats(self, request: EmulatedRequest) -> tuple[int, Any]:
        self._require_master_key("api/v1/usage_stats/api_usage_stats")
        limiter = self.rate_limiter
        stats: dict[str, dict[str, Any]] = {}
        # Read under the limiter's own lock: its windows are its private state.
        with limiter._lock:
            now = limiter._clock()
            for key, windows in limiter._windows.items():
                method, _, template = key.partition(" ")
                entry: dict[str, Any] = {}
                for spec in limiter.specs:
                    window = windows[spec.name]
                    expired = window.start is None or now >= window.start + spec.seconds * limiter.time_scale
                    consumed = 0 if expired else window.count
                    limit = limiter.limits[spec.name]
                    entry[spec.name] = {
                        "limit": limit,
                        "consumed": consumed,
                        "left_over": None if limit is None else max(limit - consumed, 0),
                    }
                stats[json.dumps(list(_controller_action(method, template)))] = {
                    name: entry[name] for name in ("day", "hour", "minute")
                }
        return 200, stats


def _controller_action(method: str, template: str) -> tuple[str, str]:
    """Apollo's usage-stats key for an endpoint: ``("api/v1/contacts", "search")``."""
    parts = template.split("/")
    # api/v1/<controller>[/{id}][/<action>]
    controller = "/".join(parts[:3])
    rest = [part for part in parts[3:] if not part.startswith("{")]
    if rest:
        return controller, rest[-1]
    if len(parts) > 3:
        return controller, {"GET": "show", "DELETE": "destroy"}.get(method, "update")
    return controller, {"GET": "index"}.get(method, "create")
