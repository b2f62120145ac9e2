"""
Fault suite set-up for the tests still here (test_reliability_export.py): the fixtures of
tests/reliability_support.py (tests/conftest.py already provides them to the whole tree; imported
again here so this directory keeps them whatever the root does), the results table, and a key leak
guard on every test.
"""

from __future__ import annotations

import pytest
from key_guard import KeyLeakGuard
from reliability_support import (  # noqa: F401 - fixtures
    context,
    emulator,
    no_key_in_logs,
    outcome,
    reconnect,
    register_results_table,
)


@pytest.fixture(autouse=True)
def every_test_guarded(request: pytest.FixtureRequest) -> KeyLeakGuard:
    """Every test here, emulator or not: the marker key leaks into no log, output or request."""
    guard: KeyLeakGuard = request.getfixturevalue("no_key_in_logs")
    return guard


def pytest_configure(config: pytest.Config) -> None:
    register_results_table(config)
