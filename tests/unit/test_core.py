"""The sans-I/O decisions: config, errors, retries, rate limits, paging, stages (no HTTP)."""

from __future__ import annotations

import random

import pytest

from airflow_provider_apollo.core import (
    DEFAULT_BASE_URL,
    PATH_SEARCH,
    SEARCH_RESULT_CAP,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    RateLimiter,
    RetryPolicy,
    SearchPager,
    error_for,
    ids_params,
    match_stage,
    normalise_base_url,
    order_bulk_result,
    parse_json_body,
    read_pagination,
    read_rate_limit_headers,
    validate_contact_ids,
    validate_search,
)
from airflow_provider_apollo.exceptions import (
    ApolloAuthError,
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloSearchCapError,
    ApolloServerError,
    ApolloValidationError,
)

SEARCH = ApiRequest("POST", PATH_SEARCH, endpoint=PATH_SEARCH)
CREATE = ApiRequest("POST", "/contacts", idempotent=False, endpoint="/contacts")


def config(**extra: object) -> ApolloConfig:
    return ApolloConfig.from_connection(
        conn_id="apollo_default", password="sekrit-key", host=None, extra=extra
    )


def response(status: int, body: bytes = b"{}", **headers: str) -> ApiResponse:
    return ApiResponse(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


# ------------------------------------------------------------------ config


def test_config_without_key_fails_before_any_request() -> None:
    with pytest.raises(ApolloAuthError, match="no API key"):
        ApolloConfig.from_connection(conn_id="apollo_default", password=None, host=None, extra={})


def test_config_defaults_to_apollo_base_url_and_x_api_key_header() -> None:
    cfg = config()
    assert cfg.base_url == DEFAULT_BASE_URL
    assert cfg.headers()["x-api-key"] == "sekrit-key"
    assert "Authorization" not in cfg.headers()
    assert cfg.headers()["User-Agent"].startswith("airflow-provider-apollo/")


def test_config_bearer_sends_authorization_header() -> None:
    headers = config(auth_type="bearer").headers()
    assert headers["Authorization"] == "Bearer sekrit-key"
    assert "x-api-key" not in headers


def test_config_reads_extras_as_numbers() -> None:
    cfg = config(timeout="12.5", max_retries=2, max_retry_wait="5")
    assert (cfg.timeout, cfg.max_retries, cfg.max_retry_wait) == (12.5, 2, 5.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"timeout": "soon"}, "'timeout' must be a number"),
        ({"timeout": 0}, "'timeout' must be > 0"),
        ({"max_retries": -1}, "'max_retries' must be >= 0"),
        ({"auth_type": "basic"}, "'auth_type' must be 'api_key' or 'bearer'"),
    ],
)
def test_config_rejects_bad_extras_by_name(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        config(**extra)


def test_config_repr_and_redaction_hide_the_key() -> None:
    cfg = config()
    assert "sekrit-key" not in repr(cfg)
    assert cfg.redact("url?api_key=sekrit-key") == "url?api_key=***"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("http://127.0.0.1:8765/api/v1/", "http://127.0.0.1:8765/api/v1"),
        ("api.apollo.io", "https://api.apollo.io/api/v1"),
        ("https://api.apollo.io", "https://api.apollo.io/api/v1"),
        ("", DEFAULT_BASE_URL),
    ],
)
def test_base_url_is_normalised(host: str, expected: str) -> None:
    assert normalise_base_url(host) == expected


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, ApolloAuthError),
        (403, ApolloAuthError),
        (422, ApolloValidationError),
        (429, ApolloRateLimitError),
        (500, ApolloServerError),
        (503, ApolloServerError),
    ],
)
def test_status_maps_to_error_type(status: int, error_type: type) -> None:
    error = error_for(SEARCH, response(status, b'{"error": "nope"}'), config())
    assert type(error) is error_type
    assert error.status_code == status
    assert "nope" in str(error)


