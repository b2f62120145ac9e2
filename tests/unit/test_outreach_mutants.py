"""Outreach core behaviours that mutation testing found unguarded (lists, users, sequences, the sequence check).

Each test kills mutants listed in docs/mutation-testing.md. Plain unit tests: no emulator, no I/O.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lists import check_list_names, list_membership_request, read_list_answer
from airflow_provider_apollo.core.sequence_check import (
    SequenceCheckResult,
    check_target_statuses,
    sequence_check,
)
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
from airflow_provider_apollo.core.steps import run_steps
from airflow_provider_apollo.core.users import (
    check_owner,
    list_users,
    looks_like_email,
    master_key_error,
    match_owner,
    users_page_request,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloAuthError,
    ApolloNotFoundError,
    ApolloValidationError,
)

# --------------------------------------------------------------------------- lists


def test_a_single_list_name_is_a_list_of_one_and_names_are_stripped_once_each() -> None:
    assert check_list_names("Hot leads") == ["Hot leads"]
    assert check_list_names((" A ", "A", "B")) == ["A", "B"]


@pytest.mark.parametrize(
    ("names", "shown"),
    [([], "[]"), ((), "()"), (None, "None"), (5, "5"), ({"a": 1}, "{'a': 1}")],
)
def test_list_names_must_be_a_non_empty_list(names: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_list_names(names, argument="add_to_lists")
    assert str(caught.value) == f"add_to_lists must be a non-empty list of list names, got {shown}."


def test_bad_list_names_are_shown_five_at_most_by_their_repr() -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_list_names(["ok", "", " ", 3, None, "", 4.5])
    assert str(caught.value) == "list_names must contain non-empty strings only; got '', ' ', 3, None, ''."


@pytest.mark.parametrize(
    ("add", "path"),
    [(True, "/labels/add_entity_ids_to_label_names"), (False, "/labels/remove_entity_ids_from_label_names")],
)
def test_list_membership_request_is_a_synchronous_post_by_list_name(add: bool, path: str) -> None:
    request = list_membership_request(add, ["c1", "c2"], ["Hot"])
    assert request == ApiRequest(
        "POST",
        path,
        json_body={
            "entity_ids": ["c1", "c2"],
            "label_names": ["Hot"],
            "modality": "contacts",
            "async": False,
        },
        endpoint=path,
    )
    assert request.method == "POST" and request.endpoint == path


def test_list_answer_keeps_the_reported_lists_and_refuses_a_non_object() -> None:
    labels = [{"id": "l1", "name": "Hot"}, "junk", {"id": "l2", "name": "Cold"}]
    assert read_list_answer({"labels": labels}) == [labels[0], labels[2]]
    assert read_list_answer({"labels": None}) == [] and read_list_answer({}) == []
    with pytest.raises(ApolloApiError) as caught:
        read_list_answer(["not", "a", "dict"])
    assert caught.value.message == "Apollo answered a list change with an unexpected body"
    assert str(caught.value) == caught.value.message
    assert caught.value.body == ["not", "a", "dict"]


# --------------------------------------------------------------------------- users


def test_master_key_error_says_what_to_do_and_keeps_apollos_answer() -> None:
    refused = ApolloAuthError("forbidden", status_code=403, body={"error": "master key required"})
    error = master_key_error(refused, "ada@example.com")
    assert isinstance(error, ApolloAuthError)
    assert str(error) == (
        "Could not look up owner 'ada@example.com' by email: Apollo's users endpoint (GET /users/search) "
        "needs an API key with access to api/v1/users/search or a master API key, and this connection's "
        "key was refused (403). Either give the key access to that endpoint (or use a master key), or pass the owner's Apollo user id instead of the email (new_owner='<user id>'; "
        "an admin finds it in Apollo under Settings > Users, or with a master key through GET /users/search)."
    )
    assert error.status_code == 403 and error.body == {"error": "master key required"}


def test_users_are_listed_page_by_page_with_a_get() -> None:
    assert users_page_request(3) == ApiRequest(
        "GET", "/users/search", params=(("page", "3"), ("per_page", "100")), endpoint="/users/search"
    )
    pages = {
        "1": {"users": [{"id": "u1"}, "junk"], "pagination": {"page": 1, "total_pages": 2}},
        "2": {"users": [{"id": "u2"}], "pagination": {"page": 2, "total_pages": 2}},
    }
    sent: list[ApiRequest] = []

    def call(request: ApiRequest) -> Any:
        sent.append(request)
        assert len(sent) <= 3, "asked for more pages than there are"
        return pages[dict(request.params)["page"]]

    assert run_steps(list_users(), call) == [{"id": "u1"}, {"id": "u2"}]
    assert sent == [users_page_request(1), users_page_request(2)]


def test_owner_is_matched_by_id_or_email_and_deleted_users_do_not_count() -> None:
    users = [
        {"id": "u1", "email": "Ada@Example.com"},
        {"id": "u2", "email": "bo@example.com", "deleted": True},
        {"id": "u3", "email": "bo@example.com"},
        {"id": "u4"},
    ]
    assert match_owner(users, " u4 ") == "u4"
    assert match_owner(users, " ADA@example.COM ") == "u1"
    assert match_owner(users, "bo@example.com") == "u3"
    assert looks_like_email("ada@example.com") and not looks_like_email("u1")


def test_unknown_owner_lists_thirty_live_emails_and_counts_the_rest() -> None:
    users = [{"id": f"u{i:02d}", "email": f"p{i:02d}@example.com"} for i in range(32)]
    users.append({"id": "gone", "email": "a-gone@example.com", "deleted": True})
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner(users, " x@example.com ")
    shown = ", ".join(f"p{i:02d}@example.com" for i in range(30))
    assert str(caught.value) == (
        f"Unknown owner 'x@example.com' (given as owner): no Apollo user has that email. The team's users: {shown} and 2 more."
    )
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner(users[:31], "x@example.com")
    assert str(caught.value).endswith(f"The team's users: {shown} and 1 more.")
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner(users[:30], "x@example.com")
    assert str(caught.value).endswith(f"The team's users: {shown}.")


def test_a_user_without_an_email_matches_no_email() -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        match_owner([{"id": "u1"}, {"id": "u2", "email": None}], "XXXX")
    assert str(caught.value) == (
        "Unknown owner 'XXXX' (given as owner): no Apollo user has that email. The team's users: none."
    )
    with pytest.raises(ApolloArgumentError, match=r"^Unknown owner 'XXXX' \(given as owner_email\): "):
        match_owner([], "XXXX", "owner_email")


@pytest.mark.parametrize(("owner", "shown"), [(None, "None"), ("  ", "'  '"), (7, "7")])
def test_owner_must_be_a_non_empty_string(owner: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_owner(owner)
    assert str(caught.value) == (
        f"owner must be a non-empty string (an Apollo user id or the user's email), got {shown}."
    )
    assert check_owner(" u1 ") == "u1"


# --------------------------------------------------------------------------- sequences: names


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
        "POST", path, params=(("q_name", "Out"), ("page", "2"), ("per_page", "100")), endpoint=path
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


# --------------------------------------------------------------------------- sequences: mailboxes


def test_email_accounts_request_is_a_get() -> None:
    assert email_accounts_request() == ApiRequest("GET", "/email_accounts", endpoint="/email_accounts")
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


# --------------------------------------------------------------------------- sequences: enrollment

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
        endpoint="/emailer_campaigns/{sequence_id}/add_contact_ids",
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


# --------------------------------------------------------------------------- sequences: removal


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
        endpoint=path,
    )
    with pytest.raises(ApolloArgumentError) as caught:
        check_remove_mode("mark_as_finished")
    assert str(caught.value) == "mode must be one of 'finish', 'remove', 'stop', got 'mark_as_finished'."


# --------------------------------------------------------------------------- sequence check: statuses

KNOWN = "replied, bounced, spam_blocked, active, paused, finished, failed"


def test_target_statuses_are_folded_stripped_and_deduplicated() -> None:
    assert check_target_statuses(" Replied ") == ["replied"]
    assert check_target_statuses((" Replied ", "FINISHED", "replied")) == ["replied", "finished"]


@pytest.mark.parametrize(("statuses", "shown"), [([], "[]"), ((), "()"), (None, "None"), (3, "3")])
def test_target_statuses_must_be_a_non_empty_list(statuses: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_target_statuses(statuses)
    assert str(caught.value) == f"target_statuses must be a non-empty list of sequence statuses, got {shown}."


@pytest.mark.parametrize(("status", "shown"), [("responded", "'responded'"), (5, "5"), (None, "None")])
def test_unknown_target_status_lists_the_known_ones(status: Any, shown: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_target_statuses(["active", status])
    assert str(caught.value) == f"target_statuses: unknown sequence status {shown}. Known: {KNOWN}."


@pytest.mark.parametrize(
    ("status", "why"), [("hard_bounced", "wait for 'bounced'"), ("Not_Sent", "not a status")]
)
def test_statuses_apollo_does_not_document_are_refused_with_the_reason(status: str, why: str) -> None:
    with pytest.raises(ApolloArgumentError) as caught:
        check_target_statuses(["replied", status])
    message = str(caught.value)
    assert message.startswith(f"target_statuses: {status!r} is not a sequence status Apollo documents: ")
    assert why in message and message.endswith(f"Known: {KNOWN}.")


def _result(**lists: list[str]) -> SequenceCheckResult:
    return SequenceCheckResult(
        reached={"finished": lists.get("done", [])},
        missing=lists.get("missing", []),
        not_enrolled=lists.get("not_enrolled", []),
        waiting=lists.get("waiting", []),
        calls=0,
    )


def test_all_is_done_only_when_no_contact_is_missing_unenrolled_or_waiting() -> None:
    assert _result(done=["c1"]).is_done("all")
    assert _result().is_done("all")
    assert not _result(done=["c1"], missing=["c2"]).is_done("all")
    assert not _result(done=["c1"], not_enrolled=["c2"]).is_done("all")
    assert not _result(done=["c1"], waiting=["c2"]).is_done("all")
    assert _result(done=["c1"], waiting=["c2"]).is_done("any")
    assert not _result(waiting=["c2"]).is_done("any")


def test_any_fails_only_when_no_contact_is_done_or_still_waiting() -> None:
    assert _result(missing=["c1"]).failed("any")
    assert _result(not_enrolled=["c1"]).failed("any")
    assert not _result(missing=["c1"], waiting=["c2"]).failed("any")
    assert not _result(missing=["c1"], done=["c2"]).failed("any")
    assert not _result(waiting=["c2"]).failed("any")
    assert _result(missing=["c1"], done=["c2"], waiting=["c3"]).failed("all")
    assert not _result(done=["c2"], waiting=["c3"]).failed("all")


def test_lost_message_names_the_lost_contacts_twenty_at_most() -> None:
    twenty = [f"c{i:02d}" for i in range(20)]
    result = _result(missing=[*twenty, "c20"], not_enrolled=["n1", "n2"])
    assert result.lost_message("'Outbound'") == (
        f"Watched contacts can never reach the target status: 21 no longer exist in Apollo "
        f"({', '.join(twenty)} and 1 more); 2 are not in sequence 'Outbound' (never enrolled, or removed: n1, n2)."
    )
    assert _result(missing=twenty).lost_message("s1") == (
        f"Watched contacts can never reach the target status: 20 no longer exist in Apollo ({', '.join(twenty)})."
    )
    many = _result(not_enrolled=[f"n{i:02d}" for i in range(25)])
    assert many.lost_message("s1").endswith(", n19 and 5 more).")


# --------------------------------------------------------------------------- sequence check: the check


def _contact(status: str, reason: str | None = None) -> dict[str, Any]:
    entry = {"emailer_campaign_id": "s1", "status": status, "inactive_reason": reason}
    return {"contact": {"contact_campaign_statuses": [entry]}}


def test_sequence_check_records_each_status_and_goes_on_past_a_missing_contact() -> None:
    answers = {"c2": _contact("finished", "replied"), "c3": _contact("active"), "c4": _contact("PAUSED")}

    def call(request: ApiRequest) -> Any:
        contact_id = request.path.rsplit("/", 1)[1]
        if contact_id == "c1":
            raise ApolloNotFoundError("not found", status_code=404)
        if contact_id == "c5":
            raise ApolloValidationError("deleted", status_code=422)
        return answers[contact_id]

    result = run_steps(sequence_check(["c1", "c2", "c3", "c4", "c5"], "s1", ["finished", "paused"]), call)
    assert result.missing == ["c1", "c5"]
    # A reason text says nothing: c2 is finished, whatever its inactive_reason.
    assert result.reached == {"finished": ["c2"], "paused": ["c4"]} and result.waiting == ["c3"]
    assert result.statuses == {"c2": "finished", "c3": "active", "c4": "paused"}
    assert result.calls == 5


def test_sequence_check_refuses_other_validation_errors() -> None:
    def call(request: ApiRequest) -> Any:
        raise ApolloValidationError("bad", status_code=400)

    with pytest.raises(ApolloValidationError, match="bad"):
        run_steps(sequence_check(["c1"], "s1", ["finished"]), call)


@pytest.mark.parametrize("body", [None, "oops", {"contact": "gone"}, {}])
def test_sequence_check_answer_without_a_contact_is_an_api_error(body: Any) -> None:
    with pytest.raises(ApolloApiError) as caught:
        run_steps(sequence_check(["c7"], "s1", ["finished"]), lambda request: body)
    assert str(caught.value) == "Apollo answered GET /contacts/c7 without a contact"
    assert caught.value.message == str(caught.value) and caught.value.body == body
