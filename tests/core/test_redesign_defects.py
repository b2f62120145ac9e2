"""Regression tests for the defects the core redesign fixed; each fails on the code before it."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest
import requests
import requests_mock as requests_mock_module
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_apollo.core import (
    PATH_SEARCH,
    ApiRequest,
    ApiResponse,
    ApolloConfig,
    RateLimiter,
    error_for,
    no_answer,
    order_bulk_result,
)
from airflow_provider_apollo.exceptions import (
    ApolloArgumentError,
    ApolloNotFoundError,
    ApolloValidationError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator

BASE = "http://apollo.test/api/v1"


@pytest.fixture
def mocked_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_APOLLO_DEFAULT",
        json.dumps({"conn_type": "apollo", "password": "k", "host": BASE, "extra": {"max_retry_wait": 1}}),
    )


# --------------------------------------------------------------------------- bulk create


def test_bulk_create_hands_each_created_contact_to_exactly_one_input(
    apollo_connection: ApolloEmulator,
) -> None:
    same_email = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    inputs = [same_email, dict(same_email), {"first_name": "Bo", "email": "bo@example.com"}]
    created = ApolloHook().bulk_create_contacts(inputs, run_dedupe=False)
    ids = [contact["id"] for contact in created]
    assert len(set(ids)) == 3, f"one contact was handed to two inputs: {ids}"
    assert set(ids) <= set(apollo_connection.contacts)
    assert apollo_connection.contact_count == 3


def test_order_bulk_result_matches_one_to_one_by_email_then_by_name() -> None:
    inputs = [{"email": "a@x.io"}, {"email": "A@x.io"}, {"first_name": "Z", "last_name": "Q"}]
    answer = [{"id": "1", "email": "a@x.io"}, {"id": "2", "email": "a@x.io"}]
    existing = [{"id": "3", "first_name": "z", "last_name": "q"}]
    assert [c["id"] for c in order_bulk_result(inputs, answer, existing)] == ["1", "2", "3"]


# --------------------------------------------------------------------------- concurrent paging


def _page(page: int, ids: range, total_entries: int, total_pages: int) -> dict[str, Any]:
    return {
        "contacts": [{"id": f"c{i}"} for i in ids],
        "pagination": {
            "page": page,
            "per_page": 10,
            "total_entries": total_entries,
            "total_pages": total_pages,
        },
    }


@pytest.mark.parametrize("concurrency", [1, 4])
def test_paging_with_repeated_ids_and_max_records_reads_on_until_max_records(
    mocked_connection: None, concurrency: int
) -> None:
    # Page 2 repeats five contacts of page 1 (records added in front while paging).
    pages = {1: range(0, 10), 2: range(5, 15), 3: range(15, 25), 4: range(25, 35)}
    with requests_mock_module.Mocker() as mock:
        mock.post(
            BASE + PATH_SEARCH,
            [{"json": _page(n, ids, 40, 4)} for n, ids in pages.items()] * 2,
        )
        # Bodies are served in order of arrival; the answer for each page is looked up by its number.
        mock.post(
            BASE + PATH_SEARCH,
            json=lambda request, _: _page(request.json()["page"], pages[request.json()["page"]], 40, 4),
        )
        found = list(ApolloHook().search_contacts({}, per_page=10, max_records=20, concurrency=concurrency))
    assert [c["id"] for c in found] == [f"c{i}" for i in range(20)]


# --------------------------------------------------------------------------- connection failures


def _dns_failure() -> requests.exceptions.ConnectionError:
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    reason = NameResolutionError("apollo.test", None, socket.gaierror(-2, "Name or service not known"))  # type: ignore[arg-type]
    reason.__cause__ = socket.gaierror(-2, "Name or service not known")  # as urllib3 raises it
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/contacts", reason))  # type: ignore[arg-type]


def test_a_dns_failure_counts_as_never_sent_in_both_transports() -> None:
    import aiohttp

    from airflow_provider_apollo.hooks.apollo import _never_sent_types

    assert no_answer(_dns_failure(), _never_sent_types()).maybe_applied is False
    assert no_answer(_dns_failure(), _never_sent_types()).reason == "host not found"
    key = aiohttp.client_reqrep.ConnectionKey("apollo.test", 443, True, True, None, None, None)
    async_dns = aiohttp.ClientConnectorDNSError(key, socket.gaierror(-2, "Name or service not known"))
    assert no_answer(async_dns, (aiohttp.ClientConnectorError,)).maybe_applied is False


def test_a_read_timeout_or_dropped_connection_may_have_been_applied() -> None:
    assert no_answer(requests.exceptions.ReadTimeout("read timed out")).maybe_applied is True
    dropped = requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
    assert no_answer(dropped).maybe_applied is True


def test_a_create_without_dedupe_is_retried_after_a_dns_failure(mocked_connection: None) -> None:
    with requests_mock_module.Mocker() as mock:
        mock.post(
            BASE + "/contacts",
            [{"exc": _dns_failure()}, {"json": {"contact": {"id": "c1"}}}],
        )
        created = ApolloHook().create_contact({"first_name": "Ann"}, run_dedupe=False)
        assert created["id"] == "c1"
        assert mock.call_count == 2


# --------------------------------------------------------------------------- overrides


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"timeout": -5}, "'timeout' must be > 0"),
        ({"timeout": 0}, "'timeout' must be > 0"),
        ({"max_retries": -3}, "'max_retries' must be >= 0"),
        ({"max_retry_wait": "soon"}, "'max_retry_wait' must be a number"),
    ],
)
@pytest.mark.parametrize("hook_class", [ApolloHook, ApolloAsyncHook])
def test_hook_overrides_are_checked_like_the_connection_extras(
    hook_class: type, override: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        hook_class(**override)


def test_the_async_hook_applies_overrides_and_counts_its_requests(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2)

    async def run() -> tuple[float, int, int]:
        async with ApolloAsyncHook(timeout=7, max_retries=1) as hook:
            await hook.get_contact(ids[0])
            await hook.get_contact(ids[1])
            config = await hook.get_config()
            return config.timeout, config.max_retries, hook.stats.requests

    assert asyncio.run(run()) == (7.0, 1, 2)


# --------------------------------------------------------------------------- errors


def test_a_404_has_its_own_error_type() -> None:
    error = error_for(ApiRequest("GET", "/nowhere"), ApiResponse(404, {}, b'{"error": "Not found"}'))
    assert isinstance(error, ApolloNotFoundError)
    assert not isinstance(error, ApolloValidationError)


def test_argument_errors_fail_the_task_without_retries() -> None:
    error = ApolloArgumentError("contact_ids must be a list")
    assert isinstance(error, AirflowFailException)
    assert isinstance(error, ValueError)
    assert isinstance(error, ApolloValidationError)


def test_a_run_time_argument_error_from_an_operator_is_an_argument_error() -> None:
    from airflow_provider_apollo.operators.contacts import ApolloUpdateStagesOperator

    operator = ApolloUpdateStagesOperator(
        task_id="move", contact_ids="{{ ti.xcom_pull('x') }}", contact_stage="Replied"
    )
    operator.contact_ids = "not a list at all"  # what the template rendered to
    with pytest.raises(ApolloArgumentError, match="contact_ids must be a list"):
        operator.execute({})


# --------------------------------------------------------------------------- rate limiter


def _minute(status: int, limit: int, used: int, retry_after: float | None = None) -> ApiResponse:
    headers = {"x-rate-limit-minute": str(limit), "x-minute-usage": str(used)}
    headers["x-minute-requests-left"] = str(max(0, limit - used))
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return ApiResponse(status, headers, b"{}")


def test_the_limiter_never_waits_past_a_retry_after_when_it_did_not_see_the_window_open() -> None:
    limiter = RateLimiter()
    key = "POST /contacts/update_stages"
    # Another process opened the window: this one's first answer already says 19 of 20 used.
    _, ticket = limiter.acquire(key, 0.0)
    assert ticket is not None
    limiter.observe(key, _minute(200, 20, 19), 0.0, 0.1, ticket)
    _, ticket = limiter.acquire(key, 0.2)
    assert ticket is not None
    limiter.observe(key, _minute(429, 20, 20, retry_after=3), 0.2, 0.3, ticket)
    wait, ticket = limiter.acquire(key, 0.4)
    assert ticket is None and wait <= 3.0
    # The next window is used up at once by the other processes: still no 60 s guess.
    now = 3.5
    _, ticket = limiter.acquire(key, now)
    assert ticket is not None
    limiter.observe(key, _minute(200, 20, 20), now, now + 0.1, ticket)
    resumes = []
    for step in range(5):
        asked_at = now + 0.2 + step * 0.01
        wait, ticket = limiter.acquire(key, asked_at)
        resumes.append(asked_at + wait)
        if ticket is not None:
            # The probe learns the reset: 2.5 s after its answer arrived at now + 0.3.
            limiter.observe(key, _minute(429, 20, 20, retry_after=2.5), asked_at, now + 0.3, ticket)
    assert max(resumes) <= now + 0.3 + 2.5 + 0.1, resumes


def test_the_limiter_learns_the_length_of_a_window_it_saw_open() -> None:
    limiter = RateLimiter()
    key = "POST /contacts/search"
    _, ticket = limiter.acquire(key, 10.0)
    assert ticket is not None
    limiter.observe(key, _minute(200, 2, 1), 10.0, 10.1, ticket)
    _, ticket = limiter.acquire(key, 10.2)
    assert ticket is not None
    limiter.observe(key, _minute(429, 2, 2, retry_after=2.8), 10.2, 10.3, ticket)
    # Reset at 13.1: window length 3.1 learned from the opening at 10.0.
    _, ticket = limiter.acquire(key, 13.2)
    assert ticket is not None
    limiter.observe(key, _minute(200, 2, 1), 13.2, 13.3, ticket)
    _, ticket = limiter.acquire(key, 13.4)
    assert ticket is not None
    limiter.observe(key, _minute(200, 2, 2), 13.4, 13.5, ticket)
    wait, ticket = limiter.acquire(key, 13.6)
    assert ticket is None
    assert 13.6 + wait == pytest.approx(13.3 + 3.1, abs=0.2)


# --------------------------------------------------------------------------- connection test


def test_connection_test_answers_fast_and_readably_for_an_unreachable_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_APOLLO_DEFAULT",
        json.dumps(
            {"conn_type": "apollo", "password": "secret-key", "host": f"http://127.0.0.1:{port}/api/v1"}
        ),
    )
    started = time.monotonic()
    ok, message = ApolloHook().test_connection()
    assert not ok
    assert time.monotonic() - started < 5
    assert message == f"Could not reach Apollo at http://127.0.0.1:{port}/api/v1: connection refused."


def test_connection_test_names_each_failure(
    apollo_emulator: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check(host: str, key: str) -> str:
        monkeypatch.setenv(
            "AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps({"conn_type": "apollo", "password": key, "host": host})
        )
        ok, message = ApolloHook().test_connection()
        assert not ok
        assert key not in message
        return message

    bad_key = check(apollo_emulator.url, "wrong-key")
    assert bad_key.startswith("Apollo rejected the API key (401)")
    assert apollo_emulator.request_count("/auth/health") == 1, "a bad key is not retried"
    wrong_url = check(apollo_emulator.url.replace("/api/v1", "/nope"), apollo_emulator.api_key)
    assert "this is not Apollo's API" in wrong_url and "/api/v1" in wrong_url
    apollo_emulator.add_fault("non_json", path="/auth/health", count=1)
    not_json = check(apollo_emulator.url, apollo_emulator.api_key + "")
    assert "not with JSON" in not_json or "non-JSON" in not_json


# --------------------------------------------------------------------------- calls after deferral


def test_the_deferred_sensor_does_not_check_again_at_once(apollo_connection: ApolloEmulator) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor

    ids = apollo_connection.seed_contacts(2, stage="Cold")
    sensor = ApolloContactStageSensor(
        task_id="wait",
        contact_ids=ids,
        target_stages=["Replied"],
        deferrable=True,
        poke_interval=0.6,
        timeout=30,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    after_sensor = apollo_connection.request_count("/contacts/")
    trigger = deferred.value.trigger
    kwargs = trigger.serialize()[1]
    assert json.loads(json.dumps(kwargs)) == kwargs

    async def first_checks() -> int:
        task = asyncio.ensure_future(anext(trigger.run()))
        await asyncio.sleep(0.3)
        seen = apollo_connection.request_count("/contacts/")
        task.cancel()
        return seen

    assert asyncio.run(first_checks()) == after_sensor, "the trigger checked again before one interval passed"


def test_require_any_stops_after_the_stage_search_finds_one(apollo_connection: ApolloEmulator) -> None:
    from airflow_provider_apollo.core.stage_check import stage_check
    from airflow_provider_apollo.core.steps import run_steps

    # The watched contact that replied is on the search's first page; 1,000 others fill ten more.
    watched = apollo_connection.seed_contacts(8, stage="Cold")
    apollo_connection.set_contact_stage(watched[0], "Replied")
    crowd = apollo_connection.seed_contacts(1000, stage="Replied")
    before = apollo_connection.request_count()
    hook = ApolloHook()
    result = run_steps(
        stage_check(watched, [apollo_connection.stage_id("Replied")], require="any"), hook.call
    )
    assert crowd and result.done == [watched[0]]
    gets = [r for r in apollo_connection.requests[before:] if r.method == "GET"]
    assert gets == [], f"{len(gets)} per-contact GETs after the search already decided"


def test_a_fractional_retry_budget_is_refused_naming_the_extra() -> None:
    with pytest.raises(ApolloArgumentError, match="extra 'max_retries' must be a whole number"):
        ApolloConfig.from_connection(conn_id="c", password="k", host=None, extra={"max_retries": 2.5})
    with pytest.raises(ApolloArgumentError, match="'max_retries' must be a whole number"):
        ApolloHook(max_retries=1.5)  # type: ignore[arg-type]


def test_the_sync_hook_declares_its_own_form_behaviour() -> None:
    assert "get_ui_field_behaviour" in ApolloHook.__dict__
    assert ApolloHook.get_ui_field_behaviour()["hidden_fields"] == ["login", "schema", "port"]
