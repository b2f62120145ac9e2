"""The sequence-status check shared by the sensor and the trigger: decisions only, no I/O.

:func:`sequence_check` yields the requests one check sends and reads their answers, as
:func:`~airflow_provider_apollo.core.stage_check.stage_check` does for stages;
:func:`~airflow_provider_apollo.core.lifecycle.run_steps` drives it with the sync hook,
:func:`~airflow_provider_apollo.core.lifecycle.arun_steps` with the async hook.

Statuses come from what Apollo documents, and only from that:

- **Membership statuses** ``active``, ``paused``, ``finished``, ``failed``: the ``status`` of the
  contact's ``contact_campaign_statuses`` entry for the sequence (``GET /contacts/{id}``, one call a
  contact: no documented endpoint lists a sequence's memberships or filters contacts by sequence).
- **Outcomes read from the sequence's outreach emails** (``GET /emailer_messages/search`` filtered to
  the sequence, 100 a page): ``replied`` when a message to the contact carries a ``reply_class`` among
  the wanted classes (``emailer_message_reply_classes[]``), ``bounced`` and ``spam_blocked`` when a
  message has that stat (``emailer_message_stats[]``). Their cost is the pages of matching messages,
  whatever the number of contacts watched.

No meaning is read from ``inactive_reason`` or ``failure_reason``: Apollo documents no text for them.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_apollo.core.contacts import MISSING, read_contact
from airflow_provider_apollo.core.endpoints import (
    PATH_MESSAGE_SEARCH,
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    ApiRequest,
)
from airflow_provider_apollo.core.sequences import membership
from airflow_provider_apollo.core.stage_check import REQUIRE_ALL, REQUIRE_ANY
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloSearchCapError,
)

# A contact's documented statuses in a sequence (contact_campaign_statuses[].status).
MEMBERSHIP_STATUSES = ("active", "paused", "finished", "failed")
# Outcomes derived from the sequence's outreach emails, most specific first.
MESSAGE_STATUSES = ("replied", "bounced", "spam_blocked")
SEQUENCE_STATUSES = (*MESSAGE_STATUSES, *MEMBERSHIP_STATUSES)
# The emailer_message_stats[] value that finds each non-reply outcome, and the message field that
# can refuse it (only an explicit false: the reference does not say what it holds otherwise).
MESSAGE_STATS = {"bounced": "bounce", "spam_blocked": "spam_blocked"}
# Statuses earlier releases accepted that Apollo documents for neither a membership nor a message
# filter: refused with the reason.
RETIRED_STATUSES = {
    "hard_bounced": "Apollo records a hard bounce only as a failed membership's failure_reason and "
    "in sequence counters; wait for 'bounced' (from the emails) or 'failed' (the membership)",
    "not_sent": "Apollo documents no membership status or message stat 'not_sent'; a message's "
    "not_sent_reason is not a status",
}
# Apollo's classes of a reply (emailer_message_reply_classes[]), as its reference lists them.
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
MESSAGES_PER_PAGE = SEARCH_PER_PAGE_MAX
# emailer_messages/search serves at most 50,000 records (500 pages of 100), like the contact search.
MESSAGE_PAGE_LIMIT = SEARCH_RESULT_CAP // MESSAGES_PER_PAGE


def _listed(value: Any, argument: str, what: str) -> list[Any]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ApolloArgumentError(f"{argument} must be a non-empty list of {what}, got {value!r}.")
    return list(value)


def check_target_statuses(statuses: Any, argument: str = "target_statuses") -> list[str]:
    """Known sequence statuses (case-insensitive), or an error listing them."""
    checked = []
    for status in _listed(statuses, argument, "sequence statuses"):
        folded = status.strip().casefold() if isinstance(status, str) else status
        if folded in RETIRED_STATUSES:
            raise ApolloArgumentError(
                f"{argument}: {status!r} is not a sequence status Apollo documents: "
                f"{RETIRED_STATUSES[folded]}. Known: {', '.join(SEQUENCE_STATUSES)}."
            )
        if folded not in SEQUENCE_STATUSES:
            raise ApolloArgumentError(
                f"{argument}: unknown sequence status {status!r}. Known: {', '.join(SEQUENCE_STATUSES)}."
            )
        checked.append(folded)
    return list(dict.fromkeys(checked))


def check_reply_classes(classes: Any, argument: str = "reply_classes") -> list[str]:
    """Apollo's reply classes (case-insensitive), in the reference's order; ``None`` means every class."""
    if classes is None:
        return list(REPLY_CLASSES)
    wanted = set()
    for value in _listed(classes, argument, "Apollo reply classes"):
        folded = value.strip().casefold() if isinstance(value, str) else value
        if folded not in REPLY_CLASSES:
            raise ApolloArgumentError(
                f"{argument}: unknown reply class {value!r}. Apollo's classes: {', '.join(REPLY_CLASSES)}."
            )
        wanted.add(folded)
    return [name for name in REPLY_CLASSES if name in wanted]


def message_search_request(
    sequence_id: str,
    page: int,
    *,
    reply_classes: Sequence[str] = (),
    stats: Sequence[str] = (),
) -> ApiRequest:
    """``GET /emailer_messages/search`` for one sequence's emails, filters as query-string arrays."""
    params: list[tuple[str, str]] = [("emailer_campaign_ids[]", sequence_id)]
    params += [("emailer_message_reply_classes[]", name) for name in reply_classes]
    params += [("emailer_message_stats[]", name) for name in stats]
    params += [("page", str(page)), ("per_page", str(MESSAGES_PER_PAGE))]
    return ApiRequest("GET", PATH_MESSAGE_SEARCH, params=tuple(params), rate_group=PATH_MESSAGE_SEARCH)


