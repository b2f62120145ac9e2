"""
The sequence status sensor's check (core/sequence_check.py), driven with a scripted ``call``: a reply
comes from the sequence's emails, not a membership's reason text; memberships are grouped by their
most specific status, and contacts not enrolled or deleted are found.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.sequence_check import check_target_statuses, sequence_check
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError


def test_a_reason_text_is_not_a_reply_replies_come_from_the_emails() -> None:
    """A membership finished "because it replied" is no reply: only an email with a reply class is."""
    sent: list[Any] = []

    def call(request: Any) -> Any:
        sent.append(request)
        return {"emailer_messages": []}

    result = run_steps(sequence_check(["c1"], "s1", ["replied"]), call)
    assert result.reached == {"replied": []} and result.waiting == ["c1"]
    assert [(r.method, r.path) for r in sent] == [("GET", "/emailer_messages/search")]
    with pytest.raises(ApolloArgumentError, match="unknown sequence status 'responded'"):
        check_target_statuses(["responded"])


def test_sequence_check_groups_by_most_specific_status_and_finds_lost_contacts() -> None:
    def contact(status: str, reason: str | None = None, sequence: str = "s1") -> dict[str, Any]:
        entry = {"emailer_campaign_id": sequence, "status": status, "inactive_reason": reason}
        return {"contact": {"contact_campaign_statuses": [entry]}}

    answers: dict[str, Any] = {
        "c1": contact("finished", "replied"),
        "c2": contact("finished", "completed all steps"),
        "c3": contact("active"),
        "c4": contact("active", sequence="other"),
    }

    def call(request: Any) -> Any:
        contact_id = request.path.rsplit("/", 1)[1]
        if contact_id == "c5":
            raise ApolloValidationError("deleted", status_code=422)
        return answers[contact_id]

    result = run_steps(sequence_check(["c1", "c2", "c3", "c4", "c5"], "s1", ["failed", "finished"]), call)
    assert result.reached == {"failed": [], "finished": ["c1", "c2"]}
    assert result.waiting == ["c3"] and result.not_enrolled == ["c4"] and result.missing == ["c5"]
    assert result.is_done("any") and not result.is_done("all") and result.failed("all")