def test_401_plain_text_message_is_kept() -> None:
    error = error_for(SEARCH, response(401, b"Invalid access credentials."), config())
    assert "Invalid access credentials." in str(error)


def test_422_carries_deleted_contact_ids() -> None:
    body = b'{"error": "Cannot update contact as it is deleted.", "deleted_contact_ids": ["a1", "b2"]}'
    error = error_for(SEARCH, response(422, body), config())
    assert isinstance(error, ApolloValidationError)
    assert error.deleted_contact_ids == ["a1", "b2"]


def test_429_carries_retry_after() -> None:
    error = error_for(
        SEARCH, response(429, b'{"message": "600 times per hour"}', retry_after="15733"), config()
    )
    assert isinstance(error, ApolloRateLimitError)
    assert error.retry_after == 15733.0


def test_error_message_never_contains_the_key() -> None:
    error = error_for(SEARCH, response(422, b'{"error": "bad key sekrit-key echoed"}'), config())
    assert "sekrit-key" not in str(error)


def test_truncated_json_body_is_a_retryable_transport_fault() -> None:
    with pytest.raises(ApolloConnectionError) as caught:
        parse_json_body(SEARCH, response(200, b'{"contacts": [{"id": '))
    assert caught.value.maybe_applied


# ------------------------------------------------------------------ retries

POLICY = RetryPolicy(max_retries=3, max_retry_wait=60)


def test_429_within_max_retry_wait_is_retried_after_retry_after() -> None:
    error = ApolloRateLimitError("429", retry_after=3)
    assert POLICY.should_retry(error, idempotent=True)
    assert POLICY.wait_seconds(error, 1) == pytest.approx(3.05)


def test_429_beyond_max_retry_wait_is_not_retried() -> None:
    assert not POLICY.should_retry(ApolloRateLimitError("429", retry_after=3600), idempotent=True)


def test_429_is_retried_even_for_a_create_without_dedupe() -> None:
    assert POLICY.should_retry(ApolloRateLimitError("429", retry_after=1), idempotent=False)


def test_5xx_is_retried_only_when_idempotent() -> None:
    assert POLICY.should_retry(ApolloServerError("500", status_code=500), idempotent=True)
    assert not POLICY.should_retry(ApolloServerError("500", status_code=500), idempotent=False)


def test_connection_never_made_is_retried_even_for_a_create() -> None:
    assert POLICY.should_retry(ApolloConnectionError("refused", maybe_applied=False), idempotent=False)
    assert not POLICY.should_retry(ApolloConnectionError("dropped", maybe_applied=True), idempotent=False)
    assert POLICY.should_retry(ApolloConnectionError("dropped", maybe_applied=True), idempotent=True)


