"""Contact stages: a stage given by id or display name, and names for messages."""

from __future__ import annotations

from typing import Any

from airflow_provider_apollo.exceptions import ApolloValidationError


def match_stage(stages: list[dict[str, Any]], stage: Any) -> str:
    """The id of ``stage`` given as an id or a display name (case-insensitive)."""
    if not isinstance(stage, str) or not stage.strip():
        raise ApolloValidationError(f"contact stage must be a non-empty string (id or name), got {stage!r}.")
    wanted = stage.strip()
    for item in stages:
        if item.get("id") == wanted:
            return str(item["id"])
    folded = wanted.casefold()
    for item in stages:
        names = {str(item.get("display_name") or "").casefold(), str(item.get("name") or "").casefold()}
        if folded in names:
            return str(item["id"])
    known = ", ".join(repr(item.get("display_name") or item.get("name")) for item in stages)
    raise ApolloValidationError(f"Unknown contact stage {stage!r}. Known stages: {known}.")


def stage_name(stages: list[dict[str, Any]], stage_id: str) -> str:
    for item in stages:
        if item.get("id") == stage_id:
            return str(item.get("display_name") or item.get("name") or stage_id)
    return stage_id
