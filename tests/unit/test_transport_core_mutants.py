"""Transport-side core (config, responses, contacts, rate limits, lifecycle): behaviours mutation testing found unguarded."""

from __future__ import annotations

from dataclasses import replace
from itertools import islice
from typing import Any

import pytest
from mutant_support import argument_error

from airflow_provider_apollo import __version__
from airflow_provider_apollo.core.config import (
    DEFAULT_BASE_URL,
    ApolloConfig,
    check_overrides,
    normalise_base_url,
)
from airflow_provider_apollo.core.contacts import order_bulk_result
from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lifecycle import _chain, no_answer
from airflow_provider_apollo.core.ratelimit import (
    PROBE_POLL,
    RateLimiter,
    WindowUsage,
    read_rate_limit_headers,
)
from airflow_provider_apollo.core.responses import (
    ApiResponse,
    decode_body,
    error_for,
    parse_json_body,
    parse_retry_after,
)
from airflow_provider_apollo.core.retries import RetryPolicy
from airflow_provider_apollo.core.validation import check_fields, check_non_empty_string
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloNotFoundError,
    ApolloRateLimitError,
    ApolloServerError,
    ApolloValidationError,
)


def test_a_cyclic_exception_graph_is_walked_once_per_exception() -> None:
    """Two errors that name each other as cause: the walk ends, each error seen once."""
    first = OSError("first")
    second = ConnectionResetError("second")
    first.__cause__ = second
    second.__cause__ = first
    assert [type(error) for error in islice(_chain(first), 10)] == [OSError, ConnectionResetError]
    assert no_answer(first).reason == "connection dropped"


# --- config: the connection's fields, the retry budget, headers ---------------------------------

KEY = "sekrit-key"


def connection(host: str | None = None, password: str | None = KEY, **extra: Any) -> ApolloConfig:
    return ApolloConfig.from_connection(conn_id="apollo_x", password=password, host=host, extra=extra)


def test_a_connection_without_a_key_names_the_connection_and_the_fix() -> None:
    for password in (None, ""):
        with pytest.raises(ApolloAuthError) as caught:
            connection(password=password)
        assert str(caught.value) == (
            "Connection 'apollo_x' has no API key: put the Apollo API key in the connection's password."
        )


def test_a_connection_with_no_extras_has_the_default_budget() -> None:
    no_extras: tuple[dict[str, Any] | None, ...] = (None, {})
    for extras in no_extras:
        config = ApolloConfig.from_connection(conn_id="c", password=KEY, host=None, extra=extras)
        assert config == ApolloConfig(KEY, DEFAULT_BASE_URL, "api_key", 30.0, 5, 60.0)
        assert type(config.max_retries) is int


