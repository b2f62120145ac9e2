"""The sequence check shared by the sensor and the trigger: target statuses, the check, and its result.

Driven with a scripted ``call`` (no HTTP): what the check asks Apollo, how many pages it reads, and
how it reads each message, whichever way Apollo answers (filters applied or not, with or without a
``pagination`` block), membership statuses grouped by the most specific one (a reason text is no
reply); when the watched contacts are done, failed or lost.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.sequence_check import (
    MESSAGES_PER_PAGE,
    REPLY_CLASSES,
    SequenceCheckResult,
    check_reply_classes,
    check_target_statuses,
    message_search_request,
    sequence_check,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloNotFoundError,
    ApolloSearchCapError,
    ApolloValidationError,
)

SEQ = "seq1"


def message(
    contact_id: str,
    reply_class: str | None = None,
    *,
    sequence: str = SEQ,
    completed_at: str = "2026-12-01T10:00:00.000+00:00",
    index: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": f"m-{contact_id}-{index}-{reply_class}",
        "contact_id": contact_id,
        "emailer_campaign_id": sequence,
        "replied": True if reply_class else None,
        "reply_class": reply_class,
        "completed_at": completed_at,
        **extra,
    }


class Apollo:
    """Answers the message search from a list (paged by ``page``/``per_page``) and contacts by id."""

    def __init__(
        self,
        messages: list[dict[str, Any]],
        memberships: dict[str, str] | None = None,
        *,
        apply_filters: bool = True,
        pagination: bool = False,
    ) -> None:
        self.messages = messages
        self.memberships = memberships or {}
        self.apply_filters = apply_filters
        self.pagination = pagination
        self.requests: list[ApiRequest] = []

    def __call__(self, request: ApiRequest) -> Any:
        self.requests.append(request)
        if request.path == "/emailer_messages/search":
            params: dict[str, list[str]] = {}
            for key, value in request.params:
                params.setdefault(key, []).append(value)
            found = self.messages
            if self.apply_filters and "emailer_message_reply_classes[]" in params:
                found = [
                    m for m in found if m.get("reply_class") in params["emailer_message_reply_classes[]"]
                ]
            if self.apply_filters and "emailer_message_stats[]" in params:
                found = [
                    m
                    for m in found
                    if any(m.get("bounce_stat") == s for s in params["emailer_message_stats[]"])
                ]
            page, per_page = int(params["page"][0]), int(params["per_page"][0])
            body: dict[str, Any] = {"emailer_messages": found[(page - 1) * per_page : page * per_page]}
            if self.pagination:
                body["pagination"] = {"page": page, "total_pages": max(1, math.ceil(len(found) / per_page))}
            return body
        contact_id = request.path.rsplit("/", 1)[1]
        status = self.memberships[contact_id]
        return {"contact": {"contact_campaign_statuses": [{"emailer_campaign_id": SEQ, "status": status}]}}

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]


# -------------------------------------------------------------------------- target statuses and reply classes


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


def test_reply_classes_are_checked_and_kept_in_apollos_order() -> None:
    assert check_reply_classes(None) == list(REPLY_CLASSES)
    assert check_reply_classes([" Unsubscribe", "willing_to_meet", "unsubscribe"]) == [
        "willing_to_meet",
        "unsubscribe",
    ]
    assert check_reply_classes("out_of_office") == ["out_of_office"]
    with pytest.raises(ApolloArgumentError) as caught:
        check_reply_classes(["interested"])
    assert str(caught.value) == (
        f"reply_classes: unknown reply class 'interested'. Apollo's classes: {', '.join(REPLY_CLASSES)}."
    )
    with pytest.raises(ApolloArgumentError, match="reply_classes must be a non-empty list"):
        check_reply_classes([])


# -------------------------------------------------- replies, bounces and spam blocks from the outreach emails


def test_the_reply_search_is_a_get_with_query_string_arrays_filtered_to_the_sequence() -> None:
    request = message_search_request("seq 1", 2, reply_classes=["willing_to_meet", "not_interested"])
    assert (request.method, request.path, request.json_body) == ("GET", "/emailer_messages/search", None)
    assert urlencode(request.params) == (
        "emailer_campaign_ids%5B%5D=seq+1&emailer_message_reply_classes%5B%5D=willing_to_meet"
        "&emailer_message_reply_classes%5B%5D=not_interested&page=2&per_page=100"
    )
    assert request.rate_key == "GET /emailer_messages/search"


def test_replies_cost_the_pages_of_replies_whatever_the_number_of_contacts() -> None:
    watched = [f"c{i:05d}" for i in range(10_000)]
    repliers = watched[::20]  # 5% replied
    apollo = Apollo([message(cid, "willing_to_meet") for cid in repliers])

    result = run_steps(sequence_check(watched, SEQ, ["replied"]), apollo)

    # Pages of 100 until a short one: 500 replies are five full pages and an empty one.
    assert result.calls == len(apollo.requests) == len(repliers) // MESSAGES_PER_PAGE + 1 == 6
    assert set(apollo.paths()) == {"GET /emailer_messages/search"}
    assert result.reached == {"replied": repliers}
    assert len(result.waiting) == len(watched) - len(repliers)
    # Every class is asked for by default, once per request.
    classes = [v for k, v in apollo.requests[0].params if k == "emailer_message_reply_classes[]"]
    assert classes == list(REPLY_CLASSES)


def test_an_exactly_full_last_page_costs_one_more_empty_page() -> None:
    apollo = Apollo([message(f"c{i}", "unsubscribe") for i in range(200)])
    result = run_steps(sequence_check([f"c{i}" for i in range(200)], SEQ, ["replied"]), apollo)
    assert result.calls == 3 and len(result.reached["replied"]) == 200


def test_pagination_when_apollo_sends_it_saves_the_empty_page() -> None:
    apollo = Apollo([message(f"c{i}", "unsubscribe") for i in range(200)], pagination=True)
    result = run_steps(sequence_check([f"c{i}" for i in range(200)], SEQ, ["replied"]), apollo)
    assert result.calls == 2


def test_only_the_wanted_classes_count_even_when_apollo_ignores_the_filter() -> None:
    messages = [message("c1", "out_of_office"), message("c2", "willing_to_meet"), message("c3")]
    for apply_filters in (True, False):
        apollo = Apollo(messages, apply_filters=apply_filters)
        result = run_steps(sequence_check(["c1", "c2", "c3"], SEQ, ["replied"], ["willing_to_meet"]), apollo)
        assert result.reached == {"replied": ["c2"]} and result.waiting == ["c1", "c3"]
        assert result.reply_classes == {"willing_to_meet": ["c2"]}
        sent = [v for k, v in apollo.requests[0].params if k == "emailer_message_reply_classes[]"]
        assert sent == ["willing_to_meet"]


def test_a_message_that_says_it_was_not_replied_to_is_no_reply() -> None:
    apollo = Apollo([{**message("c1", "willing_to_meet"), "replied": False}])
    assert run_steps(sequence_check(["c1"], SEQ, ["replied"]), apollo).waiting == ["c1"]


def test_each_replier_is_reported_once_under_the_class_of_the_latest_reply() -> None:
    apollo = Apollo(
        [
            message("c1", "willing_to_meet", completed_at="2026-12-03T10:00:00Z", index=3),
            message("c1", "out_of_office", completed_at="2026-12-01T10:00:00Z", index=1),
            message("c2", "not_interested", index=1),
            message("c2", "not_interested", index=1),  # the same message on two pages
            message("c3", "follow_up_question", sequence="other"),
            message("c9", "willing_to_meet"),  # not watched
        ]
    )
    result = run_steps(sequence_check(["c3", "c2", "c1"], SEQ, ["replied"]), apollo)
    assert result.reached == {"replied": ["c2", "c1"]}
    assert result.reply_classes == {name: [] for name in REPLY_CLASSES} | {
        "willing_to_meet": ["c1"],
        "not_interested": ["c2"],
    }
    assert result.waiting == ["c3"]


def test_bounces_come_from_the_bounced_stat_and_a_message_saying_otherwise_is_refused() -> None:
    messages = [
        message("c1", bounce=True, bounce_stat="bounced"),
        # The reference does not say what `bounce` holds on a bounced email: the filter is trusted.
        message("c2", bounce=None, bounce_stat="bounced"),
        message("c3", bounce_stat="bounced"),  # no bounce field
        message("c4", bounce=False, bounce_stat="bounced"),  # the message itself says no
    ]
    apollo = Apollo(messages)
    result = run_steps(sequence_check(["c1", "c2", "c3", "c4"], SEQ, ["bounced"]), apollo)
    assert result.reached == {"bounced": ["c1", "c2", "c3"]}
    stats = [v for k, v in apollo.requests[0].params if k == "emailer_message_stats[]"]
    assert stats == ["bounced"]


def test_a_replier_who_also_bounced_is_reported_as_replied() -> None:
    apollo = Apollo(
        [message("c1", "willing_to_meet"), message("c1", index=2, bounce=True, bounce_stat="bounced")]
    )
    result = run_steps(sequence_check(["c1"], SEQ, ["bounced", "replied"]), apollo)
    assert result.reached == {"bounced": [], "replied": ["c1"]}


def test_a_full_page_at_apollos_display_limit_fails_rather_than_miss_replies() -> None:
    class Endless:
        def __call__(self, request: ApiRequest) -> Any:
            page = dict(request.params)["page"]
            return {"emailer_messages": [message(f"c{page}-{i}", "unsubscribe") for i in range(100)]}

    with pytest.raises(ApolloSearchCapError, match="more than 50,000 matching outreach emails"):
        run_steps(sequence_check(["c1"], SEQ, ["replied"]), Endless())


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


@pytest.mark.parametrize("body", [None, [], {"messages": []}, {"emailer_messages": "none"}])
def test_an_answer_without_a_message_list_is_an_api_error(body: Any) -> None:
    with pytest.raises(ApolloApiError, match="without an 'emailer_messages' list"):
        run_steps(sequence_check(["c1"], SEQ, ["replied"]), lambda request: body)


# ---------------------------------------------------------------------- membership statuses from each contact


def test_membership_statuses_are_read_only_for_contacts_no_email_outcome_reported() -> None:
    apollo = Apollo(
        [message("c1", "willing_to_meet")],
        {"c2": "finished", "c3": "active", "c4": "paused"},
    )
    result = run_steps(sequence_check(["c1", "c2", "c3", "c4"], SEQ, ["finished", "replied"]), apollo)
    assert result.reached == {"finished": ["c2"], "replied": ["c1"]}
    assert result.waiting == ["c3", "c4"]
    assert apollo.paths() == ["GET /emailer_messages/search"] + [
        f"GET /contacts/{c}" for c in ("c2", "c3", "c4")
    ]
    assert result.calls == 4


def test_without_a_membership_target_no_contact_is_read() -> None:
    apollo = Apollo([])
    result = run_steps(sequence_check(["c1", "c2"], SEQ, ["replied", "bounced"]), apollo)
    assert apollo.paths() == ["GET /emailer_messages/search"] * 2
    assert result.missing == result.not_enrolled == [] and result.waiting == ["c1", "c2"]
    assert not result.failed("all") and not result.is_done("any")


def _contact(status: str, reason: str | None = None, sequence: str = "s1") -> dict[str, Any]:
    entry = {"emailer_campaign_id": sequence, "status": status, "inactive_reason": reason}
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


def test_sequence_check_groups_by_most_specific_status_and_finds_lost_contacts() -> None:
    answers: dict[str, Any] = {
        "c1": _contact("finished", "replied"),
        "c2": _contact("finished", "completed all steps"),
        "c3": _contact("active"),
        "c4": _contact("active", sequence="other"),
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


# --------------------------------------------------------------------------- the result


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


def test_the_xcom_value_keeps_status_lists_and_adds_the_reply_classes() -> None:
    result = SequenceCheckResult(
        reached={"replied": ["c1"]},
        missing=[],
        not_enrolled=[],
        waiting=["c2"],
        calls=1,
        reply_classes={"willing_to_meet": ["c1"], "unsubscribe": []},
    )
    assert result.xcom_value() == {
        "replied": ["c1"],
        "reply_classes": {"willing_to_meet": ["c1"], "unsubscribe": []},
    }
    assert result.summary() == "1 replied (replies: 1 willing_to_meet)"
