"""Core behaviours that mutation testing found unguarded: each test kills mutants listed in docs/mutation-testing.md."""

from __future__ import annotations

import re
import socket

import pytest

from airflow_provider_apollo.core import (
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    RateLimiter,
    RequestStats,
    RetryPolicy,
    SearchPager,
    error_for,
    get_contact_request,
    no_answer,
    order_bulk_result,
    resolve_stage_filters,
    validate_search,
)
from airflow_provider_apollo.core.health import health_failure, health_request, health_result
from airflow_provider_apollo.core.responses import parse_retry_after
from airflow_provider_apollo.core.stage_check import StageCheckResult, _in_target, _rotating_slice
from airflow_provider_apollo.core.stages import match_stage
from airflow_provider_apollo.core.validation import (
    check_contact,
    check_contacts,
    check_fields,
    validate_contact_ids,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloNotFoundError,
    ApolloRateLimitError,
    ApolloServerError,
    ApolloValidationError,
)

STAGES = [
    {"id": "s-cold", "display_name": "Cold"},
    {"id": "s-replied", "display_name": "Replied"},
]


# --------------------------------------------------------------------------- statistics


def test_stats_count_no_answers_as_status_0_and_render_every_field() -> None:
    stats = RequestStats()
    stats.record_response(200)
    stats.record_response(429)
    stats.record_response(429)
    stats.record_no_answer()
    stats.record_wait("retry", 0.12345)
    stats.record_wait("retry", 1.0)
    stats.record_wait("pacing", 2.00049)
    snapshot = stats.snapshot()
    assert snapshot.by_status == {200: 1, 429: 2, 0: 1}
    assert snapshot.as_dict() == {
        "requests": 4,
        "by_status": {"0": 1, "200": 1, "429": 2},
        "rate_limited": 2,
        "retries": 2,
        "retry_wait_seconds": 1.123,
        "pacing_wait_seconds": 2.0,
    }
    assert (stats.requests, stats.rate_limited) == (4, 2)
    assert repr(stats) == f"RequestStats({snapshot.as_dict()})"


# --------------------------------------------------------------------------- stage filters


def test_stage_filters_without_names_are_copied_unchanged() -> None:
    filters = {"q_keywords": "cto"}
    resolved = resolve_stage_filters(filters, STAGES)
    assert resolved == filters and resolved is not filters


def test_stage_names_become_ids_after_the_ids_already_given_without_repeats() -> None:
    filters = {"contact_stages": ["replied", "s-cold", "Cold"], "contact_stage_ids": ["s-x"], "q": 1}
    assert resolve_stage_filters(filters, STAGES) == {
        "contact_stage_ids": ["s-x", "s-replied", "s-cold"],
        "q": 1,
    }
    assert resolve_stage_filters({"contact_stages": "Cold"}, STAGES) == {"contact_stage_ids": ["s-cold"]}


@pytest.mark.parametrize("names", [[], (), None, 7, {"Cold": 1}])
def test_stage_names_that_are_not_a_non_empty_list_are_refused_naming_the_filter(names: object) -> None:
    with pytest.raises(ApolloArgumentError, match="'contact_stages' must be a non-empty list"):
        resolve_stage_filters({"contact_stages": names}, STAGES)


# --------------------------------------------------------------------------- no answer


@pytest.mark.parametrize(
    "error, reason, maybe_applied",
    [
        (socket.gaierror(-2, "Name or service not known"), "host not found", False),
        (ConnectionRefusedError(111, "refused"), "connection refused", False),
        (TimeoutError("read timed out"), "timed out", True),
        (ConnectionResetError(104, "reset by peer"), "connection dropped", True),
    ],
)
def test_no_answer_names_what_happened_and_whether_it_may_have_landed(
    error: BaseException, reason: str, maybe_applied: bool
) -> None:
    outcome = no_answer(error)
    assert (outcome.reason, outcome.maybe_applied) == (reason, maybe_applied)
    assert outcome.detail == f"{type(error).__name__} ({error})"


class _ConnectPhase(Exception):
    pass