def test_auth_type_is_read_case_insensitively_and_a_blank_one_is_the_default() -> None:
    assert connection(auth_type="Bearer").auth_type == "bearer"
    assert connection(auth_type="API_KEY").auth_type == "api_key"
    assert connection(auth_type="").auth_type == "api_key"
    assert connection(auth_type=None).auth_type == "api_key"
    assert argument_error(connection, auth_type="Basic") == (
        "Connection 'apollo_x': extra 'auth_type' must be 'api_key' or 'bearer', got 'basic'."
    )


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ({"timeout": "0.5", "max_retries": "0", "max_retry_wait": "0"}, (0.5, 0, 0.0)),
        ({"timeout": 7, "max_retries": 3.0, "max_retry_wait": "2.5"}, (7.0, 3, 2.5)),
        ({"timeout": "", "max_retries": "", "max_retry_wait": ""}, (30.0, 5, 60.0)),
        ({"timeout": None, "max_retries": None, "max_retry_wait": None}, (30.0, 5, 60.0)),
    ],
)
def test_the_retry_budget_takes_zero_retries_and_zero_waits_and_whole_retry_counts(
    extras: dict[str, Any], expected: tuple[float, int, float]
) -> None:
    config = connection(**extras)
    assert (config.timeout, config.max_retries, config.max_retry_wait) == expected
    assert type(config.max_retries) is int
    assert type(config.timeout) is float and type(config.max_retry_wait) is float


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        ({"timeout": 0}, "Connection 'apollo_x': extra 'timeout' must be > 0, got 0."),
        ({"timeout": "-1"}, "Connection 'apollo_x': extra 'timeout' must be > 0, got '-1'."),
        ({"timeout": "inf"}, "Connection 'apollo_x': extra 'timeout' must be > 0, got 'inf'."),
        ({"timeout": [1]}, "Connection 'apollo_x': extra 'timeout' must be a number, got [1]."),
        ({"timeout": "soon"}, "Connection 'apollo_x': extra 'timeout' must be a number, got 'soon'."),
        ({"max_retries": -1}, "Connection 'apollo_x': extra 'max_retries' must be >= 0, got -1."),
        ({"max_retries": True}, "Connection 'apollo_x': extra 'max_retries' must be >= 0, got True."),
        ({"max_retries": 2.5}, "Connection 'apollo_x': extra 'max_retries' must be a whole number, got 2.5."),
        ({"max_retry_wait": "nan"}, "Connection 'apollo_x': extra 'max_retry_wait' must be >= 0, got 'nan'."),
        ({"max_retry_wait": -0.5}, "Connection 'apollo_x': extra 'max_retry_wait' must be >= 0, got -0.5."),
    ],
)
def test_a_bad_budget_extra_is_refused_naming_it_and_the_rule(extras: dict[str, Any], message: str) -> None:
    assert argument_error(connection, **extras) == message


def test_hook_overrides_replace_only_what_they_name() -> None:
    base = connection(timeout=9, max_retries=2, max_retry_wait=4)
    assert base.with_overrides(timeout=3) == replace(base, timeout=3.0)
    assert base.with_overrides(max_retries=0, max_retry_wait=None) == replace(base, max_retries=0)
    assert base.with_overrides() == base
    assert check_overrides({"timeout": None, "max_retries": "1"}) == {"max_retries": 1}
    assert argument_error(base.with_overrides, max_retries=-2) == (
        "ApolloHook argument 'max_retries' must be >= 0, got -2."
    )
    assert argument_error(base.with_overrides, retries=1, backoff=2, timeout=None) == (
        "unknown config overrides ['backoff', 'retries']; known: "
        "['max_retries', 'max_retry_wait', 'timeout']."
    )


def test_headers_are_exactly_json_no_cache_a_user_agent_and_one_credential() -> None:
    common = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Cache-Control": "no-cache",
        "User-Agent": f"airflow-provider-apollo/{__version__}",
    }
    assert connection().headers() == {**common, "x-api-key": KEY}
    assert connection(auth_type="bearer").headers() == {**common, "Authorization": f"Bearer {KEY}"}


def test_urls_join_the_base_and_the_path_and_redaction_of_no_key_changes_nothing() -> None:
    assert connection("http://127.0.0.1:9/api/v1").url("/contacts/search") == (
        "http://127.0.0.1:9/api/v1/contacts/search"
    )
    assert connection().redact(f"a {KEY} b {KEY}") == "a *** b ***"
    assert ApolloConfig(api_key="").redact("a b") == "a b"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, DEFAULT_BASE_URL),
        ("  api.apollo.io/  ", "https://api.apollo.io/api/v1"),
        ("http://api.apollo.io//", "http://api.apollo.io/api/v1"),
        ("https://api.apollo.io/api/v1/", "https://api.apollo.io/api/v1"),
        ("apollo.internal:8443/proxy/", "https://apollo.internal:8443/proxy"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://gw.local/BOX/", "http://gw.local/BOX"),
    ],
)
def test_more_hosts_are_normalised(host: str | None, expected: str) -> None:
    assert normalise_base_url(host) == expected
    assert connection(host).base_url == expected