def test_validation_and_auth_errors_are_never_retried() -> None:
    assert not POLICY.should_retry(ApolloValidationError("422"), idempotent=True)
    assert not POLICY.should_retry(ApolloAuthError("401"), idempotent=True)


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    waits = [POLICY.wait_seconds(ApolloServerError("500"), attempt, rng) for attempt in range(1, 12)]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = min(POLICY.backoff_max, POLICY.backoff_initial * 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert max(waits) <= POLICY.backoff_max


def test_the_request_lifecycle_stops_after_the_retry_budget() -> None:
    from airflow_provider_apollo.core import Answered, RequestStats, drive, request_lifecycle

    calls = []

    def always_500(request: ApiRequest) -> Answered:
        calls.append(1)
        return Answered(ApiResponse(500, {}, b'{"error": "boom"}'))

    fast = RetryPolicy(max_retries=2, backoff_initial=0.001)
    lifecycle = request_lifecycle(
        SEARCH, config=ApolloConfig(api_key="k"), policy=fast, limiter=RateLimiter(), stats=RequestStats()
    )
    with pytest.raises(ApolloServerError):
        drive(lifecycle, always_500)
    assert len(calls) == 3


# ------------------------------------------------------------------ rate limits


def minute_headers(limit: int, used: int, status: int = 200, retry_after: str | None = None) -> ApiResponse:
    headers = {
        "x-rate-limit-minute": str(limit),
        "x-minute-usage": str(used),
        "x-minute-requests-left": str(max(0, limit - used)),
        "x-rate-limit-hourly": "",
        "x-rate-limit-24-hour": "",
    }
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return ApiResponse(status, headers, b"{}")


def test_rate_limit_headers_read_both_day_spellings() -> None:
    new = read_rate_limit_headers(
        {"x-rate-limit-24-hour": "6000", "x-24-hour-usage": "10", "x-24-hour-requests-left": "5990"}
    )
    old = read_rate_limit_headers(
        {"x-rate-limit-daily": "6000", "x-daily-usage": "10", "x-daily-requests-left": "5990"}
    )
    assert new["day"] == old["day"]
    assert new["day"].left == 5990


def test_empty_limit_header_means_unlimited() -> None:
    assert (
        read_rate_limit_headers({"x-rate-limit-hourly": "", "x-hourly-requests-left": ""})["hour"].limit
        is None
    )


def send(limiter: RateLimiter, key: str, now: float) -> int:
    wait, ticket = limiter.acquire(key, now)
    assert wait == 0.0 and ticket is not None, f"expected to send at {now}, was told to wait {wait}"
    return ticket


def test_limiter_learns_the_window_from_the_first_429_then_waits_instead_of_failing() -> None:
    limiter, key = RateLimiter(), "POST /contacts/search"
    now = 100.0
    for used in range(1, 21):  # a 20-per-window quota used up in a burst
        limiter.observe(key, minute_headers(20, used), now, now, send(limiter, key, now))
        now += 0.01
    # Used up, reset unknown: one request goes to find out.
    probe = send(limiter, key, now)
    limiter.observe(key, minute_headers(20, 20, status=429, retry_after="2.8"), now, now, probe)
    wait, ticket = limiter.acquire(key, now)
    assert ticket is None and wait == pytest.approx(2.8, abs=0.1)  # plus a small margin past the reset
    # The window opened at 100.0 and resets at now + 2.8: its length is learned.
    now += wait
    for used in range(1, 21):
        limiter.observe(key, minute_headers(20, used), now, now, send(limiter, key, now))
        now += 0.01
    wait, ticket = limiter.acquire(key, now)
    assert ticket is None and wait > 2.0, "quota used up: wait for the reset rather than meet a second 429"


def test_limiter_counts_requests_in_flight_as_spent() -> None:
    limiter, key = RateLimiter(), "k"
    limiter.observe(key, minute_headers(10, 1), 0.0, 0.0, send(limiter, key, 0.0))
    tickets = [send(limiter, key, 0.1) for _ in range(9)]  # 1 answered + 9 in flight = 10
    wait, ticket = limiter.acquire(key, 0.1)
    assert ticket is not None, "used up but reset unknown: this one is the probe"
    assert limiter.acquire(key, 0.1)[1] is None, "while the probe is unanswered the others wait"
    # An answer processed early by Apollo arrives late: it cannot lower the usage already seen.
    limiter.observe(key, minute_headers(10, 2), 0.1, 0.2, tickets[0])
    limiter.release(key, ticket)  # the probe's connection dropped
    assert limiter.acquire(key, 0.2)[1] is not None, "a new probe may go"


def test_limiter_waits_only_when_the_learned_window_is_used_up() -> None:
    limiter, key = RateLimiter(), "k"
    limiter.observe(key, minute_headers(100, 1), 0.0, 0.0, send(limiter, key, 0.0))
    probe = send(limiter, key, 0.0)
    limiter.observe(key, minute_headers(100, 100, status=429, retry_after="60"), 0.0, 0.0, probe)
    wait, _ = limiter.acquire(key, 0.0)
    assert wait == pytest.approx(60.0, abs=0.7)
    limiter.observe(key, minute_headers(100, 1), 61.0, 61.0, send(limiter, key, 61.0))
    for _ in range(98):
        send(limiter, key, 61.5)
    assert limiter.acquire(key, 61.5)[1] is not None, "the hundredth request of the window goes"
    wait, ticket = limiter.acquire(key, 61.5)
    assert ticket is None and wait == pytest.approx(60.0, abs=0.7)
    assert limiter.acquire(key, 122.0)[1] is not None, "past the reset, requests go again"


def test_limiter_does_not_pace_on_a_guessed_window_length() -> None:
    limiter = RateLimiter()
    limiter.observe("k", minute_headers(20, 19), 0.0, 0.0, send(limiter, "k", 0.0))
    assert limiter.acquire("k", 0.1)[1] is not None


def test_hourly_429_teaches_the_limiter_nothing() -> None:
    limiter = RateLimiter()
    limiter.observe("k", minute_headers(200, 1), 0.0, 0.0, send(limiter, "k", 0.0))
    limiter.observe(
        "k", minute_headers(200, 5, status=429, retry_after="3000"), 1.0, 1.0, send(limiter, "k", 1.0)
    )
    assert limiter.acquire("k", 1.0)[1] is not None


# ------------------------------------------------------------------ paging


def page(
    number: object, total_pages: object, total: int, ids: list[str], per_page: object = 100
) -> dict[str, object]:
    return {
        "contacts": [{"id": i} for i in ids],
        "pagination": {
            "page": number,
            "per_page": per_page,
            "total_entries": total,
            "total_pages": total_pages,
        },
    }


def test_pagination_tolerates_numbers_sent_as_strings() -> None:
    pagination = read_pagination(page("2", "3", 250, [], per_page="100"))
    assert (pagination.page, pagination.per_page, pagination.total_pages) == (2, 100, 3)


def test_pager_walks_pages_until_total_pages() -> None:
    pager = SearchPager({}, per_page=2, max_records=None)
    seen = []
    bodies = iter([page(1, 3, 5, ["a", "b"]), page(2, 3, 5, ["c", "d"]), page(3, 3, 5, ["e"])])
    while (request := pager.next_request()) is not None:
        assert request.json_body["page"] == len(seen) // 2 + 1
        seen += [c["id"] for c in pager.accept(next(bodies))]
    assert seen == ["a", "b", "c", "d", "e"]


def test_pager_stops_at_max_records_mid_page() -> None:
    pager = SearchPager({}, per_page=2, max_records=3)
    assert [c["id"] for c in pager.accept(page(1, 5, 10, ["a", "b"]))] == ["a", "b"]
    assert [c["id"] for c in pager.accept(page(2, 5, 10, ["c", "d"]))] == ["c"]
    assert pager.next_request() is None


def test_pager_stops_on_an_empty_page() -> None:
    pager = SearchPager({}, per_page=2, max_records=None)
    pager.accept(page(1, 5, 10, ["a", "b"]))
    pager.accept(page(2, 5, 10, []))
    assert pager.next_request() is None


def test_pager_refuses_a_search_beyond_the_cap_before_any_record() -> None:
    pager = SearchPager({}, per_page=100, max_records=None)
    with pytest.raises(ApolloSearchCapError, match="50,000") as caught:
        pager.accept(page(1, 500, SEARCH_RESULT_CAP + 1, ["a"]))
    assert caught.value.total_entries == SEARCH_RESULT_CAP + 1


def test_pager_allows_a_deliberate_partial_read_beyond_the_cap() -> None:
    pager = SearchPager({}, per_page=100, max_records=1000)
    assert len(pager.accept(page(1, 500, 80_000, ["a"]))) == 1


@pytest.mark.parametrize(
    ("filters", "per_page", "max_records", "message"),
    [
        ([], 100, None, "filters must be a dict"),
        ({"page": 2}, 100, None, "must not contain 'page'"),
        ({}, 0, None, "per_page must be an integer from 1 to 100"),
        ({}, 101, None, "per_page must be an integer from 1 to 100"),
        ({}, 100, -1, "max_records must be a non-negative integer"),
        ({"sort_by_field": "name"}, 100, None, "sort_by_field must be one of"),
    ],
)
def test_search_arguments_are_checked_before_any_request(
    filters: object, per_page: object, max_records: object, message: str
) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        validate_search(filters, per_page, max_records)


# ------------------------------------------------------------------ ids, stages, bulk results


@pytest.mark.parametrize("bad", ["abc", None, ["ok", 3], ["ok", ""], {"a": 1}])
def test_contact_ids_must_be_a_list_of_non_empty_strings(bad: object) -> None:
    with pytest.raises(ApolloValidationError, match="contact_ids"):
        validate_contact_ids(bad)


def test_ids_are_sent_as_rails_array_query_parameters() -> None:
    assert ids_params("contact_ids", ["a", "b"], {"owner_id": "u"}) == (
        ("contact_ids[]", "a"),
        ("contact_ids[]", "b"),
        ("owner_id", "u"),
    )


STAGES = [
    {"id": "s-cold", "display_name": "Cold", "name": "Cold"},
    {"id": "s-int", "display_name": "Interested", "name": "Interested"},
]


def test_stage_resolves_by_id_or_case_insensitive_name() -> None:
    assert match_stage(STAGES, "s-int") == "s-int"
    assert match_stage(STAGES, "interested") == "s-int"
    assert match_stage(STAGES, " COLD ") == "s-cold"


def test_unknown_stage_lists_the_known_names() -> None:
    with pytest.raises(ApolloValidationError, match=r"Unknown contact stage 'Hot'.*'Cold', 'Interested'"):
        match_stage(STAGES, "Hot")


def test_bulk_result_is_put_back_in_input_order() -> None:
    inputs = [{"email": "b@x.io"}, {"first_name": "Ann", "last_name": "Lee"}, {"email": "a@x.io"}]
    created = [{"id": "1", "email": "a@x.io"}, {"id": "3", "first_name": "Ann", "last_name": "Lee"}]
    existing = [{"id": "2", "email": "B@X.io"}]
    assert [c["id"] for c in order_bulk_result(inputs, created, existing)] == ["2", "3", "1"]


def test_bulk_result_missing_contacts_is_an_error() -> None:
    with pytest.raises(Exception, match="2 inputs"):
        order_bulk_result([{"title": "x"}, {"title": "y"}], [{"id": "1"}], [])


def test_pager_rewinds_when_contacts_deleted_in_front_shift_records_back() -> None:
    pager, seen = SearchPager({}, per_page=2, max_records=None), set()
    got = [c["id"] for c in pager.accept(page(1, 3, 6, ["a", "b"]), seen=seen)]
    # "a" was deleted: every record moved back one place, so page 2 now starts at "d".
    got += [c["id"] for c in pager.accept(page(2, 3, 5, ["d", "e"]), seen=seen)]
    assert pager.next_page == 1 and pager.rewinds == 1
    got += [c["id"] for c in pager.accept(page(1, 3, 5, ["b", "c"]), seen=seen)]
    got += [c["id"] for c in pager.accept(page(2, 3, 5, ["d", "e"]), seen=seen)]
    got += [c["id"] for c in pager.accept(page(3, 3, 5, ["f"]), seen=seen)]
    assert got == ["a", "b", "d", "e", "c", "f"]
    assert pager.next_request() is None


def test_pager_drops_contacts_it_already_handed_out() -> None:
    pager, seen = SearchPager({}, per_page=2, max_records=None), set()
    pager.accept(page(1, 2, 4, ["a", "b"]), seen=seen)
    assert [c["id"] for c in pager.accept(page(2, 2, 4, ["b", "c"]), seen=seen)] == ["c"]
