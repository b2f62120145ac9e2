"""Single hook behaviours against requests-mock: headers, session reuse, retries, errors, batching."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import requests_mock as rm
from airflow.providers.common.compat.sdk import redact
from urllib3.exceptions import NewConnectionError

from airflow_provider_apollo.core import RequestStats
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloRateLimitError,
    ApolloServerError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook

BASE = "http://apollo.test/api/v1"
KEY = "key-that-must-never-leak-7f3a"
# In no log record (any level, any logger) and nothing printed (tests/hooks/conftest.py).
GUARDED_KEYS = {KEY}


@pytest.fixture(autouse=True)
def no_key_sent(requests_mock: rm.Mocker) -> Iterator[None]:
    """The key in no URL or body sent (requests-mock's history: the emulator's requests are guarded)."""
    yield
    for sent in requests_mock.request_history:
        body = sent.body.decode("utf-8", "replace") if isinstance(sent.body, bytes) else str(sent.body or "")
        assert KEY not in sent.url and KEY not in body, f"the key was sent in {sent.method} {sent.path}"


@pytest.fixture(autouse=True)
def apollo_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "apollo", "password": KEY, "host": BASE, "extra": {"max_retry_wait": 5}}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))


@pytest.fixture
def hook() -> ApolloHook:
    hook = ApolloHook()
    # Unit tests should not sleep through real backoff.
    object.__setattr__(
        hook, "retry_policy", type(hook.retry_policy)(max_retries=3, max_retry_wait=5, backoff_initial=0.01)
    )
    return hook


def contact(contact_id: str, **fields: object) -> dict[str, object]:
    return {"id": contact_id, **fields}


def search_page(page: int, total_pages: int, ids: list[str]) -> dict[str, object]:
    return {
        "contacts": [contact(i) for i in ids],
        "pagination": {
            "page": str(page),
            "per_page": "100",
            "total_entries": 250,
            "total_pages": total_pages,
        },
    }


def test_every_request_carries_the_key_header_and_user_agent(
    hook: ApolloHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(f"{BASE}/contacts/abc", json={"contact": contact("abc")})
    assert hook.get_contact("abc")["id"] == "abc"
    sent = requests_mock.last_request
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["User-Agent"].startswith("airflow-provider-apollo/")
    assert "api_key" not in (sent.url + (sent.text or ""))


def test_one_session_serves_every_call(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{BASE}/contacts/a", json={"contact": contact("a")})
    session = hook.session
    hook.get_contact("a")
    hook.get_contact("a")
    assert hook.session is session
    assert hook.get_conn() is session


def test_connection_without_key_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps({"conn_type": "apollo", "host": BASE}))
    with pytest.raises(ApolloAuthError, match="no API key"):
        ApolloHook().get_contact("a")
    assert requests_mock.call_count == 0


def test_a_connection_error_names_the_hooks_own_connection(
    monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_EU", json.dumps({"conn_type": "apollo", "host": BASE}))
    with pytest.raises(ApolloAuthError, match=r"^Connection 'apollo_eu' has no API key"):
        ApolloHook("apollo_eu").get_contact("a")
    assert requests_mock.call_count == 0


def test_the_connections_extras_configure_the_hook_and_arguments_override_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = {"timeout": 7, "max_retries": 1, "max_retry_wait": 3, "auth_type": "bearer"}
    conn = {"conn_type": "apollo", "password": KEY, "host": BASE, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
    config = ApolloHook().config
    assert (config.timeout, config.max_retries, config.max_retry_wait) == (7, 1, 3)
    assert config.headers()["Authorization"] == f"Bearer {KEY}"
    overridden = ApolloHook(max_retries=4).config
    assert (overridden.timeout, overridden.max_retries, overridden.max_retry_wait) == (7, 4, 3)


def test_the_key_is_masked_for_task_logs_once_the_connection_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # A key no other test used: the masker is process-wide and keeps what it was given.
    key = f"mask-me-{uuid.uuid4().hex}"
    conn = {"conn_type": "apollo", "password": key, "host": BASE}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
    assert key in str(redact(f"calling with {key}"))
    ApolloHook().config  # noqa: B018 (reading the config is what registers the key)
    assert key not in str(redact(f"calling with {key}"))


def test_hooks_given_one_stats_count_their_requests_into_it(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{BASE}/contacts/a", json={"contact": contact("a")})
    shared = RequestStats()
    first, second = ApolloHook(stats=shared), ApolloHook(stats=shared)
    first.get_contact("a")
    second.get_contact("a")
    assert first.stats is shared and second.stats is shared
    assert shared.requests == 2
    assert ApolloHook().stats is not ApolloHook().stats, "a hook without stats= gets its own"


def test_429_with_long_retry_after_fails_at_once(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        f"{BASE}/contacts/search",
        status_code=429,
        headers={"retry-after": "3600"},
        json={
            "message": "The maximum number of api calls allowed for api/v1/contacts/search is 600 times per hour."
        },
    )
    started = time.monotonic()
    with pytest.raises(ApolloRateLimitError) as caught:
        list(hook.search_contacts())
    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == 3600
    assert requests_mock.call_count == 1


def test_429_with_short_retry_after_is_waited_out(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{BASE}/contacts/a",
        [
            {"status_code": 429, "headers": {"retry-after": "0.2"}, "json": {"message": "per minute"}},
            {"json": {"contact": contact("a")}},
        ],
    )
    started = time.monotonic()
    assert hook.get_contact("a")["id"] == "a"
    assert time.monotonic() - started >= 0.2


def test_5xx_on_a_read_is_retried(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{BASE}/contacts/a",
        [
            {"status_code": 500, "json": {"error": "oops"}},
            {"status_code": 503, "text": "<html>"},
            {"json": {"contact": contact("a")}},
        ],
    )
    assert hook.get_contact("a")["id"] == "a"
    assert requests_mock.call_count == 3


def test_5xx_past_the_budget_raises_server_error(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{BASE}/contacts/a", status_code=500, json={"error": "An error occurred"})
    with pytest.raises(ApolloServerError, match="An error occurred"):
        hook.get_contact("a")
    assert requests_mock.call_count == 4


def test_create_without_dedupe_is_not_retried_after_a_5xx(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        f"{BASE}/contacts", status_code=500, json={"error": "An error occurred while creating contacts."}
    )
    with pytest.raises(ApolloServerError):
        hook.create_contact({"first_name": "Ann"})
    assert requests_mock.call_count == 1


def test_create_with_dedupe_is_retried_after_a_5xx(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        f"{BASE}/contacts",
        [{"status_code": 500, "json": {"error": "x"}}, {"json": {"contact": contact("c1"), "labels": []}}],
    )
    assert hook.create_contact({"first_name": "Ann"}, run_dedupe=True)["id"] == "c1"
    assert requests_mock.last_request.json()["run_dedupe"] is True


def test_create_is_retried_when_the_connection_was_refused(
    hook: ApolloHook, requests_mock: rm.Mocker
) -> None:
    refused = requests.exceptions.ConnectionError(NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    requests_mock.post(
        f"{BASE}/contacts", [{"exc": refused}, {"json": {"contact": contact("c1"), "labels": []}}]
    )
    assert hook.create_contact({"first_name": "Ann"})["id"] == "c1"


def test_create_is_not_retried_after_a_dropped_connection(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{BASE}/contacts", exc=requests.exceptions.ConnectionError("Connection aborted."))
    with pytest.raises(ApolloConnectionError) as caught:
        hook.create_contact({"first_name": "Ann"})
    assert caught.value.maybe_applied
    assert requests_mock.call_count == 1


def test_401_raises_auth_error_without_the_key(
    hook: ApolloHook, requests_mock: rm.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.get(f"{BASE}/contacts/a", status_code=401, text="Invalid access credentials.")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApolloAuthError) as caught:
        hook.get_contact("a")
    assert caught.value.status_code == 401
    assert "Invalid access credentials." in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.body)
    assert KEY not in caplog.text


def test_key_never_appears_in_retry_logs(
    hook: ApolloHook, requests_mock: rm.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.get(
        f"{BASE}/contacts/a",
        [{"status_code": 502, "text": f"proxy saw key {KEY}"}, {"json": {"contact": contact("a")}}],
    )
    caplog.set_level(logging.DEBUG)
    hook.get_contact("a")
    assert "retry 1" in caplog.text
    assert KEY not in caplog.text


def test_422_raises_validation_error_with_apollo_message(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(
        f"{BASE}/contacts/a", status_code=422, json={"error": "Oops! This contact does not exist in Apollo."}
    )
    with pytest.raises(ApolloValidationError, match="does not exist"):
        hook.update_contact("a", {"title": "CEO"})
    assert requests_mock.call_count == 1


def test_search_is_lazy_and_pages_until_total_pages(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        f"{BASE}/contacts/search",
        [
            {"json": search_page(1, 3, [f"a{i}" for i in range(100)])},
            {"json": search_page(2, 3, [f"b{i}" for i in range(100)])},
            {"json": search_page(3, 3, [f"c{i}" for i in range(50)])},
        ],
    )
    contacts = hook.search_contacts({"q_keywords": "cto"})
    assert requests_mock.call_count == 0
    first = next(contacts)
    assert first["id"] == "a0" and requests_mock.call_count == 1
    assert len([first, *contacts]) == 250
    assert [r.json()["page"] for r in requests_mock.request_history] == [1, 2, 3]
    assert requests_mock.last_request.json()["q_keywords"] == "cto"


def test_search_drops_contacts_repeated_across_pages(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(
        f"{BASE}/contacts/search",
        [{"json": search_page(1, 2, ["a", "b"])}, {"json": search_page(2, 2, ["b", "c"])}],
    )
    assert [c["id"] for c in hook.search_contacts(per_page=2)] == ["a", "b", "c"]


def test_bad_search_arguments_fail_before_any_request(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    with pytest.raises(ApolloValidationError, match="per_page"):
        hook.search_contacts(per_page=500)
    assert requests_mock.call_count == 0


def test_bulk_create_batches_by_100_and_keeps_input_order(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    def answer(request: requests.PreparedRequest, context: object) -> dict[str, object]:
        body = json.loads(request.body or "{}")
        created = [contact(f"id-{c['email']}", email=c["email"]) for c in body["contacts"]]
        return {"created_contacts": list(reversed(created)), "existing_contacts": []}

    requests_mock.post(f"{BASE}/contacts/bulk_create", json=answer)
    inputs = [{"email": f"p{i}@x.io"} for i in range(250)]
    result = hook.bulk_create_contacts(inputs, run_dedupe=True)
    assert [c["id"] for c in result] == [f"id-p{i}@x.io" for i in range(250)]
    assert [len(r.json()["contacts"]) for r in requests_mock.request_history] == [100, 100, 50]


def test_update_stages_batches_ids_as_query_parameters(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{BASE}/contact_stages", json={"contact_stages": [{"id": "s1", "display_name": "Approaching"}]}
    )

    def answer(request: requests.PreparedRequest, context: object) -> dict[str, object]:
        query = parse_qs(urlparse(request.url).query)
        return {
            "contacts": [
                contact(i, contact_stage_id=query["contact_stage_id"][0]) for i in query["contact_ids[]"]
            ]
        }

    requests_mock.post(f"{BASE}/contacts/update_stages", json=answer)
    ids = [f"c{i}" for i in range(250)]
    updated = hook.update_contact_stages(ids, "approaching")
    assert [c["id"] for c in updated] == ids
    assert {c["contact_stage_id"] for c in updated} == {"s1"}
    assert requests_mock.call_count == 1 + 3  # stages once, then three batches


def test_update_stages_names_deleted_contacts(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{BASE}/contact_stages", json={"contact_stages": [{"id": "s1", "display_name": "Cold"}]}
    )
    requests_mock.post(
        f"{BASE}/contacts/update_stages",
        status_code=422,
        json={"error": "Cannot update contact as it is deleted.", "deleted_contact_ids": ["gone"]},
    )
    with pytest.raises(ApolloValidationError) as caught:
        hook.update_contact_stages(["ok", "gone"], "s1")
    assert caught.value.deleted_contact_ids == ["gone"]


def test_unknown_stage_fails_before_any_update_request(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{BASE}/contact_stages", json={"contact_stages": [{"id": "s1", "display_name": "Cold"}]}
    )
    update = requests_mock.post(f"{BASE}/contacts/update_stages", json={"contacts": []})
    with pytest.raises(ApolloValidationError, match="Known stages: 'Cold'"):
        hook.update_contact_stages(["a"], "Hot")
    assert update.call_count == 0


def test_stages_are_fetched_once_per_hook(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    stages = requests_mock.get(
        f"{BASE}/contact_stages", json={"contact_stages": [{"id": "s1", "display_name": "Cold"}]}
    )
    assert hook.resolve_contact_stage_id("cold") == "s1"
    assert hook.resolve_contact_stage_id("s1") == "s1"
    assert stages.call_count == 1


def test_test_connection_reports_success_and_failure_without_raising(
    hook: ApolloHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(f"{BASE}/auth/health", json={"healthy": True, "is_logged_in": True})
    assert hook.test_connection()[0] is True
    requests_mock.get(f"{BASE}/auth/health", status_code=401, text="Invalid access credentials.")
    ok, message = ApolloHook().test_connection()
    assert ok is False and "Invalid access credentials" in message and KEY not in message


def test_test_connection_reports_a_key_that_is_not_logged_in(
    hook: ApolloHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(f"{BASE}/auth/health", json={"healthy": True, "is_logged_in": False})
    assert hook.test_connection() == (False, "Apollo answered, but the key is not logged in.")


def test_test_connection_masks_a_key_the_answer_echoes(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    # The failure's message is redacted with the connection's own key, whoever wrote it there.
    requests_mock.get(f"{BASE}/auth/health", status_code=401, json={"error": f"Invalid key {KEY}"})
    ok, message = hook.test_connection()
    assert ok is False
    assert (
        message
        == "Apollo rejected the API key (401): check the connection's API key. Apollo said: Invalid key ***"
    )
    assert requests_mock.call_count == 1  # the health check is never retried


def test_test_connection_never_raises_on_a_missing_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    ok, message = ApolloHook(apollo_conn_id="does_not_exist").test_connection()
    assert ok is False and message


def test_errors_survive_pickling_with_their_fields() -> None:
    import pickle

    error = ApolloRateLimitError("429 per hour", retry_after=15733.0, body={"message": "x"})
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.retry_after, copy.status_code, str(copy)) == (
        ApolloRateLimitError,
        15733.0,
        429,
        "429 per hour",
    )
    assert isinstance(copy, ApolloApiError)


def test_each_request_waits_its_own_timeout_or_the_connections(
    hook: ApolloHook, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    requests_mock.get(f"{BASE}/auth/health", json={"is_logged_in": True})
    hook.get_contact("c1")
    assert requests_mock.last_request.timeout == 30.0  # the connection's (here the default)
    hook.test_connection()
    assert requests_mock.last_request.timeout == 5.0  # the health check's own, shorter one
    conn = {"conn_type": "apollo", "password": KEY, "host": BASE, "extra": {"timeout": 3}}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(conn))
    ApolloHook().get_contact("c1")
    assert requests_mock.last_request.timeout == 3.0


def test_only_requests_with_a_body_send_one(hook: ApolloHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    requests_mock.post(f"{BASE}/contacts", json={"contact": {"id": "c2"}})
    hook.get_contact("c1")
    assert requests_mock.last_request.body is None
    hook.create_contact({"first_name": "Ada"})
    assert requests_mock.last_request.json() == {"first_name": "Ada", "run_dedupe": False}


def test_a_background_update_without_ids_in_its_answer_hands_back_the_ids_sent(
    hook: ApolloHook, requests_mock: rm.Mocker
) -> None:
    # Apollo's job object may leave out entity_ids: the ids sent are the ones the job took on.
    update = requests_mock.post(f"{BASE}/contacts/bulk_update", json={"entity_progress_job": {"id": "job1"}})
    updates = [{"id": "a", "title": "CTO"}, {"id": "b", "title": "VP"}]
    assert hook.bulk_update_contacts(updates, batch_size=101) == [{"id": "a"}, {"id": "b"}]
    assert hook.bulk_update_contacts(contact_ids=["c", "d"], values={"title": "VP"}, batch_size=200) == [
        {"id": "c"},
        {"id": "d"},
    ]
    assert [r.json().get("async") for r in update.request_history] == [True, True]
