"""Sequences and mailboxes: found by id or name as a DAG names them (one name search, partial matches
listed, archived namesakes ignored), contacts enrolled and removed, Apollo's answers read."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.sequences import (
    EnrollmentResult,
    Mailbox,
    SequenceRef,
    check_enrollment_flags,
    check_remove_mode,
    describe_skipped,
    email_accounts_of,
    email_accounts_request,
    enroll_request,
    match_mailbox,
    match_sequence,
    read_all_pages,
    read_enrollment,
    remove_request,
    resolve_sequence,
    sequence_search_request,
)
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError

# --------------------------------------------------------------------------- a sequence by id or name


def _seq(sid: str, name: Any, archived: bool = False) -> dict[str, Any]:
    return {"id": sid * 24, "name": name, "archived": archived}


def test_ambiguous_sequence_lists_every_namesake_marking_archived_ones() -> None:
    sequences = [_seq("a", "Outbound"), _seq("b", "outbound ", archived=True), _seq("c", "OUTBOUND")]
    with pytest.raises(ApolloArgumentError) as caught:
        match_sequence(sequences, "Outbound")
    assert str(caught.value) == (
        "sequence 'Outbound' is ambiguous: 3 sequences have that name: "
        f"'Outbound' ({'a' * 24}), 'outbound ' ({'b' * 24}) (archived), 'OUTBOUND' ({'c' * 24}). "
        "Pass the sequence's id instead."
    )


def test_a_single_archived_sequence_is_found_by_its_name() -> None:
    archived = _seq("a", "Old", archived=True)
    assert match_sequence([archived, _seq("b", "Other")], "old") == SequenceRef("a" * 24, "Old")


def test_a_nameless_sequence_matches_no_name() -> None:
    assert match_sequence([{"id": "n" * 24}], "xxxx") is None


@pytest.mark.parametrize(("sequence", "shown"), [(None, "None"), ("  ", "'  '"), (12, "12")])
def test_sequence_must_be_a_non_empty_string(sequence: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        next(resolve_sequence(sequence))
    assert str(caught.value) == f"sequence must be a non-empty string (a sequence id or name), got {shown}."


def _search_pages(*pages: list[dict[str, Any]]) -> Any:
    """A fake transport answering a sequence search page by page; it records what was sent."""
    sent: list[ApiRequest] = []

    def call(request: ApiRequest) -> Any:
        sent.append(request)
        assert len(sent) <= 6, "asked for more pages than there are"
        page = int(dict(request.params)["page"])
        return {
            "emailer_campaigns": pages[page - 1],
            "pagination": {"page": page, "per_page": 100, "total_entries": 0, "total_pages": len(pages)},
        }

    return call, sent


def test_sequence_search_request_is_a_post_with_query_parameters() -> None:
    path = "/emailer_campaigns/search"
    assert sequence_search_request(2, q_name="Out") == ApiRequest(
        "POST", path, params=(("q_name", "Out"), ("page", "2"), ("per_page", "100")), rate_group=path
    )
    assert sequence_search_request(1).params == (("page", "1"), ("per_page", "100"))
    assert sequence_search_request(1).method == "POST"


def test_a_sequence_on_the_second_page_is_found_after_reading_every_page() -> None:
    call, sent = _search_pages([_seq("a", "One")], [_seq("b", "Two")])
    assert run_steps(resolve_sequence("b" * 24), call) == SequenceRef("b" * 24, "Two")
    assert [dict(request.params)["page"] for request in sent] == ["1", "2"]


def test_listing_stops_at_an_empty_page_or_without_pagination() -> None:
    call, sent = _search_pages([_seq("a", "One")], [], [_seq("b", "Two")])
    with pytest.raises(ApolloArgumentError, match="Unknown sequence"):
        run_steps(resolve_sequence("b" * 24), call)
    assert len(sent) == 2
    bodies = [{"emailer_campaigns": [_seq("a", "One"), "junk"]}]
    assert run_steps(
        read_all_pages(sequence_search_request, "emailer_campaigns"), lambda r: bodies.pop()
    ) == [_seq("a", "One")]


def test_listing_answer_that_is_not_an_object_is_an_api_error() -> None:
    with pytest.raises(ApolloApiError) as caught:
        run_steps(read_all_pages(sequence_search_request, "emailer_campaigns"), lambda request: None)
    assert str(caught.value) == "Apollo answered an unexpected body for POST /emailer_campaigns/search"


def test_unknown_sequence_lists_partial_matches_or_the_whole_team() -> None:
    call, _ = _search_pages([_seq("a", "Outbound 1"), _seq("b", "Outbound 2", archived=True)])
    with pytest.raises(ApolloArgumentError) as caught:
        run_steps(resolve_sequence("Outbound"), call)
    assert str(caught.value) == (
        "Unknown sequence 'Outbound' (not a sequence id, and no sequence has that name). Sequences whose "
        f"name contains it: 'Outbound 1' ({'a' * 24}), 'Outbound 2' ({'b' * 24}) (archived)."
    )
    call, _ = _search_pages([_seq("a", "Outbound 1")])
    with pytest.raises(ApolloArgumentError) as caught:
        run_steps(resolve_sequence("c" * 24), call)
    assert str(caught.value) == (
        f"Unknown sequence '{'c' * 24}' (not a sequence id, and no sequence has that name). "
        f"The team's sequences: 'Outbound 1' ({'a' * 24})."
    )


SEQ_A = {"id": "a" * 24, "name": "Outbound", "archived": False}
SEQ_B = {"id": "b" * 24, "name": "Outbound - old", "archived": True}


def _one_page(*sequences: dict[str, Any]) -> dict[str, Any]:
    """A sequence search answered on a single page."""
    return {
        "emailer_campaigns": list(sequences),
        "pagination": {"page": 1, "per_page": 100, "total_entries": len(sequences), "total_pages": 1},
    }


def test_sequence_by_name_is_one_name_search() -> None:
    sent = []

    def call(request: Any) -> Any:
        sent.append(dict(request.params))
        return _one_page(SEQ_A, SEQ_B)

    assert run_steps(resolve_sequence(" outbound "), call).id == SEQ_A["id"]
    assert sent == [{"q_name": "outbound", "page": "1", "per_page": "100"}]


def test_unknown_sequence_lists_the_partial_matches() -> None:
    with pytest.raises(ApolloArgumentError, match=r"Unknown sequence 'Outb'.*'Outbound' \(a{24}\)"):
        run_steps(resolve_sequence("Outb"), lambda request: _one_page(SEQ_A, SEQ_B))


def test_two_live_sequences_with_one_name_are_ambiguous() -> None:
    twin = {**SEQ_A, "id": "c" * 24}
    with pytest.raises(ApolloArgumentError, match="ambiguous: 2 sequences"):
        run_steps(resolve_sequence("Outbound"), lambda request: _one_page(SEQ_A, twin))


def test_archived_namesake_does_not_make_a_name_ambiguous() -> None:
    old = {**SEQ_A, "id": "c" * 24, "archived": True}
    assert run_steps(resolve_sequence("Outbound"), lambda request: _one_page(old, SEQ_A)).id == SEQ_A["id"]


def test_sequence_by_id_lists_without_a_name_search() -> None:
    sent = []

    def call(request: Any) -> Any:
        sent.append(dict(request.params))
        return _one_page(SEQ_A, SEQ_B)

    assert run_steps(resolve_sequence("b" * 24), call).name == "Outbound - old"
    assert "q_name" not in sent[0]


# --------------------------------------------------------------------------- mailboxes


def test_email_accounts_request_is_a_get() -> None:
    assert email_accounts_request() == ApiRequest("GET", "/email_accounts", rate_group="/email_accounts")
    assert email_accounts_request().method == "GET"


@pytest.mark.parametrize("body", [None, [], {}, {"email_accounts": "m1"}, {"email_accounts": None}])
def test_email_accounts_answer_without_a_list_is_an_api_error(body: Any) -> None:
    with pytest.raises(ApolloApiError) as caught:
        email_accounts_of(body)
    assert str(caught.value) == "Apollo GET /email_accounts answered without an 'email_accounts' list"
    assert caught.value.message == str(caught.value) and caught.value.body == body


def test_email_accounts_keep_only_objects() -> None:
    assert email_accounts_of({"email_accounts": [{"id": "m1"}, "junk", None]}) == [{"id": "m1"}]


@pytest.mark.parametrize(("mailbox", "shown"), [(None, "None"), ("  ", "'  '"), (3, "3")])
def test_mailbox_must_be_a_non_empty_string(mailbox: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        match_mailbox([{"id": "m1", "email": "ada@example.com"}], mailbox)
    assert str(caught.value) == (
        f"mailbox must be a non-empty string (an email account id or its address), got {shown}."
    )


def test_mailbox_by_id_sends_from_its_own_address_or_none() -> None:
    accounts = [{"id": "m1", "email": "ada@example.com"}, {"id": "m2"}, {"id": "m3", "email": None}]
    assert match_mailbox(accounts, " m1 ") == Mailbox("m1", "ada@example.com")
    assert match_mailbox(accounts, "m2") == Mailbox("m2", "")
    assert match_mailbox(accounts, "m3") == Mailbox("m3", "")


def _listing_of(count: int) -> list[dict[str, Any]]:
    return [{"id": f"m{i:02d}", "email": f"u{i:02d}@example.com"} for i in range(count)]


def _unknown_mailbox_message(accounts: list[dict[str, Any]]) -> str:
    with pytest.raises(ApolloArgumentError) as caught:
        match_mailbox(accounts, "x@example.com")
    return str(caught.value)


def test_listings_in_messages_show_thirty_and_count_the_rest() -> None:
    head = ", ".join(f"u{i:02d}@example.com (m{i:02d})" for i in range(30))
    prefix = "Unknown mailbox 'x@example.com'. The team's active mailboxes: "
    assert _unknown_mailbox_message(_listing_of(30)) == f"{prefix}{head}."
    assert _unknown_mailbox_message(_listing_of(31)) == f"{prefix}{head} and 1 more."
    assert _unknown_mailbox_message(_listing_of(33)) == f"{prefix}{head} and 3 more."
    assert _unknown_mailbox_message([]) == f"{prefix}none."


MAILBOXES = [
    {"id": "m1", "email": "ada@example.com", "active": True},
    {"id": "m2", "email": "old@example.com", "active": False, "inactive_reason": "token revoked"},
    {"id": "m3", "email": "bo@example.com"},
    {"id": "m4", "email": "cy@example.com", "active": False},
]


def test_unknown_mailbox_lists_active_mailboxes_and_those_not_said_inactive() -> None:
    assert _unknown_mailbox_message(MAILBOXES) == (
        "Unknown mailbox 'x@example.com'. The team's active mailboxes: ada@example.com (m1), bo@example.com (m3)."
    )


def test_inactive_mailbox_without_a_reason_says_inactive() -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        match_mailbox(MAILBOXES, "CY@example.com")
    assert str(caught.value) == (
        "mailbox 'CY@example.com' is not active in Apollo (inactive). "
        "Active mailboxes: ada@example.com (m1), bo@example.com (m3)."
    )


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


# --------------------------------------------------------------------------- enrollment


ALL_FLAGS = (
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


def test_enrollment_flags_default_to_false_and_refuse_unknown_names() -> None:
    assert check_enrollment_flags({"add_if_in_queue": True}) == {
        name: name == "add_if_in_queue" for name in ALL_FLAGS
    }
    with pytest.raises(ApolloArgumentError) as caught:
        check_enrollment_flags({"sequence_no_email": True, "zeta": True, "alpha": False})
    assert str(caught.value) == (
        f"Unknown enrollment flag(s) alpha, zeta. Apollo's flags: {', '.join(ALL_FLAGS)}."
    )


def test_enrollment_flags_must_be_booleans() -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_enrollment_flags({"sequence_job_change": "yes"})
    assert str(caught.value) == "sequence_job_change must be True or False, got 'yes'."


def test_enroll_request_carries_every_option_as_a_query_parameter() -> None:
    flags = check_enrollment_flags({"sequence_no_email": True})
    request = enroll_request(
        "s/1",
        ["c1", "c2"],
        Mailbox("m1", "ada@example.com"),
        flags,
        status="paused",
        auto_unpause_at="2026-01-05T09:00:00Z",
        user_id="u1",
    )
    assert request == ApiRequest(
        "POST",
        "/emailer_campaigns/s%2F1/add_contact_ids",
        params=(
            ("contact_ids[]", "c1"),
            ("contact_ids[]", "c2"),
            ("emailer_campaign_id", "s/1"),
            ("send_email_from_email_account_id", "m1"),
            ("send_email_from_email_address", "ada@example.com"),
            *((name, "true" if name == "sequence_no_email" else "false") for name in ALL_FLAGS),
            ("status", "paused"),
            ("auto_unpause_at", "2026-01-05T09:00:00Z"),
            ("user_id", "u1"),
        ),
        rate_group="/emailer_campaigns/{sequence_id}/add_contact_ids",
    )
    assert request.rate_key == "POST /emailer_campaigns/{sequence_id}/add_contact_ids"


def test_enroll_request_leaves_out_options_not_given() -> None:
    request = enroll_request("s1", ["c1"], Mailbox("m1", ""), {"add_if_in_queue": False})
    assert request.params == (
        ("contact_ids[]", "c1"),
        ("emailer_campaign_id", "s1"),
        ("send_email_from_email_account_id", "m1"),
        ("add_if_in_queue", "false"),
    )


def test_enroll_request_uses_query_parameters_and_flags() -> None:
    request = enroll_request(
        "s1", ["c1", "c2"], Mailbox("m1", "ada@example.com"), {"sequence_no_email": True}
    )
    params = list(request.params)
    assert request.path == "/emailer_campaigns/s1/add_contact_ids" and request.json_body is None
    assert ("contact_ids[]", "c1") in params and ("contact_ids[]", "c2") in params
    assert ("emailer_campaign_id", "s1") in params and ("send_email_from_email_account_id", "m1") in params
    assert ("sequence_no_email", "true") in params


def test_merging_results_adds_new_ids_once() -> None:
    result = EnrollmentResult(["c1"], {"c5": "contacts_without_email"}, ["c1"])
    result.merge(EnrollmentResult(["c1", "c2", "c3"], {"c4": "contact_not_found"}, ["c1", "c2"]))
    assert result == EnrollmentResult(
        ["c1", "c2", "c3"],
        {"c5": "contacts_without_email", "c4": "contact_not_found"},
        ["c1", "c2"],
    )


def test_enrollment_answer_that_is_not_an_object_is_an_api_error() -> None:
    with pytest.raises(ApolloApiError) as caught:
        read_enrollment(["c1"], "Internal error")
    assert str(caught.value) == "Apollo answered an enrollment with an unexpected body"
    assert caught.value.message == str(caught.value) and caught.value.body == "Internal error"


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


def test_enrollment_skipped_as_a_plain_list_has_an_unknown_reason() -> None:
    body = {"contacts": [{"id": "c3"}], "skipped_contact_ids": ["c1", 2]}
    result, unreported = read_enrollment(["c1", "2", "c3", "c4"], body)
    assert result.skipped == {"c1": "skipped", "2": "skipped"}
    assert result.enrolled == ["c3"] and unreported == ["c4"]


def test_enrollment_skipped_in_an_unknown_shape_is_ignored() -> None:
    result, unreported = read_enrollment(["c1"], {"contacts": [{"id": "c1"}], "skipped_contact_ids": "c2"})
    assert result == EnrollmentResult(["c1"], {}, []) and unreported == []


def test_describe_skipped_explains_known_reasons_and_counts_past_twenty() -> None:
    assert describe_skipped({"c1": "contacts_without_email", "c2": "brand_new_code"}) == (
        "c1: has no email address; c2: brand_new_code"
    )
    twenty = {f"c{i:02d}": "contact_not_found" for i in range(20)}
    listed = "; ".join(f"c{i:02d}: the contact does not exist" for i in range(20))
    assert describe_skipped(twenty) == listed
    assert describe_skipped({**twenty, "c20": "x"}) == f"{listed} and 1 more"
    assert describe_skipped({**twenty, "c20": "x", "c21": "y", "c22": "z"}) == f"{listed} and 3 more"


# --------------------------------------------------------------------------- removal


def test_remove_request_is_a_post_with_the_mode_apollo_names() -> None:
    path = "/emailer_campaigns/remove_or_stop_contact_ids"
    assert remove_request("s1", ["c1", "c2"], "stop") == ApiRequest(
        "POST",
        path,
        params=(
            ("emailer_campaign_ids[]", "s1"),
            ("contact_ids[]", "c1"),
            ("contact_ids[]", "c2"),
            ("mode", "stop"),
        ),
        rate_group=path,
    )
    with pytest.raises(ApolloArgumentError) as caught:
        check_remove_mode("mark_as_finished")
    assert str(caught.value) == "mode must be one of 'finish', 'remove', 'stop', got 'mark_as_finished'."


def test_remove_modes_map_to_apollos_names() -> None:
    assert ("mode", "mark_as_finished") in remove_request("s1", ["c1"], "finish").params
    with pytest.raises(ApolloArgumentError, match="mode must be one of"):
        remove_request("s1", ["c1"], "mark_as_finished")
