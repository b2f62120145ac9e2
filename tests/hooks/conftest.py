"""Hook test set-up: the key leak guard of every module that names its keys, and the fault fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from key_guard import KeyLeakGuard
from reliability_support import (  # noqa: F401 - fixtures of the fault tests
    emulator,
    no_key_in_logs,
    outcome,
    reconnect,
    register_results_table,
)


@pytest.fixture(autouse=True)
def no_key_leak(request: pytest.FixtureRequest) -> Iterator[KeyLeakGuard | None]:
    """
    In a module that sets ``GUARDED_KEYS``: none of them in a log record (any level, any logger),
    in anything printed, or in an emulator request outside its credential header.
    """
    keys = getattr(request.module, "GUARDED_KEYS", None)
    if not keys:
        yield None
        return
    capfd = request.getfixturevalue("capfd")
    with KeyLeakGuard(keys) as guard:
        yield guard
    guard.check(*capfd.readouterr())


def pytest_configure(config: pytest.Config) -> None:
    register_results_table(config)
