"""Contact stages: a stage given by id or display name, and names for messages."""

from __future__ import annotations

from typing import Any

from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError


def match_stage(stages: list[dict[str, Any]], stage: Any) -> str:
    """The id of ``stage`` given as an id or a display name (case-insensitive)."""
    if not isinstance(stage, str) or not stage.strip():
        raise ApolloArgumentError(f"contact stage must be a non-empty string (id or name), got {stage!r}.")
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
    raise ApolloArgumentError(f"Unknown contact stage {stage!r}. Known stages: {known}.")


def stage_name(stages: list[dict[str, Any]], stage_id: str) -> str:
    for item in stages:
        if item.get("id") == stage_id:
            return str(item.get("display_name") or item.get("name") or stage_id)
    return stage_id


# Search filter holding stage names (or ids) where Apollo wants ``contact_stage_ids``.
STAGE_NAMES_FILTER = "contact_stages"


def needs_stage_names(filters: Any) -> bool:
    """True when search filters name stages that must be resolved to ids (one stages call)."""
    return isinstance(filters, dict) and STAGE_NAMES_FILTER in filters


def resolve_stage_filters(filters: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any]:
    """
    Search filters with ``contact_stages`` (names or ids) turned into Apollo's ``contact_stage_ids``.

    Ids already in ``contact_stage_ids`` are kept; an unknown name is an ``ApolloArgumentError``
    listing the known stages, raised before any search.
    """
    if STAGE_NAMES_FILTER not in filters:
        return dict(filters)
    names = filters[STAGE_NAMES_FILTER]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not names:
        raise ApolloArgumentError(
            f"search {STAGE_NAMES_FILTER!r} must be a non-empty list of stage names or ids, got {names!r}."
        )
    resolved = {key: value for key, value in filters.items() if key != STAGE_NAMES_FILTER}
    ids = [match_stage(stages, name) for name in names]
    resolved["contact_stage_ids"] = list(dict.fromkeys([*(resolved.get("contact_stage_ids") or []), *ids]))
    return resolved


def stages_of(body: Any) -> list[dict[str, Any]]:
    """The stage list from ``GET /contact_stages``."""
    if not isinstance(body, dict):
        raise ApolloApiError("Apollo GET /contact_stages answered an unexpected body", body=body)
    return list(body.get("contact_stages") or [])
