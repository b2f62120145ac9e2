"""
Sequences and mailboxes named as a DAG names them: one name search, partial matches listed, archived
namesakes ignored; the enrollment's query parameters and answer, and the removal modes.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.sequences import (
    Mailbox,
    enroll_request,
    match_mailbox,
    read_enrollment,
    remove_request,
    resolve_sequence,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError

SEQ_A = {"id": "a" * 24, "name": "Outbound", "archived": False}
SEQ_B = {"id": "b" * 24, "name": "Outbound - old", "archived": True}


def _pages(*sequences: dict[str, Any]) -> dict[str, Any]:
    return {
        "emailer_campaigns": list(sequences),
        "pagination": {"page": 1, "per_page": 100, "total_entries": len(sequences), "total_pages": 1},
    }


def test_sequence_by_name_is_one_name_search() -> None:
    sent = []

    def call(request: Any) -> Any:
        sent.append(dict(request.params))
        return _pages(SEQ_A, SEQ_B)

    assert run_steps(resolve_sequence(" outbound "), call).id == SEQ_A["id"]
    assert sent == [{"q_name": "outbound", "page": "1", "per_page": "100"}]


def test_unknown_sequence_lists_the_partial_matches() -> None:
    with pytest.raises(ApolloArgumentError, match=r"Unknown sequence 'Outb'.*'Outbound' \(a{24}\)"):
        run_steps(resolve_sequence("Outb"), lambda request: _pages(SEQ_A, SEQ_B))


def test_two_live_sequences_with_one_name_are_ambiguous() -> None:
    twin = {**SEQ_A, "id": "c" * 24}
    with pytest.raises(ApolloArgumentError, match="ambiguous: 2 sequences"):
        run_steps(resolve_sequence("Outbound"), lambda request: _pages(SEQ_A, twin))


def test_archived_namesake_does_not_make_a_name_ambiguous() -> None:
    old = {**SEQ_A, "id": "c" * 24, "archived": True}
    assert run_steps(resolve_sequence("Outbound"), lambda request: _pages(old, SEQ_A)).id == SEQ_A["id"]


def test_sequence_by_id_lists_without_a_name_search() -> None:
    sent = []

    def call(request: Any) -> Any:
        sent.append(dict(request.params))
        return _pages(SEQ_A, SEQ_B)

    assert run_steps(resolve_sequence("b" * 24), call).name == "Outbound - old"
    assert "q_name" not in sent[0]


ACCOUNTS = [
    {"id": "m1", "email": "ada@example.com", "aliases": ["sales@example.com"], "active": True},
    {"id": "m2", "email": "old@example.com", "active": False, "inactive_reason": "token revoked"},
]


def test_mailbox_by_address_alias_or_id() -> None:
    assert match_mailbox(ACCOUNTS, "ADA@example.com") == Mailbox("m1", "ada@example.com")
    assert match_mailbox(ACCOUNTS, "sales@example.com") == Mailbox("m1", "sales@example.com")
    assert match_mailbox(ACCOUNTS, "m1").id == "m1"


def test_unknown_or_inactive_mailbox_lists_the_active_ones() -> None:
    with pytest.raises(ApolloArgumentError, match=r"Unknown mailbox 'x@example.com'.*ada@example.com \(m1\)"):
        match_mailbox(ACCOUNTS, "x@example.com")
    with pytest.raises(ApolloArgumentError, match="not active in Apollo \\(token revoked\\)"):
        match_mailbox(ACCOUNTS, "old@example.com")


def test_enroll_request_uses_query_parameters_and_flags() -> None:
    request = enroll_request(
        "s1", ["c1", "c2"], Mailbox("m1", "ada@example.com"), {"sequence_no_email": True}
    )
    params = list(request.params)
    assert request.path == "/emailer_campaigns/s1/add_contact_ids" and request.json_body is None
    assert ("contact_ids[]", "c1") in params and ("contact_ids[]", "c2") in params
    assert ("emailer_campaign_id", "s1") in params and ("send_email_from_email_account_id", "m1") in params
    assert ("sequence_no_email", "true") in params


def test_already_in_sequence_counts_as_enrolled_and_others_keep_their_reason() -> None:
    body = {
        "contacts": [{"id": "c1"}],
        "skipped_contact_ids": {
            "c2": "contacts_already_exists_in_current_campaign",
            "c3": "contacts_without_email",
        },
    }
    result, unreported = read_enrollment(["c1", "c2", "c3", "c4"], body)
    assert result.enrolled == ["c1", "c2"] and result.already_enrolled == ["c2"]
    assert result.skipped == {"c3": "contacts_without_email"}
    assert unreported == ["c4"]


def test_remove_modes_map_to_apollos_names() -> None:
    assert ("mode", "mark_as_finished") in remove_request("s1", ["c1"], "finish").params
    with pytest.raises(ApolloArgumentError, match="mode must be one of"):
        remove_request("s1", ["c1"], "mark_as_finished")