def _last_page(body: Mapping[str, Any]) -> int | None:
    """``pagination.total_pages`` when Apollo sends it (its reference's example of this search has none)."""
    pagination = body.get("pagination")
    if isinstance(pagination, Mapping):
        try:
            return int(pagination.get("total_pages"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    return None


def outreach_messages(
    sequence_id: str, *, reply_classes: Sequence[str] = (), stats: Sequence[str] = ()
) -> Generator[ApiRequest, Any, tuple[list[dict[str, Any]], int]]:
    """
    Every message of the sequence matching the filters, each once; and the pages read.

    Stops at a page shorter than a full one (or at ``pagination.total_pages`` when Apollo sends it).
    A full last page at Apollo's 50,000-record display limit raises instead of missing messages.
    """
    messages: dict[str, dict[str, Any]] = {}
    page = 0
    while True:
        page += 1
        body = yield message_search_request(sequence_id, page, reply_classes=reply_classes, stats=stats)
        if not isinstance(body, Mapping) or not isinstance(body.get("emailer_messages"), list):
            raise ApolloApiError(
                "Apollo answered GET /emailer_messages/search without an 'emailer_messages' list", body=None
            )
        batch = [m for m in body["emailer_messages"] if isinstance(m, Mapping)]
        for index, message in enumerate(batch):
            # A message moved onto a later page while paging is counted once.
            key = str(message.get("id") or f"{page}:{index}")
            messages.setdefault(key, dict(message))
        last_page = _last_page(body)
        if len(batch) < MESSAGES_PER_PAGE or (last_page is not None and page >= last_page):
            return list(messages.values()), page
        if page >= MESSAGE_PAGE_LIMIT:
            raise ApolloSearchCapError(
                f"Sequence {sequence_id} has more than {SEARCH_RESULT_CAP:,} matching outreach emails, "
                "more than Apollo's emailer_messages/search serves for one query: the check cannot "
                "see them all. Narrow reply_classes or target_statuses.",
                total_entries=page * MESSAGES_PER_PAGE,
                cap=SEARCH_RESULT_CAP,
            )


def _sent_at(message: Mapping[str, Any]) -> datetime | None:
    for key in ("completed_at", "due_at", "created_at"):
        value = message.get(key)
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


def _latest_per_contact(
    messages: list[dict[str, Any]], sequence_id: str, watched: set[str], keep: Any
) -> dict[str, dict[str, Any]]:
    """For each watched contact, its latest message of this sequence that ``keep`` accepts."""
    latest: dict[str, tuple[tuple[int, float], dict[str, Any]]] = {}
    for order, message in enumerate(messages):
        contact_id = message.get("contact_id")
        campaign = message.get("emailer_campaign_id")
        if contact_id not in watched or (campaign is not None and campaign != sequence_id):
            continue
        if not keep(message):
            continue
        sent = _sent_at(message)
        rank = (1, sent.timestamp()) if sent is not None else (0, float(order))
        if contact_id not in latest or rank >= latest[contact_id][0]:
            latest[contact_id] = (rank, message)
    return {contact_id: message for contact_id, (_, message) in latest.items()}


@dataclass(frozen=True)
class SequenceCheckResult:
    """
    What one check found, in the order the contact ids were given.

    :param reached: for each target status, the ids that have it (each id once, under the first
        target it matches in :data:`SEQUENCE_STATUSES` order).
    :param missing: ids Apollo says do not exist (known only when memberships were read).
    :param not_enrolled: ids with no membership in the sequence (never enrolled, or removed; known
        only when memberships were read).
    :param waiting: the other ids.
    :param calls: requests the check sent.
    :param statuses: the membership status read for each contact whose membership was read.
    :param reply_classes: for each wanted reply class, the repliers reported under ``replied``
        whose latest reply Apollo classed so.
    """

    reached: dict[str, list[str]]
    missing: list[str]
    not_enrolled: list[str]
    waiting: list[str]
    calls: int
    statuses: dict[str, str] = field(default_factory=dict)
    reply_classes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def done(self) -> list[str]:
        return [contact_id for ids in self.reached.values() for contact_id in ids]

    @property
    def lost(self) -> list[str]:
        """The ids that can never reach a status: missing, then not in the sequence."""
        return [*self.missing, *self.not_enrolled]

    def is_done(self, require: str) -> bool:
        if require == REQUIRE_ANY:
            return bool(self.done)
        return not self.missing and not self.not_enrolled and not self.waiting

    def failed(self, require: str) -> bool:
        """True when waiting longer cannot succeed: missing or unenrolled contacts never reach a status."""
        lost = self.missing or self.not_enrolled
        if not lost:
            return False
        if require == REQUIRE_ANY:
            return not self.done and not self.waiting
        return True

    def xcom_value(self) -> dict[str, Any]:
        """The sensor's XCom value: ``{status: [ids], ..., "reply_classes": {class: [ids]}}``."""
        return {
            **{status: list(ids) for status, ids in self.reached.items()},
            "reply_classes": {name: list(ids) for name, ids in self.reply_classes.items()},
        }

    def summary(self) -> str:
        """One line for the logs: counts per status, then per reply class when anyone replied."""
        parts = [f"{len(ids)} {status}" for status, ids in self.reached.items()]
        classes = ", ".join(f"{len(ids)} {name}" for name, ids in self.reply_classes.items() if ids)
        return "; ".join(parts) + (f" (replies: {classes})" if classes else "")

    def lost_message(self, sequence: str) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} no longer exist in Apollo ({_shown(self.missing)})")
        if self.not_enrolled:
            parts.append(
                f"{len(self.not_enrolled)} are not in sequence {sequence} (never enrolled, or removed: "
                f"{_shown(self.not_enrolled)})"
            )
        return f"Watched contacts can never reach the target status: {'; '.join(parts)}."


def _shown(ids: list[str], limit: int = 20) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _is_reply_of(classes: list[str]) -> Any:
    wanted = set(classes)
    return lambda message: message.get("reply_class") in wanted and message.get("replied") is not False


def _has_stat(status: str) -> Any:
    flag = MESSAGE_STATS[status]
    # Apollo's reference documents the stat filter, not what the message's field holds once an email
    # bounced (its example shows null on emails that did not): trust the filter, refuse only a
    # message whose field says false.
    return lambda message: message.get(flag) is not False


def sequence_check(
    contact_ids: Sequence[str],
    sequence_id: str,
    target_statuses: Sequence[str],
    reply_classes: Sequence[str] | None = None,
) -> Generator[ApiRequest, Any, SequenceCheckResult]:
    """
    One check of the contacts' status in a sequence.

    Outcomes read from emails cost the pages of matching messages (one search per such target);
    membership statuses cost one ``GET /contacts/{id}`` per contact not already reported under an
    email outcome, and are read only when a membership status is a target.

    :param contact_ids: the contacts watched.
    :param sequence_id: the sequence's id (a name resolved beforehand).
    :param target_statuses: statuses from :data:`SEQUENCE_STATUSES`.
    :param reply_classes: the reply classes that count as ``replied``; ``None``: every class.
    """
    wanted = list(dict.fromkeys(contact_ids))
    targets = check_target_statuses(list(target_statuses))
    classes = check_reply_classes(reply_classes)
    watched = set(wanted)
    found: dict[str, str] = {}
    class_of: dict[str, str] = {}
    calls = 0
    for status in MESSAGE_STATUSES:
        if status not in targets:
            continue
        if status == "replied":
            messages, pages = yield from outreach_messages(sequence_id, reply_classes=classes)
            keep = _is_reply_of(classes)
        else:
            messages, pages = yield from outreach_messages(sequence_id, stats=[status])
            keep = _has_stat(status)
        calls += pages
        for contact_id, message in _latest_per_contact(messages, sequence_id, watched, keep).items():
            if contact_id not in found:
                found[contact_id] = status
                if status == "replied":
                    class_of[contact_id] = str(message["reply_class"])

    missing: list[str] = []
    not_enrolled: list[str] = []
    seen: dict[str, str] = {}
    membership_targets = [status for status in targets if status in MEMBERSHIP_STATUSES]
    if membership_targets:
        for contact_id in wanted:
            if contact_id in found:
                continue
            calls += 1
            body = yield from read_contact(contact_id)
            if body is MISSING:
                missing.append(contact_id)
                continue
            contact = body.get("contact") if isinstance(body, dict) else None
            if not isinstance(contact, dict):
                raise ApolloApiError(
                    f"Apollo answered GET /contacts/{contact_id} without a contact", body=body
                )
            entry = membership(contact, sequence_id)
            if entry is None:
                not_enrolled.append(contact_id)
                continue
            status = str(entry.get("status") or "").casefold()
            seen[contact_id] = status
            if status in membership_targets:
                found[contact_id] = status

    reached: dict[str, list[str]] = {status: [] for status in targets}
    lost = {*missing, *not_enrolled}
    waiting: list[str] = []
    for contact_id in wanted:
        if contact_id in found:
            reached[found[contact_id]].append(contact_id)
        elif contact_id not in lost:
            waiting.append(contact_id)
    by_class: dict[str, list[str]] = {name: [] for name in classes}
    for contact_id in reached.get("replied", []):
        by_class[class_of[contact_id]].append(contact_id)
    return SequenceCheckResult(reached, missing, not_enrolled, waiting, calls, seen, by_class)


__all__ = [
    "MEMBERSHIP_STATUSES",
    "MESSAGE_STATUSES",
    "REPLY_CLASSES",
    "REQUIRE_ALL",
    "REQUIRE_ANY",
    "RETIRED_STATUSES",
    "SEQUENCE_STATUSES",
    "SequenceCheckResult",
    "check_reply_classes",
    "check_target_statuses",
    "message_search_request",
    "outreach_messages",
    "sequence_check",
]
