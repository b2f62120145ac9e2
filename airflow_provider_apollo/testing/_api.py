"""What an emulator endpoint handler receives and raises, and the small parsers the handlers share."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


def _invalid_id(value: object) -> str:
    return f"Parameters misconfigured. {value} is not a valid ID"


class ApiError(Exception):
    """Raised inside an endpoint handler to answer with ``status`` and a JSON ``payload``."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(payload)
        self.status = status
        self.payload = payload


@dataclass
class EmulatedRequest:
    """What an endpoint handler sees: the JSON body (a dict) and the query, merged the way Apollo reads them."""

    method: str
    body: dict[str, Any]
    query: dict[str, list[str]]
    path_params: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        # The current reference sends some parameters in the query, the legacy one in the body.
        if name in self.body:
            return self.body[name]
        for key in (name, name + "[]"):
            if self.query.get(key):
                return self.query[key][0]
        return None

    def values(self, name: str, *, split_commas: bool = True) -> list[str]:
        """A list parameter from the body or the query (``name[]`` or ``name``).

        :param split_commas: also split each value on commas, as some clients flatten a list of ids;
            off for names (list names may contain commas).
        """
        if name in self.body:
            raw = self.body[name]
            items = raw if isinstance(raw, list) else [raw]
        else:
            items = self.query.get(name + "[]", []) + self.query.get(name, [])
        result: list[str] = []
        for item in items:
            if item is None:
                continue
            if split_commas:
                result.extend(part.strip() for part in str(item).split(",") if part.strip())
            elif str(item).strip():
                result.append(str(item).strip())
        return result


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # Building 100,000 objects triggers repeated full collections that more than double the time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _dedupe_ids(contact_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(contact_ids))
