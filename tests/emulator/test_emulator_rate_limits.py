"""Rate limits: per-endpoint fixed windows, their headers, and the 429 with retry-after."""

from __future__ import annotations

import time

import requests

from airflow_provider_apollo.testing import ApolloEmulator

FAST = 0.02  # a 1.2-second minute


def test_every_authenticated_response_carries_rate_headers(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    headers = api.post(f"{apollo_emulator.url}/contacts/search", json={}).headers
    for name in (
        "x-rate-limit-minute",
        "x-minute-usage",
        "x-minute-requests-left",
        "x-rate-limit-hourly",
        "x-hourly-usage",
        "x-hourly-requests-left",
        "x-rate-limit-24-hour",
        "x-24-hour-usage",
        "x-24-hour-requests-left",
    ):
        assert name in headers
    # The default emulator is unlimited: the limit headers are present but empty.
    assert headers["x-rate-limit-minute"] == "" and headers["x-minute-usage"] == "1"
    assert api.get(f"{apollo_emulator.url}/contacts/{'0' * 24}").headers["x-minute-usage"] == "1"


def test_limited_windows_count_down() -> None:
    with ApolloEmulator(rate_limits={"minute": 5, "hour": 50, "day": 500}) as emulator:
        api = requests.Session()
        api.headers["x-api-key"] = emulator.api_key
        api.get(f"{emulator.url}/auth/health")
        headers = api.get(f"{emulator.url}/auth/health").headers
    assert (headers["x-rate-limit-minute"], headers["x-minute-usage"], headers["x-minute-requests-left"]) == (
        "5",
        "2",
        "3",
    )
    assert (headers["x-rate-limit-hourly"], headers["x-hourly-requests-left"]) == ("50", "48")
    assert (headers["x-rate-limit-24-hour"], headers["x-24-hour-requests-left"]) == ("500", "498")


def test_exhausted_minute_answers_429_with_retry_after_in_real_seconds() -> None:
    with ApolloEmulator(rate_limits={"minute": 2}, time_scale=FAST) as emulator, requests.Session() as api:
        api.headers["x-api-key"] = emulator.api_key
        statuses = [api.post(f"{emulator.url}/contacts/search", json={}).status_code for _ in range(3)]
        rejected = api.post(f"{emulator.url}/contacts/search", json={})
    assert statuses == [200, 200, 429]
    assert 0 < float(rejected.headers["retry-after"]) <= 60 * FAST
    assert "." in rejected.headers["retry-after"]
    assert rejected.json() == {
        "message": "The maximum number of api calls allowed for api/v1/contacts/search is 2 times per minute. "
        "Please upgrade your plan from https://app.apollo.io/#/settings/plans/upgrade."
    }
    # A rejected request is not counted.
    assert rejected.headers["x-minute-usage"] == "2"
    assert rejected.headers["x-minute-requests-left"] == "0"


def test_retry_after_is_whole_seconds_at_real_speed() -> None:
    with ApolloEmulator(rate_limits={"hour": 1}) as emulator, requests.Session() as api:
        api.headers["x-api-key"] = emulator.api_key
        api.get(f"{emulator.url}/auth/health")
        rejected = api.get(f"{emulator.url}/auth/health")
    assert rejected.status_code == 429
    assert rejected.headers["retry-after"] in ("3599", "3600")
    assert "1 times per hour" in rejected.json()["message"]


def test_window_opens_on_first_request_and_resets_after_its_length() -> None:
    with ApolloEmulator(rate_limits={"minute": 1}, time_scale=FAST) as emulator, requests.Session() as api:
        api.headers["x-api-key"] = emulator.api_key
        # Idle time before the first request does not count: the window starts with it.
        time.sleep(60 * FAST)
        assert api.get(f"{emulator.url}/auth/health").status_code == 200
        rejected = api.get(f"{emulator.url}/auth/health")
        assert rejected.status_code == 429
        time.sleep(float(rejected.headers["retry-after"]) + 0.05)
        assert api.get(f"{emulator.url}/auth/health").status_code == 200


def test_limits_apply_per_endpoint() -> None:
    with ApolloEmulator(rate_limits={"minute": 1}) as emulator, requests.Session() as api:
        api.headers["x-api-key"] = emulator.api_key
        assert api.post(f"{emulator.url}/contacts/search", json={}).status_code == 200
        assert api.get(f"{emulator.url}/contact_stages").status_code == 200
        assert api.post(f"{emulator.url}/contacts/search", json={}).status_code == 429
        emulator.reset_rate_limits()
        assert api.post(f"{emulator.url}/contacts/search", json={}).status_code == 200


def test_update_endpoint_message_names_the_path_template() -> None:
    with ApolloEmulator(rate_limits={"day": 1}) as emulator, requests.Session() as api:
        api.headers["x-api-key"] = emulator.api_key
        [contact_id] = emulator.seed_contacts(1)
        api.patch(f"{emulator.url}/contacts/{contact_id}", json={"title": "a"})
        rejected = api.patch(f"{emulator.url}/contacts/{contact_id}", json={"title": "b"})
    assert "api/v1/contacts/{contact_id} is 1 times per day" in rejected.json()["message"]
    assert emulator.get_contact(contact_id)["title"] == "a"  # type: ignore[index]


def test_legacy_daily_header_spelling() -> None:
    with ApolloEmulator(rate_limits={"day": 10}, legacy_day_headers=True) as emulator:
        headers = requests.get(f"{emulator.url}/auth/health", headers={"x-api-key": "test-key"}).headers
    assert (headers["x-rate-limit-daily"], headers["x-daily-usage"], headers["x-daily-requests-left"]) == (
        "10",
        "1",
        "9",
    )
    assert "x-rate-limit-24-hour" not in headers