class _Wrapper(Exception):
    def __init__(self, message: str, *, reason: BaseException | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def test_no_answer_looks_through_causes_contexts_reasons_and_arguments() -> None:
    # A transport's own connect-phase type, found through each link an HTTP library uses.
    assert no_answer(_ConnectPhase(), (_ConnectPhase,)).reason == "could not connect"
    assert no_answer(_ConnectPhase(), (_ConnectPhase,)).maybe_applied is False
    assert no_answer(_ConnectPhase(), ()).maybe_applied is True
    through_reason = _Wrapper("max retries", reason=socket.gaierror(-2, "unknown host"))
    assert no_answer(through_reason).reason == "host not found"
    through_argument = _Wrapper("wrapped", reason=None)
    through_argument.args = ("wrapped", ConnectionRefusedError(111, "refused"))
    assert no_answer(through_argument).maybe_applied is False
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as inner:
            raise _Wrapper("outer") from inner
    except _Wrapper as outer:
        assert no_answer(outer).reason == "connection refused"
    os_error = _Wrapper("aiohttp style")
    os_error.os_error = socket.gaierror(-3, "temporary failure")  # type: ignore[attr-defined]
    assert no_answer(os_error).reason == "host not found"
    # An exception without a message is described by its type.
    assert no_answer(_Wrapper("")).detail == "_Wrapper (_Wrapper)"


# --------------------------------------------------------------------------- bulk create answers


def test_bulk_answers_match_by_name_and_company_then_by_position() -> None:
    inputs = [
        {"first_name": "Ann", "last_name": "Lee", "organization_name": "Acme"},
        {"first_name": "Bo"},
        {"title": "no email, no name"},
    ]
    created = [
        {"id": "c-bo", "first_name": "bo"},
        {"id": "c-other", "first_name": "Zed"},
    ]
    existing = [{"id": "c-ann", "first_name": "ANN ", "last_name": "lee", "organization_name": "acme"}]
    ordered = order_bulk_result(inputs, created, existing)
    assert [c["id"] for c in ordered] == ["c-ann", "c-bo", "c-other"]


def test_bulk_answers_with_fewer_contacts_than_inputs_fail_clearly() -> None:
    with pytest.raises(ApolloApiError, match="answered 1 contacts for 2 inputs"):
        order_bulk_result([{"email": "a@x.io"}, {"email": "b@x.io"}], [{"id": "1", "email": "a@x.io"}], [])


# --------------------------------------------------------------------------- connection test


def _config(**extra: object) -> ApolloConfig:
    return ApolloConfig.from_connection(
        conn_id="apollo_default", password="k-123456789", host="https://apollo.example/api/v1", extra=extra
    )


def test_health_request_waits_at_most_five_seconds() -> None:
    assert health_request(_config(timeout=30)).timeout == 5.0
    assert health_request(_config(timeout=2)).timeout == 2
    assert health_request(_config()).path == "/auth/health"


def test_health_result_reads_is_logged_in() -> None:
    config = _config()
    assert health_result({"is_logged_in": False}, config) == (
        False,
        "Apollo answered, but the key is not logged in.",
    )
    assert health_result({"is_logged_in": True}, config) == (
        True,
        "Connected to Apollo at https://apollo.example/api/v1",
    )
    assert health_result("not a dict", config)[0] is True


def test_health_failures_are_one_readable_sentence_each() -> None:
    config = _config()
    forbidden = ApolloAuthError("x", status_code=403, body={"error": "no access"})
    assert health_failure(forbidden, config).startswith("Apollo refused access (403)")
    assert health_failure(forbidden, config).endswith("Apollo said: no access")
    unauthorized = ApolloAuthError("x", status_code=401, body="Invalid access credentials.")
    assert health_failure(unauthorized, config) == (
        "Apollo rejected the API key (401): check the connection's API key. "
        "Apollo said: Invalid access credentials."
    )
    assert health_failure(ApolloAuthError("x", status_code=401, body=None), config).endswith("(empty answer)")
    assert health_failure(ApolloAuthError("x", status_code=401, body={"message": "m"}), config).endswith(
        ": m"
    )
    assert "answered 404" in health_failure(ApolloNotFoundError("x", status_code=404), config)
    assert "https://apollo.example/api/v1 answered 404" in health_failure(ApolloNotFoundError("x"), config)
    assert "the configured Base URL answered 404" in health_failure(ApolloNotFoundError("x"), None)
    not_json = ApolloConnectionError("x", maybe_applied=True, reason="answer is not JSON")
    assert "answered, but not with JSON" in health_failure(not_json, config)
    refused = ApolloConnectionError("x", maybe_applied=False, reason="connection refused")
    assert health_failure(refused, config) == (
        "Could not reach Apollo at https://apollo.example/api/v1: connection refused."
    )
    limited = ApolloRateLimitError("x", retry_after=12.4)
    assert health_failure(limited, config).endswith("Try again in 12 s.")
    assert health_failure(ApolloRateLimitError("x"), config).endswith("Try again in 60 s.")
    html = ApolloApiError("x", status_code=418, body="<html>")
    assert health_failure(html, config).endswith(
        "answered 418 with a non-JSON body: is the Base URL Apollo's API?"
    )
    assert health_failure(ApolloApiError("plain", status_code=418, body={}), config) == "plain"
    assert health_failure(ValueError("odd"), config) == "ValueError: odd"


# --------------------------------------------------------------------------- paging


def _page(page: int, total_entries: int, per_page: int, ids: range) -> dict[str, object]:
    return {
        "contacts": [{"id": str(i)} for i in ids],
        "pagination": {
            "page": page,
            "per_page": per_page,
            "total_entries": total_entries,
            "total_pages": -(-total_entries // per_page),
        },
    }


def test_planned_and_worth_reading_pages_follow_the_totals_and_max_records() -> None:
    pager = SearchPager({}, per_page=10, max_records=None)
    assert pager.planned_pages() is None and pager.last_page_worth_reading() == 0
    pager.accept(_page(1, 95, 10, range(10)))
    assert pager.planned_pages() == 10 and pager.last_page_worth_reading() == 10
    capped = SearchPager({}, per_page=10, max_records=25)
    capped.accept(_page(1, 95, 10, range(10)))
    assert capped.planned_pages() == 3
    # Two pages still to read for the 15 records still wanted, after page 1.
    assert capped.last_page_worth_reading() == 3
    capped.accept(_page(2, 95, 10, range(10, 20)))
    capped.accept(_page(3, 95, 10, range(20, 30)))
    assert capped.next_page is None and capped.last_page_worth_reading() == 0


# --------------------------------------------------------------------------- messages and arguments


def test_the_missing_message_lists_twenty_ids_and_counts_the_rest() -> None:
    missing = [f"id{i}" for i in range(23)]
    result = StageCheckResult(done=[], missing=missing, waiting=[], calls=1)
    message = result.missing_message()
    assert message.startswith("23 watched contact(s) no longer exist in Apollo")
    assert message.endswith(", ".join(missing[:20]) + " and 3 more.")
    assert StageCheckResult(done=[], missing=["a"], waiting=[], calls=1).missing_message().endswith(": a.")


def test_contact_and_field_checks_name_the_argument_and_the_field() -> None:
    assert check_contact({"first_name": "Ada"}, "contact") == {"first_name": "Ada"}
    with pytest.raises(ApolloArgumentError, match=r"^contact must be a non-empty dict"):
        check_contact({}, "contact")
    with pytest.raises(ApolloArgumentError, match=r"^contact must not contain 'api_key'"):
        check_contact({"api_key": "x", "first_name": "A"}, "contact")
    with pytest.raises(ApolloArgumentError, match=r"^contacts\[1\]\['when'\] must be a JSON value"):
        check_contacts([{"a": 1}, {"when": object()}])
    with pytest.raises(ApolloArgumentError, match=r"^contacts must be a list of dicts, got dict"):
        check_contacts({"a": 1})
    with pytest.raises(ApolloArgumentError, match=r"^rows must be a list of dicts, got str"):
        check_contacts("abc", "rows")
    assert check_contacts(({"a": 1},)) == [{"a": 1}]
    with pytest.raises(ApolloArgumentError, match=r"^fields must be a non-empty dict"):
        check_fields({})
    with pytest.raises(ApolloArgumentError, match=r"^update\['x'\] must be a JSON value"):
        check_fields({"x": {1, 2}}, "update")


# --------------------------------------------------------------------------- responses and errors


def _answer(status: int, body: bytes, **headers: str) -> ApiResponse:
    return ApiResponse(status, {name.replace("_", "-"): value for name, value in headers.items()}, body)


@pytest.mark.parametrize(
    "status, kind",
    [
        (401, ApolloAuthError),
        (403, ApolloAuthError),
        (404, ApolloNotFoundError),
        (400, ApolloValidationError),
        (422, ApolloValidationError),
        (429, ApolloRateLimitError),
        (500, ApolloServerError),
        (503, ApolloServerError),
        (418, ApolloApiError),
    ],
)
def test_each_status_maps_to_its_error_with_status_body_and_apollos_words(
    status: int, kind: type[ApolloApiError]
) -> None:
    request = get_contact_request("c1")
    error = error_for(request, _answer(status, b'{"error": "said so"}', retry_after="7"), _config())
    assert type(error) is kind
    assert (error.status_code, error.body) == (status, {"error": "said so"})
    assert str(error) == f"Apollo GET /contacts/{{contact_id}} answered {status}: said so"
    if status == 429:
        assert isinstance(error, ApolloRateLimitError) and error.retry_after == 7.0


def test_validation_errors_carry_the_deleted_ids_only_from_a_json_body() -> None:
    request = get_contact_request("c1")
    deleted = error_for(request, _answer(422, b'{"error": "x", "deleted_contact_ids": ["a"]}'))
    assert isinstance(deleted, ApolloValidationError) and deleted.deleted_contact_ids == ["a"]
    text = error_for(request, _answer(400, b"deleted_contact_ids"))
    assert isinstance(text, ApolloValidationError) and text.deleted_contact_ids == []


@pytest.mark.parametrize(
    "body, said",
    [
        (b'{"error": "e", "message": "m"}', "e"),
        (b'{"message": "m", "error_message": "em"}', "m"),
        (b'{"error_message": "em"}', "em"),
        (b'{"error": "", "other": 1}', '{"error": "", "other": 1}'),
        (b"<html><body>Bad gateway</body></html>", "non-JSON (HTML) response"),
        (b"  plain words  ", "plain words"),
        (b"", "empty response"),
        (b"x" * 600, "x" * 500),
        (b"\xff\xfe oops", "\ufffd\ufffd oops"),
    ],
)
def test_the_error_message_quotes_what_apollo_said(body: bytes, said: str) -> None:
    error = error_for(get_contact_request("c1"), _answer(500, body))
    assert str(error) == f"Apollo GET /contacts/{{contact_id}} answered 500: {said}"


def test_a_long_json_error_body_is_cut_at_500_characters() -> None:
    body = b'{"detail": "' + b"y" * 600 + b'"}'
    assert str(error_for(get_contact_request("c"), _answer(500, body))).endswith('{"detail": "' + "y" * 488)


@pytest.mark.parametrize(
    "value, seconds",
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("inf", None),
        ("nan", None),
        ("soon", None),
    ],
)
def test_retry_after_is_seconds_never_negative_or_infinite(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_error_messages_never_show_the_key() -> None:
    config = _config()
    body = b'{"error": "bad key k-123456789"}'
    assert "k-123456789" not in str(error_for(get_contact_request("c"), _answer(401, body), config))
    assert config.redact("url?api_key=k-123456789") == "url?api_key=***"


def test_requests_describe_themselves_by_endpoint_and_quote_ids() -> None:
    request = get_contact_request("a/b c")
    assert request.path == "/contacts/a%2Fb%20c"
    assert (request.method, request.endpoint) == ("GET", "/contacts/{contact_id}")
    assert request.describe() == "GET /contacts/{contact_id}" == request.rate_key
    assert ApiRequest("POST", "/x").describe() == "POST /x"


def test_waits_are_added_up_by_reason_and_only_retries_count_as_retries() -> None:
    stats = RequestStats()
    stats.record_wait("pacing", 0.5)
    stats.record_wait("pacing", 0.25)
    stats.record_wait("retry", 1.5)
    snapshot = stats.snapshot()
    assert (snapshot.retries, snapshot.retry_wait_seconds, snapshot.pacing_wait_seconds) == (1, 1.5, 0.75)


@pytest.mark.parametrize(
    "filters, per_page, max_records, named",
    [
        ("q", 10, None, "search filters must be a dict, got str"),
        ({"page": 2}, 10, None, "must not contain 'page'"),
        ({"per_page": 2}, 10, None, "must not contain 'per_page'"),
        ({"api_key": "k"}, 10, None, "must not contain 'api_key'"),
        ({}, 0, None, "per_page must be an integer from 1 to 100"),
        ({}, 101, None, "per_page must be an integer from 1 to 100"),
        ({}, 10, -1, "max_records must be a non-negative integer or None, got -1"),
        ({}, 10, True, "max_records must be a non-negative integer or None, got True"),
        ({}, 10, 2.5, "max_records"),
        ({"sort_by_field": "name"}, 10, None, "sort_by_field must be one of"),
    ],
)
def test_search_arguments_are_refused_naming_the_argument(
    filters: object, per_page: object, max_records: object, named: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=re.escape(named)):
        validate_search(filters, per_page, max_records)


def test_valid_search_arguments_pass_as_a_copy() -> None:
    filters = {"sort_by_field": "contact_updated_at"}
    checked = validate_search(filters, 100, 0)
    assert checked == filters and checked is not filters
    assert validate_search(None, 1, None) == {}


# --------------------------------------------------------------------------- rate limiter and retries


def _minute(status: int, limit: int, used: int, retry_after: float | None = None) -> ApiResponse:
    headers = {
        "x-rate-limit-minute": str(limit),
        "x-minute-usage": str(used),
        "x-minute-requests-left": str(max(limit - used, 0)),
    }
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return ApiResponse(status, headers, b"{}")


def _after_429(response: ApiResponse, at: float = 100.0) -> tuple[RateLimiter, str]:
    limiter, key = RateLimiter(), "GET /contacts/{contact_id}"
    _, ticket = limiter.acquire(key, at)
    assert ticket is not None
    limiter.observe(key, response, at, at, ticket)
    return limiter, key


def test_a_429_on_a_used_up_minute_holds_requests_until_its_retry_after_plus_the_margin() -> None:
    limiter, key = _after_429(_minute(429, 5, 5, retry_after=2.0))
    # The window was never seen open (no learned length): the margin is the fixed 0.05 s.
    assert limiter.acquire(key, 100.0) == (pytest.approx(2.05), None)
    assert limiter.acquire(key, 101.0) == (pytest.approx(1.05), None)
    wait, ticket = limiter.acquire(key, 102.1)
    assert wait == 0.0 and ticket is not None


def test_a_429_while_the_minute_has_room_or_for_a_longer_quota_does_not_pace() -> None:
    # One request left in the minute: the 429 is another quota's, the limiter has nothing to wait for.
    limiter, key = _after_429(_minute(429, 5, 4, retry_after=5.0))
    assert limiter.acquire(key, 100.0)[1] is not None
    # Longer than 1.5 minutes: an hourly or daily quota; the retry policy raises instead.
    limiter, key = _after_429(_minute(429, 5, 5, retry_after=100.0))
    assert limiter.acquire(key, 100.0)[1] is not None
    # Exactly 1.5 minutes is still the minute window.
    limiter, key = _after_429(_minute(429, 5, 5, retry_after=90.0))
    assert limiter.acquire(key, 100.0) == (pytest.approx(90.05), None)


def test_a_retry_after_equal_to_the_longest_wait_is_still_waited_out() -> None:
    policy = RetryPolicy(max_retries=3, max_retry_wait=5.0)
    assert policy.should_retry(ApolloRateLimitError("x", retry_after=5.0), idempotent=False)
    assert not policy.should_retry(ApolloRateLimitError("x", retry_after=5.01), idempotent=True)
    assert policy.should_retry(ApolloRateLimitError("x"), idempotent=False)


def test_the_probe_slice_rotates_through_every_not_found_id() -> None:
    items = [f"id{i}" for i in range(7)]
    assert [_rotating_slice(items, round_number, 5) for round_number in range(3)] == [
        items[:5],
        items[5:],
        items[:5],
    ]
    assert _rotating_slice(items[:5], 3, 5) == items[:5]


def test_a_search_answer_counts_only_watched_contacts_in_a_target_stage() -> None:
    page = [
        {"id": "w1", "contact_stage_id": "s-replied"},
        {"id": "w2", "contact_stage_id": "s-cold"},
        {"id": "other", "contact_stage_id": "s-replied"},
    ]
    assert _in_target(page, {"w1", "w2"}, {"s-replied"}) == {"w1"}


# --------------------------------------------------------------------------- second pass of survivors


def test_stage_names_for_messages() -> None:
    from airflow_provider_apollo.core import stage_name

    stages = [{"id": "a", "name": "internal-a"}, {"id": "b", "display_name": "Bee", "name": "internal-b"}]
    assert [stage_name(stages, i) for i in ("a", "b", "zz")] == ["internal-a", "Bee", "zz"]
    assert stage_name([{"id": "c"}], "c") == "c"


def test_bulk_answers_match_on_a_last_name_alone_and_on_the_company() -> None:
    inputs = [
        {"last_name": "Lee", "organization_name": "Beta"},
        {"last_name": "Lee", "organization_name": "Acme"},
    ]
    returned = [
        {"id": "acme", "last_name": "lee", "organization_name": "ACME"},
        {"id": "beta", "last_name": "Lee", "organization_name": "beta "},
    ]
    assert [c["id"] for c in order_bulk_result(inputs, returned, [])] == ["beta", "acme"]
    with pytest.raises(ApolloApiError, match="some inputs could not be matched to a contact"):
        order_bulk_result([{"first_name": "A"}, {"first_name": "B"}], [{"id": "1", "first_name": "A"}], [])


def test_the_missing_message_counts_more_only_past_twenty() -> None:
    twenty = StageCheckResult(done=[], missing=[f"i{n}" for n in range(20)], waiting=[], calls=1)
    assert "more" not in twenty.missing_message()
    twenty_one = StageCheckResult(done=[], missing=[f"i{n}" for n in range(21)], waiting=[], calls=1)
    assert twenty_one.missing_message().endswith(" and 1 more.")


def test_health_request_is_a_get_on_the_health_endpoint() -> None:
    request = health_request(_config())
    assert (request.method, request.endpoint, request.rate_key) == ("GET", "/auth/health", "GET /auth/health")


def test_apollos_words_are_cut_at_300_characters() -> None:
    said = health_failure(ApolloAuthError("x", status_code=401, body={"error": "e" * 400}), _config())
    assert said.endswith("Apollo said: " + "e" * 300)
    said = health_failure(ApolloAuthError("x", status_code=401, body="t" * 400), _config())
    assert said.endswith("Apollo said: " + "t" * 300)


def test_search_argument_messages_say_what_to_use_instead() -> None:
    with pytest.raises(ApolloArgumentError, match=re.escape("(use per_page= and max_records=).")):
        validate_search({"page": 1}, 10, None)
    with pytest.raises(ApolloArgumentError, match="contact_created_at, contact_updated_at; got .x.\\.$"):
        validate_search({"sort_by_field": "x"}, 10, None)


def test_checks_refuse_booleans_as_integers_and_name_the_bad_value_type() -> None:
    from airflow_provider_apollo.core import check_int_range

    with pytest.raises(ApolloArgumentError, match="got True"):
        check_int_range(True, "concurrency", 0, 8)
    with pytest.raises(ApolloArgumentError, match="got set: "):
        check_fields({"x": {1}})


def test_waits_of_a_new_reason_start_from_zero_and_pacing_is_rounded() -> None:
    stats = RequestStats()
    stats.record_wait("other", 0.5)
    stats.record_wait("pacing", 0.12345)
    assert stats.snapshot().as_dict()["pacing_wait_seconds"] == 0.123
    assert stats._waits["other"] == 0.5


def test_a_timeout_is_recognised_by_its_type_name() -> None:
    class ReadTimeout(Exception):
        pass

    assert no_answer(ReadTimeout("slow")).reason == "timed out"
    assert no_answer(ValueError("other")).reason == "connection dropped"


# --------------------------------------------------------------------------- third pass: the open four


def _minute_usage(limit: int, used: int) -> ApiResponse:
    headers = {
        "x-rate-limit-minute": str(limit),
        "x-minute-usage": str(used),
        "x-minute-requests-left": str(limit - used),
    }
    return ApiResponse(200, headers, b"{}")


def test_a_released_ticket_no_longer_counts_against_the_window() -> None:
    """A request that got no answer gives its place back: the next two go out without a probe wait."""
    limiter = RateLimiter()
    wait, first = limiter.acquire("POST /contacts", 0.0)
    assert (wait, first) == (0.0, 1)
    limiter.observe("POST /contacts", _minute_usage(3, 1), 0.0, 0.1, 1)  # opened the window: 2 left
    wait, dropped = limiter.acquire("POST /contacts", 0.2)
    assert wait == 0.0 and dropped is not None
    limiter.release("POST /contacts", dropped)  # connection refused: Apollo never counted it
    assert limiter.acquire("POST /contacts", 0.3)[0] == 0.0  # the 2nd of 3
    assert limiter.acquire("POST /contacts", 0.4)[0] == 0.0  # the 3rd of 3
    # The window is full; its end is not known yet (no 429 seen): one probe goes to learn it.
    assert limiter.acquire("POST /contacts", 0.5)[0] == 0.0
    assert limiter.acquire("POST /contacts", 0.6) == (0.05, None)


def test_no_page_is_worth_reading_once_max_records_were_handed_out_even_after_a_rewind() -> None:
    pager = SearchPager({}, per_page=10, max_records=20)
    page = {"pagination": {"page": 1, "per_page": 10, "total_entries": 100, "total_pages": 10}}
    pager.accept({**page, "contacts": [{"id": f"a{i}"} for i in range(10)]})
    assert pager.last_page_worth_reading() == 2
    shrunk = {"pagination": {"page": 2, "per_page": 10, "total_entries": 97, "total_pages": 10}}
    pager.accept({**shrunk, "contacts": [{"id": f"b{i}"} for i in range(10)]})
    assert pager.emitted == 20 and pager.next_page == 1  # rewound, but nothing more is wanted
    assert pager.last_page_worth_reading() == 0


def test_a_finished_search_asks_for_no_more_pages() -> None:
    pager = SearchPager({"q_keywords": "x"}, per_page=10, max_records=None)
    assert pager.next_request() == pager.request_for(1)
    pager.accept(
        {
            "contacts": [{"id": "a"}],
            "pagination": {"page": 1, "per_page": 10, "total_entries": 1, "total_pages": 1},
        }
    )
    assert pager.next_request() is None
    assert SearchPager({}, per_page=10, max_records=0).next_request() is None


def test_the_stages_request_and_an_unexpected_stages_answer() -> None:
    from airflow_provider_apollo.core.endpoints import list_stages_request
    from airflow_provider_apollo.core.stages import stages_of

    assert list_stages_request() == ApiRequest("GET", "/contact_stages", endpoint="/contact_stages")
    assert list_stages_request().rate_key == "GET /contact_stages"
    with pytest.raises(ApolloApiError) as raised:
        stages_of(["not", "a", "dict"])
    assert str(raised.value) == "Apollo GET /contact_stages answered an unexpected body"
    assert raised.value.body == ["not", "a", "dict"]


def test_contact_id_messages_name_the_argument_the_type_and_at_most_five_bad_ids() -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        validate_contact_ids("c1")
    assert str(raised.value) == "contact_ids must be a list of contact id strings, got str."
    with pytest.raises(ApolloArgumentError) as raised:
        validate_contact_ids(["", 1, None, " ", 2, 3, 4], "ids")
    assert str(raised.value) == "ids must contain non-empty strings only; got '', 1, None, ' ', 2 and 2 more."
    with pytest.raises(ApolloArgumentError) as raised:
        validate_contact_ids(["ok", "", 5])
    assert str(raised.value) == "contact_ids must contain non-empty strings only; got '', 5."


def test_an_exception_reachable_twice_does_not_hide_the_rest_of_the_chain() -> None:
    """urllib3 style: the same error as ``reason`` and as ``__context__``, the refusal as the cause."""
    shared = OSError("shared")
    wrapper = ConnectionError("Max retries exceeded")
    wrapper.reason = shared  # type: ignore[attr-defined]
    wrapper.__context__ = shared
    wrapper.__cause__ = ConnectionRefusedError(111, "Connection refused")
    outcome = no_answer(wrapper)
    assert (outcome.reason, outcome.maybe_applied) == ("connection refused", False)


def test_usage_of_an_endpoint_never_answered_is_empty() -> None:
    assert RateLimiter().usage("GET /contacts/{id}") == {}


def test_a_plan_over_many_days_counts_hours_exactly() -> None:
    from airflow_provider_apollo.core.quota import BatchCursor, WindowUsage, describe_plan

    usage = {"day": WindowUsage(1000, 1000, 0)}
    assert describe_plan("all", 8000, "/contacts", usage).endswith(
        ": about 192.0 hours, waiting for quota resets in the triggerer"
    )
    assert BatchCursor.from_json({}) == BatchCursor(0, [], 0)


# --- match_stage: names in either field, bad arguments named -------------------------------------

_SPLIT_STAGES = [
    {"id": "s-a", "display_name": "Approaching", "name": "approaching_internal"},
    {"id": "s-b", "name": "Bounced"},  # no display name: its name still matches
    {"id": "s-c", "display_name": "Closed"},  # no name: its display name still matches
]


def test_a_stage_matches_by_its_name_when_the_display_name_differs_or_is_missing() -> None:
    assert match_stage(_SPLIT_STAGES, "APPROACHING_internal") == "s-a"
    assert match_stage(_SPLIT_STAGES, "approaching") == "s-a"
    assert match_stage(_SPLIT_STAGES, "bounced") == "s-b"
    assert match_stage(_SPLIT_STAGES, "closed") == "s-c"


@pytest.mark.parametrize("name", ["xxxx", "none"])
def test_a_missing_stage_field_matches_no_name(name: str) -> None:
    with pytest.raises(ApolloArgumentError, match=f"Unknown contact stage '{name}'"):
        match_stage(_SPLIT_STAGES, name)


@pytest.mark.parametrize("bad", [None, 7, "", "   "])
def test_a_stage_that_is_not_a_non_empty_string_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(
        ApolloArgumentError,
        match=r"contact stage must be a non-empty string \(id or name\), got " + re.escape(repr(bad)),
    ):
        match_stage(_SPLIT_STAGES, bad)


def test_the_unknown_stage_message_lists_a_stage_without_a_display_name_by_its_name() -> None:
    with pytest.raises(ApolloArgumentError) as info:
        match_stage(_SPLIT_STAGES, "Hot")
    assert "Known stages: 'Approaching', 'Bounced', 'Closed'." in str(info.value)


def test_bad_contact_ids_show_five_and_count_the_rest() -> None:
    with pytest.raises(ApolloArgumentError) as five:
        validate_contact_ids(["", 1, None, " ", 2.0])
    assert str(five.value) == "contact_ids must contain non-empty strings only; got '', 1, None, ' ', 2.0."
    with pytest.raises(ApolloArgumentError) as six:
        validate_contact_ids(["ok", "", 1, None, " ", 2.0, 3], "ids")
    assert str(six.value) == "ids must contain non-empty strings only; got '', 1, None, ' ', 2.0 and 1 more."
