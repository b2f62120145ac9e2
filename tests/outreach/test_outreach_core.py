"""The I/O-free outreach core: names to ids, enrollment answers, custom fields, the sequence check."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.fields import (
    CustomField,
    check_contact_updates,
    custom_fields_of,
    resolve_custom_fields,
)
from airflow_provider_apollo.core.sequence_check import (
    check_target_statuses,
    sequence_check,
)
from airflow_provider_apollo.core.sequences import (
    Mailbox,
    enroll_request,
    match_mailbox,
    read_enrollment,
    remove_request,
    resolve_sequence,
)
from airflow_provider_apollo.core.steps import run_steps
from airflow_provider_apollo.core.users import match_owner
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError

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


def test_owner_by_email_or_id_and_unknown_lists_users() -> None:
    users = [
        {"id": "u1", "email": "Ada@Example.com"},
        {"id": "u2", "email": "gone@example.com", "deleted": True},
    ]
    assert match_owner(users, "ada@example.com") == "u1"
    assert match_owner(users, "u1") == "u1"
    with pytest.raises(ApolloArgumentError, match=r"Unknown owner 'gone@example.com'.*Ada@Example.com"):
        match_owner(users, "gone@example.com")


FIELDS = custom_fields_of(
    {
        "fields": [
            {
                "id": "contact.f1",
                "label": "Lead score",
                "modality": "contact",
                "type": "number",
                "source": "custom",
            },
            {
                "id": "contact.f2",
                "label": "Segment",
                "modality": "contact",
                "type": "picklist",
                "source": "custom",
                "meta": {
                    "picklist_values": [{"id": "o1", "name": "Enterprise"}, {"id": "o2", "name": "SMB"}]
                },
            },
            {
                "id": "contact.email",
                "label": "Email",
                "modality": "contact",
                "type": "string",
                "source": "system",
            },
            {
                "id": "account.f3",
                "label": "Tier",
                "modality": "account",
                "type": "string",
                "source": "custom",
            },
        ]
    }
)


def test_only_custom_contact_fields_are_in_the_catalog() -> None:
    assert [field.label for field in FIELDS] == ["Lead score", "Segment"]
    assert FIELDS[1] == CustomField("f2", "Segment", "picklist", (("Enterprise", "o1"), ("SMB", "o2")))


def test_custom_fields_by_label_with_picklist_text() -> None:
    assert resolve_custom_fields({"lead score": "87", "Segment": "enterprise"}, FIELDS) == {
        "f1": 87,
        "f2": "o1",
    }


def test_unknown_field_and_picklist_value_list_the_known_ones() -> None:
    with pytest.raises(
        ApolloArgumentError, match=r"unknown custom field\(s\) 'Score'.*'Lead score' \(number\)"
    ):
        resolve_custom_fields({"Score": 1}, FIELDS)
    with pytest.raises(ApolloArgumentError, match=r"'Huge' is not an option.*'Enterprise', 'SMB'"):
        resolve_custom_fields({"Segment": "Huge"}, FIELDS)
    with pytest.raises(ApolloArgumentError, match="holds a number"):
        resolve_custom_fields({"Lead score": "high"}, FIELDS)


def test_bulk_updates_refuse_fields_bulk_update_ignores() -> None:
    with pytest.raises(ApolloArgumentError, match="does not take 'contact_stage_id'"):
        check_contact_updates([{"id": "c1", "contact_stage_id": "s"}])
    with pytest.raises(ApolloArgumentError, match="appears twice"):
        check_contact_updates([{"id": "c1", "title": "a"}, {"id": "c1", "title": "b"}])


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
