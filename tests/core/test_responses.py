"""Apollo's answers: bodies decoded, the error type for each status, Apollo's words, no key shown."""

from __future__ import annotations

import pytest
from core_support import KEY, SEARCH, answer, connection

from airflow_provider_apollo.core.endpoints import ApiRequest, get_contact_request
from airflow_provider_apollo.core.responses import (
    ApiResponse,
    decode_body,
    error_for,
    parse_json_body,
    parse_retry_after,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloNotFoundError,
    ApolloRateLimitError,
    ApolloServerError,
    ApolloValidationError,
)

# --------------------------------------------------------------------------- bodies


def test_a_body_is_json_when_it_parses_else_text_with_bad_bytes_replaced() -> None:
    assert decode_body(answer(200, b'{"a": [1]}')) == {"a": [1]}
    assert decode_body(answer(200, "caf\u00e9 \xff".encode("latin-1"))) == "caf\ufffd \ufffd"
    assert decode_body(answer(200, "café".encode())) == "café"
    assert decode_body(answer(200, b"")) == ""


def test_truncated_json_body_is_a_retryable_transport_fault() -> None:
    with pytest.raises(ApolloConnectionError) as caught:
        parse_json_body(SEARCH, answer(200, b'{"contacts": [{"id": '))
    assert caught.value.maybe_applied


def test_a_2xx_body_that_is_not_json_is_a_maybe_applied_transport_fault() -> None:
    assert parse_json_body(SEARCH, answer(200, b'{"ok": true}')) == {"ok": True}
    with pytest.raises(ApolloConnectionError) as caught:
        parse_json_body(SEARCH, answer(201, b'{"contacts": ['))
    assert str(caught.value) == (
        "Apollo POST /contacts/search answered 201 with a body that is not valid JSON (14 bytes)"
    )
    assert caught.value.maybe_applied is True
    assert caught.value.reason == "answer is not JSON"


# --------------------------------------------------------------------------- the error for each status


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
    error = error_for(SEARCH, answer(status, b'{"error": "nope"}'), connection())
    assert type(error) is error_type
    assert error.status_code == status
    assert "nope" in str(error)


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
    error = error_for(request, answer(status, b'{"error": "said so"}', retry_after="7"), connection())
    assert type(error) is kind
    assert (error.status_code, error.body) == (status, {"error": "said so"})
    assert str(error) == f"Apollo GET /contacts/{{contact_id}} answered {status}: said so"
    if status == 429:
        assert isinstance(error, ApolloRateLimitError) and error.retry_after == 7.0


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
def test_statuses_between_the_named_ones_map_to_the_error_of_their_class(status: int, kind: type) -> None:
    error = error_for(SEARCH, answer(status, b'{"error": "no"}'))
    assert type(error) is kind
    assert (error.status_code, error.body) == (status, {"error": "no"})


def test_a_404_has_its_own_error_type() -> None:
    error = error_for(ApiRequest("GET", "/nowhere"), ApiResponse(404, {}, b'{"error": "Not found"}'))
    assert isinstance(error, ApolloNotFoundError)
    assert not isinstance(error, ApolloValidationError)


# --------------------------------------------------------------------------- Apollo's words in the message


def test_401_plain_text_message_is_kept() -> None:
    error = error_for(SEARCH, answer(401, b"Invalid access credentials."), connection())
    assert "Invalid access credentials." in str(error)


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
    error = error_for(get_contact_request("c1"), answer(500, body))
    assert str(error) == f"Apollo GET /contacts/{{contact_id}} answered 500: {said}"


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


def test_a_long_json_error_body_is_cut_at_500_characters() -> None:
    body = b'{"detail": "' + b"y" * 600 + b'"}'
    assert str(error_for(get_contact_request("c"), answer(500, body))).endswith('{"detail": "' + "y" * 488)


# --------------------------------------------------------------------------- what an error carries


def test_422_carries_deleted_contact_ids() -> None:
    body = b'{"error": "Cannot update contact as it is deleted.", "deleted_contact_ids": ["a1", "b2"]}'
    error = error_for(SEARCH, answer(422, body), connection())
    assert isinstance(error, ApolloValidationError)
    assert error.deleted_contact_ids == ["a1", "b2"]


def test_validation_errors_carry_the_deleted_ids_only_from_a_json_body() -> None:
    request = get_contact_request("c1")
    deleted = error_for(request, answer(422, b'{"error": "x", "deleted_contact_ids": ["a"]}'))
    assert isinstance(deleted, ApolloValidationError) and deleted.deleted_contact_ids == ["a"]
    text = error_for(request, answer(400, b"deleted_contact_ids"))
    assert isinstance(text, ApolloValidationError) and text.deleted_contact_ids == []


def test_a_rejection_carries_deleted_ids_only_from_a_json_object() -> None:
    listed = error_for(SEARCH, answer(400, b'{"deleted_contact_ids": ["d1"]}'))
    assert isinstance(listed, ApolloValidationError) and listed.deleted_contact_ids == ["d1"]
    text = error_for(SEARCH, answer(422, b"deleted"))
    assert isinstance(text, ApolloValidationError) and text.deleted_contact_ids == []


def test_429_carries_retry_after() -> None:
    error = error_for(
        SEARCH, answer(429, b'{"message": "600 times per hour"}', retry_after="15733"), connection()
    )
    assert isinstance(error, ApolloRateLimitError)
    assert error.retry_after == 15733.0


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


# --------------------------------------------------------------------------- the key is never shown


def test_error_message_never_contains_the_key() -> None:
    error = error_for(SEARCH, answer(422, f'{{"error": "bad key {KEY} echoed"}}'.encode()), connection())
    assert KEY not in str(error)


def test_error_messages_never_show_the_key() -> None:
    config = connection()
    body = f'{{"error": "bad key {KEY}"}}'.encode()
    assert KEY not in str(error_for(get_contact_request("c"), answer(401, body), config))
    assert config.redact(f"url?api_key={KEY}") == "url?api_key=***"


def test_a_429_reads_retry_after_and_the_key_is_redacted_only_with_a_config() -> None:
    limited = error_for(SEARCH, answer(429, b"slow down", **{"retry-after": " 2.5 "}))
    assert isinstance(limited, ApolloRateLimitError)
    assert (limited.retry_after, limited.status_code, limited.body) == (2.5, 429, "slow down")
    assert error_for(SEARCH, answer(429, b"x")).retry_after is None  # type: ignore[attr-defined]
    echoed = answer(401, f"bad key {KEY}".encode())
    assert str(error_for(SEARCH, echoed, connection())).endswith("answered 401: bad key ***")
    assert str(error_for(SEARCH, echoed)).endswith(f"answered 401: bad key {KEY}")