# --- responses: bodies, messages, the error for each status -------------------------------------

SEARCH = ApiRequest("POST", "/contacts/search", endpoint="/contacts/search")


def answer(status: int, body: bytes, **headers: str) -> ApiResponse:
    return ApiResponse(status, headers, body)


def test_a_body_is_json_when_it_parses_else_text_with_bad_bytes_replaced() -> None:
    assert decode_body(answer(200, b'{"a": [1]}')) == {"a": [1]}
    assert decode_body(answer(200, "caf\u00e9 \xff".encode("latin-1"))) == "caf\ufffd \ufffd"
    assert decode_body(answer(200, "café".encode())) == "café"
    assert decode_body(answer(200, b"")) == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": "bad", "message": "m"}', "bad"),
        (b'{"error": "", "message": "m", "error_message": "e"}', "m"),
        (b'{"error_message": "e"}', "e"),
        (b'{"errors": ["x"]}', '{"errors": ["x"]}'),
        (b'{"k": "' + b"v" * 600 + b'"}', ('{"k": "' + "v" * 600)[:500]),
        (b"  <html><body>Bad gateway</body></html>", "non-JSON (HTML) response"),
        (b"  plain words  ", "plain words"),
        (b"w" * 600, "w" * 500),
        (b"   ", "empty response"),
        (b"null", "empty response"),
    ],
)
def test_the_error_message_is_apollos_own_words(body: bytes, message: str) -> None:
    error = error_for(SEARCH, answer(500, body))
    assert str(error) == f"Apollo POST /contacts/search answered 500: {message}"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ApolloValidationError),
        (402, ApolloApiError),
        (404, ApolloNotFoundError),
        (409, ApolloApiError),
        (422, ApolloValidationError),
        (499, ApolloApiError),
        (500, ApolloServerError),
        (599, ApolloServerError),
    ],
)
def test_each_status_maps_to_its_error_with_the_status_and_body(status: int, kind: type) -> None:
    error = error_for(SEARCH, answer(status, b'{"error": "no"}'))
    assert type(error) is kind
    assert (error.status_code, error.body) == (status, {"error": "no"})


def test_a_rejection_carries_deleted_ids_only_from_a_json_object() -> None:
    listed = error_for(SEARCH, answer(400, b'{"deleted_contact_ids": ["d1"]}'))
    assert isinstance(listed, ApolloValidationError) and listed.deleted_contact_ids == ["d1"]
    text = error_for(SEARCH, answer(422, b"deleted"))
    assert isinstance(text, ApolloValidationError) and text.deleted_contact_ids == []


def test_a_429_reads_retry_after_and_the_key_is_redacted_only_with_a_config() -> None:
    limited = error_for(SEARCH, answer(429, b"slow down", **{"retry-after": " 2.5 "}))
    assert isinstance(limited, ApolloRateLimitError)
    assert (limited.retry_after, limited.status_code, limited.body) == (2.5, 429, "slow down")
    assert error_for(SEARCH, answer(429, b"x")).retry_after is None  # type: ignore[attr-defined]
    echoed = answer(401, f"bad key {KEY}".encode())
    assert str(error_for(SEARCH, echoed, connection())).endswith("answered 401: bad key ***")
    assert str(error_for(SEARCH, echoed)).endswith(f"answered 401: bad key {KEY}")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("inf", None),
        ("nan", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
    ],
)
def test_retry_after_is_seconds_never_negative_and_anything_else_is_absent(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value) == seconds


def test_a_2xx_body_that_is_not_json_is_a_maybe_applied_transport_fault() -> None:
    assert parse_json_body(SEARCH, answer(200, b'{"ok": true}')) == {"ok": True}
    with pytest.raises(ApolloConnectionError) as caught:
        parse_json_body(SEARCH, answer(201, b'{"contacts": ['))
    assert str(caught.value) == (
        "Apollo POST /contacts/search answered 201 with a body that is not valid JSON (14 bytes)"
    )
    assert caught.value.maybe_applied is True
    assert caught.value.reason == "answer is not JSON"


