"""Shared helpers for the emulator's own tests: a keyed requests session per emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator


def session_for(emulator: ApolloEmulator, api_key: str | None = None) -> requests.Session:
    session = requests.Session()
    session.headers["x-api-key"] = emulator.api_key if api_key is None else api_key
    return session


@pytest.fixture
def api(apollo_emulator: ApolloEmulator) -> Iterator[requests.Session]:
    """A session authenticated against the plugin's ``apollo_emulator``."""
    with session_for(apollo_emulator) as session:
        yield session
