"""The connection's config: key, base URL, auth type, retry budget, headers; the hooks' overrides."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from core_support import KEY, argument_error, connection

from airflow_provider_apollo import __version__
from airflow_provider_apollo.core.config import (
    DEFAULT_BASE_URL,
    ApolloConfig,
    check_overrides,
    normalise_base_url,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError, ApolloValidationError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.hooks.apollo_async import ApolloAsyncHook
from airflow_provider_apollo.testing import ApolloEmulator

# --------------------------------------------------------------------------- the API key


def test_config_without_key_fails_before_any_request() -> None:
    with pytest.raises(ApolloAuthError, match="no API key"):
        ApolloConfig.from_connection(conn_id="apollo_default", password=None, host=None, extra={})


def test_a_connection_without_a_key_names_the_connection_and_the_fix() -> None:
    for password in (None, ""):
        with pytest.raises(ApolloAuthError) as caught:
            connection(password=password)
        assert str(caught.value) == (
            "Connection 'apollo_x' has no API key: put the Apollo API key in the connection's password."
        )


def test_config_repr_and_redaction_hide_the_key() -> None:
    cfg = connection()
    assert KEY not in repr(cfg)
    assert cfg.redact(f"url?api_key={KEY}") == "url?api_key=***"


def test_urls_join_the_base_and_the_path_and_redaction_of_no_key_changes_nothing() -> None:
    assert connection("http://127.0.0.1:9/api/v1").url("/contacts/search") == (
        "http://127.0.0.1:9/api/v1/contacts/search"
    )
    assert connection().redact(f"a {KEY} b {KEY}") == "a *** b ***"
    assert ApolloConfig(api_key="").redact("a b") == "a b"


# --------------------------------------------------------------------------- the base URL


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
def test_a_host_gets_a_scheme_apollos_api_path_and_no_trailing_slash(host: str | None, expected: str) -> None:
    assert normalise_base_url(host) == expected
    assert connection(host).base_url == expected


# --------------------------------------------------------------------------- auth and headers


def test_config_defaults_to_apollo_base_url_and_x_api_key_header() -> None:
    cfg = connection()
    assert cfg.base_url == DEFAULT_BASE_URL
    assert cfg.headers()["x-api-key"] == KEY
    assert "Authorization" not in cfg.headers()
    assert cfg.headers()["User-Agent"].startswith("airflow-provider-apollo/")


def test_config_bearer_sends_authorization_header() -> None:
    headers = connection(auth_type="bearer").headers()
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in headers


def test_auth_type_is_read_case_insensitively_and_a_blank_one_is_the_default() -> None:
    assert connection(auth_type="Bearer").auth_type == "bearer"
    assert connection(auth_type="API_KEY").auth_type == "api_key"
    assert connection(auth_type="").auth_type == "api_key"
    assert connection(auth_type=None).auth_type == "api_key"
    assert argument_error(connection, auth_type="Basic") == (
        "Connection 'apollo_x': extra 'auth_type' must be 'api_key' or 'bearer', got 'basic'."
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


# --------------------------------------------------------------------------- the retry budget


def test_a_connection_with_no_extras_has_the_default_budget() -> None:
    no_extras: tuple[dict[str, Any] | None, ...] = (None, {})
    for extras in no_extras:
        config = ApolloConfig.from_connection(conn_id="c", password=KEY, host=None, extra=extras)
        assert config == ApolloConfig(KEY, DEFAULT_BASE_URL, "api_key", 30.0, 5, 60.0)
        assert type(config.max_retries) is int


def test_config_reads_extras_as_numbers() -> None:
    cfg = connection(timeout="12.5", max_retries=2, max_retry_wait="5")
    assert (cfg.timeout, cfg.max_retries, cfg.max_retry_wait) == (12.5, 2, 5.0)


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
        connection(**extra)


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


def test_a_fractional_retry_budget_is_refused_naming_the_extra() -> None:
    with pytest.raises(ApolloArgumentError, match="extra 'max_retries' must be a whole number"):
        ApolloConfig.from_connection(conn_id="c", password="k", host=None, extra={"max_retries": 2.5})
    with pytest.raises(ApolloArgumentError, match="'max_retries' must be a whole number"):
        ApolloHook(max_retries=1.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the hooks' overrides


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