# --- contacts: Apollo's bulk-create answer matched back to its inputs ---------------------------


def ids_for(inputs: list[dict[str, Any]], returned: list[dict[str, Any]]) -> list[str]:
    return [contact["id"] for contact in order_bulk_result(inputs, returned, [])]


def test_inputs_without_email_are_matched_by_first_name_alone() -> None:
    inputs = [{"first_name": "Ann"}, {"first_name": "Bob"}]
    returned = [{"id": "bob", "first_name": "Bob"}, {"id": "ann", "first_name": "Ann"}]
    assert ids_for(inputs, returned) == ["ann", "bob"]


def test_inputs_without_email_are_told_apart_by_first_or_by_last_name() -> None:
    by_first = [{"first_name": "Ann", "last_name": "Lee"}, {"first_name": "Bob", "last_name": "Lee"}]
    answered = [{"id": "bob", "first_name": "Bob", "last_name": "Lee"}, {"id": "ann", **by_first[0]}]
    assert ids_for(by_first, answered) == ["ann", "bob"]
    by_last = [{"first_name": "Ann", "last_name": "Lee"}, {"first_name": "Ann", "last_name": "Kim"}]
    answered = [{"id": "kim", **by_last[1]}, {"id": "lee", **by_last[0]}]
    assert ids_for(by_last, answered) == ["lee", "kim"]


def test_an_answer_short_of_contacts_says_how_many_came_for_how_many_inputs() -> None:
    with pytest.raises(ApolloApiError) as caught:
        order_bulk_result([{"first_name": "A"}, {"first_name": "B"}], [{"id": "1", "first_name": "A"}], [])
    assert str(caught.value) == (
        "Apollo's bulk create answered 1 contacts for 2 inputs; some inputs could not be matched to a contact."
    )


# --- rate limits: headers read, windows reset, who opened a window --------------------------------

MINUTE = "POST /contacts/search"


def minute_answer(status: int, limit: int, used: int, retry_after: float | None = None) -> ApiResponse:
    headers = {
        "x-rate-limit-minute": str(limit),
        "x-minute-usage": str(used),
        "x-minute-requests-left": str(max(0, limit - used)),
    }
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return ApiResponse(status, headers, b"{}")


def ticket(limiter: RateLimiter, now: float) -> int:
    wait, granted = limiter.acquire(MINUTE, now)
    assert (wait, granted is not None) == (0.0, True), f"expected a ticket at {now}, got a wait of {wait}"
    assert granted is not None
    return granted


def test_a_window_is_read_from_its_limit_header_or_its_left_header_alone() -> None:
    assert read_rate_limit_headers({"x-rate-limit-minute": "50", "x-minute-usage": "3"}) == {
        "minute": WindowUsage(50, 3, None)
    }
    assert read_rate_limit_headers({"x-hourly-requests-left": "7"}) == {"hour": WindowUsage(None, None, 7)}
    assert read_rate_limit_headers({"x-hourly-usage": "7"}) == {}


def test_a_header_that_is_not_a_finite_number_is_read_as_absent() -> None:
    for value in ("", " ", "lots", "inf", "-inf", "nan"):
        assert read_rate_limit_headers({"x-rate-limit-minute": value}) == {
            "minute": WindowUsage(None, None, None)
        }
    assert read_rate_limit_headers({"x-rate-limit-minute": "50.9"}) == {"minute": WindowUsage(50, None, None)}


def test_a_window_resets_at_exactly_the_time_a_429_gave() -> None:
    limiter = RateLimiter()
    first = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=3), sent_at=0.0, now=1.0, ticket=first)
    assert limiter.acquire(MINUTE, 3.99)[1] is None
    ticket(limiter, 4.0)


