"""Pytest fixtures for users' own tests: a running Apollo emulator and an ``apollo_default`` connection to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

# The emulator is imported inside the fixtures so that merely installing the plugin costs nothing.
if TYPE_CHECKING:
    from airflow_provider_apollo.testing.emulator import ApolloEmulator


@pytest.fixture
def apollo_emulator() -> Iterator[ApolloEmulator]:
    """A started :class:`~airflow_provider_apollo.testing.ApolloEmulator` with default options, stopped afterwards."""
    from airflow_provider_apollo.testing.emulator import ApolloEmulator

    emulator = ApolloEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def apollo_connection(
    apollo_emulator: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ApolloEmulator]:
    """Point the ``apollo_default`` Airflow connection at ``apollo_emulator`` (via the environment) and yield it."""
    connection = {"conn_type": "apollo", "password": apollo_emulator.api_key, "host": apollo_emulator.url}
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
    yield apollo_emulator
