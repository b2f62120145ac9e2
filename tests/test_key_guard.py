"""The key-leak guard itself: it must see what a real leak looks like, wherever it happens."""

from __future__ import annotations

import logging

import pytest
import requests
from key_guard import KeyLeakGuard

from airflow_provider_apollo.testing import ApolloEmulator

SECRET = "guard-test-SECRET-5d2e8a"


def leaked(run: object) -> str:
    """Run ``run`` under a fresh guard; return the guard's complaint ('' when it found nothing)."""
    with KeyLeakGuard({SECRET}) as guard:
        run()  # type: ignore[operator]
    try:
        guard.check()
    except AssertionError as error:
        return str(error)
    return ""


def test_a_debug_record_of_a_logger_set_to_warning_is_seen(caplog: pytest.LogCaptureFixture) -> None:
    quiet = logging.getLogger("guard_test.quiet")
    quiet.setLevel(logging.WARNING)

    def leak() -> None:
        # What another fixture does to silence a noisy library: it must not blind the guard.
        caplog.set_level(logging.INFO, logger="guard_test.quiet")
        quiet.debug("sending with key %s", SECRET)

    assert "guard_test.quiet" in leaked(leak)
    assert quiet.level == logging.WARNING  # the level it had before the guard


def test_a_record_of_a_logger_that_does_not_propagate_is_seen() -> None:
    isolated = logging.getLogger("guard_test.isolated")
    isolated.propagate = False
    try:
        assert "guard_test.isolated" in leaked(lambda: isolated.debug(f"key={SECRET}"))
    finally:
        isolated.propagate = True


def test_a_key_in_an_exception_of_a_log_record_is_seen() -> None:
    def leak() -> None:
        try:
            raise RuntimeError(f"failed with {SECRET}")
        except RuntimeError:
            logging.getLogger("guard_test.exc").debug("request failed", exc_info=True)

    assert "guard_test.exc" in leaked(leak)


def test_clean_logs_and_a_key_only_in_its_header_pass() -> None:
    with ApolloEmulator(api_key=SECRET) as emulator:

        def clean() -> None:
            logging.getLogger("guard_test.clean").debug("nothing secret here")
            requests.get(emulator.url + "/auth/health", headers={"x-api-key": SECRET}, timeout=5)

        assert leaked(clean) == ""
        assert emulator.status_counts() == {200: 1}


@pytest.mark.parametrize(
    "where, send",
    [
        ("query string", lambda url: requests.get(url + f"/auth/health?api_key={SECRET}", timeout=5)),
        ("path", lambda url: requests.get(url + f"/contacts/{SECRET}", timeout=5)),
        ("body", lambda url: requests.post(url + "/contacts/search", json={"api_key": SECRET}, timeout=5)),
        ("body", lambda url: requests.post(url + "/contacts", data=f"not json {SECRET}", timeout=5)),
        (
            "header 'x-debug'",
            lambda url: requests.get(url + "/auth/health", headers={"x-debug": SECRET}, timeout=5),
        ),
    ],
    ids=["query", "path", "json-body", "raw-body", "other-header"],
)
def test_a_key_anywhere_in_a_request_but_its_header_is_seen(where: str, send: object) -> None:
    with ApolloEmulator(api_key=SECRET) as emulator:
        complaint = leaked(lambda: send(emulator.url))  # type: ignore[operator]
        assert where in complaint, complaint
        assert emulator.request_count() == 1


def test_the_key_a_request_carried_is_checked_even_when_the_guard_was_not_told_it() -> None:
    with ApolloEmulator(api_key="other-key-0000") as emulator, KeyLeakGuard(set()) as guard:
        requests.get(
            emulator.url + "/auth/health?api_key=other-key-0000",
            headers={"x-api-key": "other-key-0000"},
            timeout=5,
        )
    with pytest.raises(AssertionError, match="query string"):
        guard.check()


def test_printed_output_is_checked() -> None:
    with KeyLeakGuard({SECRET}) as guard:
        pass
    with pytest.raises(AssertionError, match="printed output"):
        guard.check("", f"debug: {SECRET}\n")


def test_levels_and_patches_are_restored_afterwards() -> None:
    library = logging.getLogger("guard_test.library")
    library.setLevel(logging.ERROR)
    root_level = logging.getLogger().level
    handle, set_level, record = logging.Logger.handle, logging.Logger.setLevel, ApolloEmulator.record
    with KeyLeakGuard({SECRET}):
        assert library.getEffectiveLevel() == logging.DEBUG
        library.setLevel(logging.CRITICAL)
        assert library.isEnabledFor(logging.DEBUG)
    assert library.level == logging.ERROR
    assert logging.getLogger().level == root_level
    assert (logging.Logger.handle, logging.Logger.setLevel, ApolloEmulator.record) == (
        handle,
        set_level,
        record,
    )


def test_a_debug_event_of_a_hooks_structlog_logger_is_seen() -> None:
    """Airflow's hooks log through structlog loggers that drop DEBUG and are cached on first use."""
    from airflow_provider_apollo.hooks.apollo import ApolloHook

    hook = ApolloHook()
    hook.log.info("first use caches the logger at the configured level")
    assert "ApolloHook" in leaked(lambda: hook.log.debug("sending with key %s", SECRET))
    assert leaked(lambda: hook.log.debug("nothing secret")) == ""