def test_a_new_window_starts_with_nothing_used() -> None:
    """After the reset a limit of 2 takes two requests and one probe; only the fourth waits."""
    limiter = RateLimiter()
    first = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=3), sent_at=0.0, now=1.0, ticket=first)
    for _ in range(3):
        ticket(limiter, 4.0)
    assert limiter.acquire(MINUTE, 4.0) == (PROBE_POLL, None)


def test_requests_still_in_flight_at_a_reset_leave_a_probe_to_learn_the_new_window() -> None:
    limiter = RateLimiter()
    unanswered = [ticket(limiter, 0.0), ticket(limiter, 0.0)]
    third = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=3), sent_at=0.0, now=1.0, ticket=third)
    assert len(unanswered) == 2
    ticket(limiter, 4.5)  # both unanswered requests fill the new window: this one is its probe
    assert limiter.acquire(MINUTE, 4.5) == (PROBE_POLL, None)


def test_a_window_another_process_opened_is_not_predicted_from_the_length_learned_before() -> None:
    limiter = RateLimiter()
    opener = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(200, 2, 1), sent_at=0.0, now=0.1, ticket=opener)
    second = ticket(limiter, 1.0)
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=1.0, now=1.1, ticket=second)
    probe = ticket(limiter, 2.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=58), sent_at=2.0, now=2.0, ticket=probe)
    assert limiter.acquire(MINUTE, 59.0)[1] is None  # the learned 60 s window is waited out
    late = ticket(limiter, 60.0)
    # Usage 2 at once: another process opened this window, so its reset is unknown: probe.
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=60.0, now=60.1, ticket=late)
    ticket(limiter, 61.0)
    assert limiter.acquire(MINUTE, 61.0) == (PROBE_POLL, None)


def test_an_answer_for_a_key_never_paced_is_still_read() -> None:
    limiter = RateLimiter()
    limiter.observe(MINUTE, minute_answer(200, 50, 3), sent_at=0.0, now=0.1, ticket=1)
    assert limiter.usage(MINUTE) == {"minute": WindowUsage(50, 3, 47)}


def test_only_the_probes_own_answer_lets_another_probe_through() -> None:
    limiter = RateLimiter()
    early, other = ticket(limiter, 0.0), ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=0.0, now=0.5, ticket=other)
    probe = ticket(limiter, 1.0)  # the window is used up and its reset unknown: one probe
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=0.0, now=1.5, ticket=early)
    assert limiter.acquire(MINUTE, 2.0) == (PROBE_POLL, None)
    limiter.release(MINUTE, probe)
    ticket(limiter, 2.5)


def test_an_answer_with_a_limit_but_no_usage_teaches_nothing() -> None:
    limiter = RateLimiter()
    first = ticket(limiter, 0.0)
    no_usage = ApiResponse(200, {"x-rate-limit-minute": "1", "x-minute-requests-left": "0"}, b"{}")
    limiter.observe(MINUTE, no_usage, sent_at=0.0, now=0.1, ticket=first)
    ticket(limiter, 0.2)
    ticket(limiter, 0.2)


def test_the_retry_policy_takes_both_numbers_of_the_connections_budget() -> None:
    config = ApolloConfig(api_key=KEY, max_retries=2, max_retry_wait=7.5)
    assert RetryPolicy.from_config(config) == RetryPolicy(max_retries=2, max_retry_wait=7.5)


def test_checked_fields_and_strings_come_back_as_a_plain_dict_and_a_stripped_string() -> None:
    assert check_fields({"title": "CTO"}) == {"title": "CTO"}
    assert check_non_empty_string(" ann@x.io ", "owner", "a user's email") == "ann@x.io"
    for bad in ("   ", 5, None):
        assert argument_error(check_non_empty_string, bad, "owner", "a user's email") == (
            f"owner must be a non-empty string (a user's email), got {bad!r}."
        )
