"""The sequence-status check shared by the sensor and the trigger: decisions only, no I/O.

:func:`sequence_check` yields the requests one check sends and reads their answers, as
:func:`~airflow_provider_apollo.core.stage_check.stage_check` does for stages; :func:`run_steps`
drives any such generator with the sync hook, :func:`arun_steps` with the async hook.

A contact's place in a sequence is its ``contact_campaign_statuses`` entry for that sequence:
Apollo's ``status`` (``active``, ``paused``, ``finished``, ``failed`` ...) and, for finished or
failed ones, why (``inactive_reason``, ``failure_reason``). ``replied`` and ``bounced`` are read
from those reasons: a contact who replied is ``finished`` with a reply as the reason.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airflow_provider_apollo.core.endpoints import ApiRequest, get_contact_request
from airflow_provider_apollo.core.lifecycle import arun_steps, run_steps
from airflow_provider_apollo.core.sequences import membership
from airflow_provider_apollo.core.stage_check import REQUIRE_ALL, REQUIRE_ANY
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloNotFoundError,
    ApolloValidationError,
)

T = TypeVar("T")

# Apollo's own status values (its sequence counters use the same words) ...
RAW_STATUSES = (
    "active",
    "paused",
    "finished",
    "failed",
    "bounced",
    "hard_bounced",
    "spam_blocked",
    "not_sent",
)
# ... and outcomes read from the reasons, more specific than the status they come with.
DERIVED_STATUSES = ("replied", "bounced")
SEQUENCE_STATUSES = tuple(dict.fromkeys((*DERIVED_STATUSES, *RAW_STATUSES)))


def check_target_statuses(statuses: Any, argument: str = "target_statuses") -> list[str]:
    """Known sequence statuses (case-insensitive), or an error listing them."""
    if isinstance(statuses, str):
        statuses = [statuses]
    if not isinstance(statuses, (list, tuple)) or not statuses:
        raise ApolloArgumentError(
            f"{argument} must be a non-empty list of sequence statuses, got {statuses!r}."
        )
    checked = []
    for status in statuses:
        folded = status.strip().casefold() if isinstance(status, str) else status
        if folded not in SEQUENCE_STATUSES:
            raise ApolloArgumentError(
                f"{argument}: unknown sequence status {status!r}. Known: {', '.join(SEQUENCE_STATUSES)}."
            )
        checked.append(folded)
    return list(dict.fromkeys(checked))


def statuses_of(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """A membership's statuses, most specific first (``("replied", "finished")``)."""
    raw = str(entry.get("status") or "").casefold()
    reasons = " ".join(str(entry.get(key) or "") for key in ("inactive_reason", "failure_reason")).casefold()
    derived = []
    if "repl" in reasons:
        derived.append("replied")
    if "bounce" in reasons or raw in ("bounced", "hard_bounced"):
        derived.append("bounced")
    return tuple(dict.fromkeys((*derived, raw)))


@dataclass(frozen=True)
class SequenceCheckResult:
    """
    What one check found, in the order the contact ids were given.

    :param reached: for each target status, the ids whose membership has it (each id once, under
        its most specific status).
    :param missing: ids Apollo says do not exist.
    :param not_enrolled: ids with no membership in the sequence (never enrolled, or removed).
    :param waiting: the other ids.
    :param calls: requests the check sent.
    """

    reached: dict[str, list[str]]
    missing: list[str]
    not_enrolled: list[str]
    waiting: list[str]
    calls: int
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> list[str]:
        return [contact_id for ids in self.reached.values() for contact_id in ids]

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


def sequence_check(
    contact_ids: Sequence[str], sequence_id: str, target_statuses: Sequence[str]
) -> Generator[ApiRequest, Any, SequenceCheckResult]:
    """
    One check of the contacts' status in a sequence: a GET per contact (Apollo's contact search
    has no sequence filter), reading ``contact_campaign_statuses``.

    :param contact_ids: the contacts watched.
    :param sequence_id: the sequence's id (a name resolved beforehand).
    :param target_statuses: statuses from :data:`SEQUENCE_STATUSES`.
    """
    wanted = list(dict.fromkeys(contact_ids))
    targets = check_target_statuses(list(target_statuses))
    reached: dict[str, list[str]] = {status: [] for status in targets}
    missing: list[str] = []
    not_enrolled: list[str] = []
    waiting: list[str] = []
    seen: dict[str, str] = {}
    for contact_id in wanted:
        try:
            body = yield get_contact_request(contact_id)
        except (ApolloValidationError, ApolloNotFoundError) as error:
            # Apollo answers 422 (rarely 404) for a deleted or unknown contact.
            if error.status_code in (404, 422):
                missing.append(contact_id)
                continue
            raise
        contact = body.get("contact") if isinstance(body, dict) else None
        if not isinstance(contact, dict):
            raise ApolloApiError(f"Apollo answered GET /contacts/{contact_id} without a contact", body=body)
        entry = membership(contact, sequence_id)
        if entry is None:
            not_enrolled.append(contact_id)
            continue
        statuses = statuses_of(entry)
        seen[contact_id] = statuses[0] if statuses else ""
        hit = next((status for status in statuses if status in reached), None)
        if hit is None:
            waiting.append(contact_id)
        else:
            reached[hit].append(contact_id)
    return SequenceCheckResult(reached, missing, not_enrolled, waiting, len(wanted), seen)


__all__ = [
    "DERIVED_STATUSES",
    "RAW_STATUSES",
    "REQUIRE_ALL",
    "REQUIRE_ANY",
    "SEQUENCE_STATUSES",
    "SequenceCheckResult",
    "arun_steps",
    "check_target_statuses",
    "run_steps",
    "sequence_check",
    "statuses_of",
]
