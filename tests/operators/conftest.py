"""Operator test set-up: the emulated outreach team, an hourly quota for long jobs, the fault fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_support import (  # noqa: F401 - fixtures of the fault tests
    context,
    emulator,
    no_key_in_logs,
    outcome,
    reconnect,
    register_results_table,
)

from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import connect, outreach_team

# Five bulk requests an emulated hour; one emulated hour lasts 3600 * TIME_SCALE real seconds (1.8 s).
HOURLY_QUOTA = 5
TIME_SCALE = 0.0005


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """The emulated outreach team as ``apollo_default`` (outreach_support.outreach_team)."""
    with outreach_team(monkeypatch) as started:
        yield started


@pytest.fixture
def scoped_key_team(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """A team whose key is not a master key: users/search and add_contact_ids answer 403."""
    with outreach_team(monkeypatch, master_key=False) as started:
        yield started


@pytest.fixture
def hourly(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """An emulator with a time-scaled hourly quota; the connection sleeps through at most 0.5 s."""
    with ApolloEmulator(rate_limits={"hour": HOURLY_QUOTA}, time_scale=TIME_SCALE) as started:
        connect(started, monkeypatch, max_retry_wait=0.5, max_retries=2)
        yield started


def pytest_configure(config: pytest.Config) -> None:
    register_results_table(config)
