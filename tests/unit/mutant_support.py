"""Helpers shared by the unit tests written against mutants."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_apollo.exceptions import ApolloArgumentError


def argument_error(call: Any, *args: Any, **kwargs: Any) -> str:
    """The message of the ``ApolloArgumentError`` that ``call(*args, **kwargs)`` must raise."""
    with pytest.raises(ApolloArgumentError) as caught:
        call(*args, **kwargs)
    return str(caught.value)
