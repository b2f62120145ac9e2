"""The contact-stage check shared by the sensor and the trigger: decisions only, no I/O.

:func:`stage_check` decides which requests a check sends and what their answers mean; it does no
I/O. The sensor drives it with the sync hook (:func:`~airflow_provider_apollo.core.lifecycle.run_steps`), the trigger with the async hook
(:func:`~airflow_provider_apollo.core.lifecycle.arun_steps`): one decision, two transports.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from airflow_provider_apollo.core.contacts import MISSING, read_contact
from airflow_provider_apollo.core.endpoints import (
    SEARCH_PER_PAGE_MAX,
    SEARCH_RESULT_CAP,
    ApiRequest,
)
from airflow_provider_apollo.core.paging import SearchPager, read_pagination
from airflow_provider_apollo.exceptions import (
    ApolloArgumentError,
)

# Up to this many contacts a check GETs each one (n calls, and existence comes for free); a stage
# search costs at least one call and needs extra GETs to tell a deleted contact from a waiting one.
PER_CONTACT_CHECK_MAX = 5
# After a stage search, at most this many not-found contacts are GET-checked for existence per
# check, rotating through them, so a deleted contact is found within ceil(n / 5) checks.
MISSING_PROBES_PER_CHECK = 5

REQUIRE_ALL = "all"
REQUIRE_ANY = "any"
REQUIRE_CHOICES = (REQUIRE_ALL, REQUIRE_ANY)

Require = Literal["all", "any"]


class CheckResult(Protocol):
    """
    What a sensor's check found: all that a polling sensor or trigger reads of it.

    :class:`StageCheckResult` and
    :class:`~airflow_provider_apollo.core.sequence_check.SequenceCheckResult` provide it.
    """

    @property
    def done(self) -> list[str]:
        """The ids that reached a target."""

    @property
    def waiting(self) -> list[str]:
        """The ids that may still get there."""

    @property
    def lost(self) -> list[str]:
        """The ids that never can (deleted, or not in the sequence)."""

    @property
    def calls(self) -> int:
        """Requests the check sent."""

    def is_done(self, require: str) -> bool:
        """Whether the sensor succeeds under ``require`` (``"all"`` or ``"any"``)."""

    def failed(self, require: str) -> bool:
        """Whether waiting longer cannot succeed under ``require``."""

    def summary(self) -> str:
        """One line for the logs."""


# A check is a generator: it yields the requests to send and receives their JSON bodies (or,
# thrown into it, their ApolloApiError), and returns its StageCheckResult.
StageCheck = Generator[ApiRequest, Any, "StageCheckResult"]


@dataclass(frozen=True)
class StageCheckResult:
    """
    What one check found, in the order the contact ids were given.

    :param done: ids in one of the target stages.
    :param missing: ids Apollo says do not exist (deleted or never existed).
    :param waiting: the other ids (in another stage, or not confirmed yet).
    :param calls: requests the check sent (retries not counted).
    :param strategy: ``"get"`` (one GET per contact) or ``"search"`` (stage search, then probes).
    """

    done: list[str]
    missing: list[str]
    waiting: list[str]
    calls: int
    strategy: str = "search"
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> list[str]:
        """The ids that can never reach a stage: the missing ones."""
        return list(self.missing)

    def is_done(self, require: str) -> bool:
        if require == REQUIRE_ANY:
            return bool(self.done)
        return not self.missing and not self.waiting

    def failed(self, require: str) -> bool:
        """True when waiting longer cannot succeed: a missing contact can never reach a stage."""
        if not self.missing:
            return False
        if require == REQUIRE_ANY:
            return not self.done and not self.waiting
        return True

    def summary(self) -> str:
        """One line for the logs: how many are in a target stage, and how the check read them."""
        notes = "".join(f"; {note}" for note in self.notes)
        return f"{len(self.done)} in a target stage (read by {self.strategy}{notes})"

    def missing_message(self) -> str:
        shown = ", ".join(self.missing[:20]) + (
            f" and {len(self.missing) - 20} more" if len(self.missing) > 20 else ""
        )
        return (
            f"{len(self.missing)} watched contact(s) no longer exist in Apollo (deleted or unknown id), "
            f"so they can never reach the target stage: {shown}."
        )


def check_require(require: Any) -> Require:
    if require not in REQUIRE_CHOICES:
        raise ApolloArgumentError(f"require must be 'all' or 'any', got {require!r}.")
    return require  # type: ignore[no-any-return]


def stage_check(
    contact_ids: Sequence[str],
    stage_ids: Sequence[str],
    *,
    require: str = REQUIRE_ALL,
    probe_round: int = 0,
    per_contact_max: int = PER_CONTACT_CHECK_MAX,
    missing_probes: int = MISSING_PROBES_PER_CHECK,
) -> StageCheck:
    """
    One check of which contacts are in one of ``stage_ids``: the cheapest requests for the job.

    - ``len(contact_ids) <= per_contact_max``: GET each contact (n calls).
    - Otherwise search by stage (``contact_stage_ids``), 100 per page, and intersect: ceil(m / 100)
      calls for m contacts in the target stages, however many ids are watched. Paging stops once
      every id was found. When the first page shows the remaining pages would cost more than a GET
      per remaining id, or the search exceeds Apollo's 50,000 cap (it cannot be read whole), the
      remaining ids are GET-checked instead: correct either way, and never more than 1 + n calls.
    - Ids a search did not find are either waiting in another stage or deleted; up to
      ``missing_probes`` of them, rotating with ``probe_round``, are confirmed with a GET (Apollo
      answers 422 for a deleted or unknown contact).

    :param contact_ids: the contacts watched.
    :param stage_ids: target stage ids (names resolved beforehand).
    :param require: ``"any"`` skips the existence probes once one contact is done (they cannot
        change the outcome).
    :param probe_round: which slice of not-found ids to probe (a counter kept by the caller).
    """
    wanted = list(dict.fromkeys(contact_ids))
    targets = set(stage_ids)
    calls = 0
    if len(wanted) <= per_contact_max:
        done, missing = yield from _get_each(wanted, targets)
        return _result(wanted, done, missing, len(wanted), "get")

    wanted_set = set(wanted)
    done = set()
    pager = SearchPager(
        {"contact_stage_ids": list(stage_ids)}, per_page=SEARCH_PER_PAGE_MAX, max_records=None
    )
    notes: list[str] = []
    while (request := pager.next_request()) is not None:
        page = pager.next_page or 1
        body = yield request
        calls += 1
        pagination = read_pagination(body)
        if pagination.total_entries > SEARCH_RESULT_CAP:
            # Apollo serves only the first 50,000: a contact beyond them would wait forever.
            done.update(_in_target(body.get("contacts") or [], wanted_set, targets))
            notes.append(
                f"the target stages hold {pagination.total_entries:,} contacts, more than one search "
                f"serves ({SEARCH_RESULT_CAP:,}); checked the rest one by one"
            )
            break
        done.update(_in_target(pager.accept(body), wanted_set, targets))
        if len(done) == len(wanted):
            break
        pages_left = max(0, pagination.total_pages - page)
        if pages_left > len(wanted) - len(done):
            notes.append(f"{pages_left} more search pages cost more than one GET per remaining contact")
            break
    else:
        # The search was read whole: probe a bounded, rotating slice of the ids it did not find.
        not_found = [i for i in wanted if i not in done]
        probe = (
            [] if require == REQUIRE_ANY and done else _rotating_slice(not_found, probe_round, missing_probes)
        )
        found, missing = yield from _get_each(probe, targets)
        return _result(wanted, done | found, missing, calls + len(probe), "search", notes)
    if len(done) == len(wanted) or (require == REQUIRE_ANY and done):
        # Under "any", one contact in a target stage decides: the others need no GET.
        return _result(wanted, done, [], calls, "search", notes)
    remaining = [i for i in wanted if i not in done]
    found, missing = yield from _get_each(remaining, targets)
    return _result(wanted, done | found, missing, calls + len(remaining), "search+get", notes)


def _in_target(contacts: list[dict[str, Any]], wanted: set[str], targets: set[str]) -> set[str]:
    return {
        str(contact["id"])
        for contact in contacts
        if contact.get("id") in wanted and contact.get("contact_stage_id") in targets
    }


def _get_each(
    contact_ids: list[str], targets: set[str]
) -> Generator[ApiRequest, Any, tuple[set[str], list[str]]]:
    done: set[str] = set()
    missing: list[str] = []
    for contact_id in contact_ids:
        body = yield from read_contact(contact_id)
        if body is MISSING:
            missing.append(contact_id)
            continue
        contact = body.get("contact") if isinstance(body, dict) else None
        if isinstance(contact, dict) and contact.get("contact_stage_id") in targets:
            done.add(contact_id)
    return done, missing


def _rotating_slice(items: list[str], round_number: int, size: int) -> list[str]:
    if len(items) <= size:
        return list(items)
    windows = math.ceil(len(items) / size)
    start = (round_number % windows) * size
    return items[start : start + size]


def _result(
    wanted: list[str],
    done: set[str],
    missing: list[str],
    calls: int,
    strategy: str,
    notes: list[str] | None = None,
) -> StageCheckResult:
    missing_set = set(missing)
    return StageCheckResult(
        done=[i for i in wanted if i in done],
        missing=[i for i in wanted if i in missing_set],
        waiting=[i for i in wanted if i not in done and i not in missing_set],
        calls=calls,
        strategy=strategy,
        notes=list(notes or []),
    )
