"""The sequence check reads replies, bounces and spam blocks from the sequence's outreach emails.

Driven with a scripted ``call`` (no HTTP): what the check asks Apollo, how many pages it reads, and
how it reads each message, whichever way Apollo answers (filters applied or not, with or without a
``pagination`` block).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.sequence_check import (
    MESSAGES_PER_PAGE,
    REPLY_CLASSES,
    SequenceCheckResult,
    check_reply_classes,
    message_search_request,
    sequence_check,
)
from airflow_provider_apollo.core.steps import run_steps
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError, ApolloSearchCapError

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


@pytest.mark.parametrize("body", [None, [], {"messages": []}, {"emailer_messages": "none"}])
def test_an_answer_without_a_message_list_is_an_api_error(body: Any) -> None:
    with pytest.raises(ApolloApiError, match="without an 'emailer_messages' list"):
        run_steps(sequence_check(["c1"], SEQ, ["replied"]), lambda request: body)


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
