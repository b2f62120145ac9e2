"""Operator and sensor arguments: values known at parse time or only after templating, checked the same way."""

from __future__ import annotations

import ast
import json
from typing import Any

from airflow_provider_apollo.core import check_contact_ids, check_non_empty_string
from airflow_provider_apollo.exceptions import ApolloArgumentError

# Values a DAG author writes literally; anything else (an XComArg, a mapped argument) is resolved
# only when the task runs, so it can be checked only then.
_LITERAL_TYPES = (str, bytes, int, float, bool, list, tuple, dict, type(None))
_JINJA_MARKERS = ("{{", "{%")


def is_resolved_later(value: Any) -> bool:
    """True for an argument known only at run time: an ``XComArg`` or a string holding Jinja."""
    if not isinstance(value, _LITERAL_TYPES):
        return True
    return isinstance(value, str) and any(marker in value for marker in _JINJA_MARKERS)


def check_native_argument(value: Any, argument: str, expected: type[list] | type[dict]) -> Any:
    """
    A list or dict argument after templating, as a Python value.

    With ``render_template_as_native_obj=True`` on the DAG, Jinja already returns a list or dict.
    Otherwise a template renders to a string such as ``"['a', 'b']"`` (Python's repr of an XCom)
    or ``'["a", "b"]'`` (``| tojson``): that string is parsed as JSON, then as a Python literal with
    :func:`ast.literal_eval` (literals only; nothing is evaluated). A tuple counts as a list.
    """
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text.strip())
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                raise ApolloArgumentError(
                    f"{argument} must be a {expected.__name__}; got the string {_short(text)}, which is "
                    "neither JSON nor a Python literal. Pass a list/dict, an XComArg, or a template that "
                    "renders to one (see render_template_as_native_obj)."
                ) from None
    if expected is list and isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, expected):
        raise ApolloArgumentError(
            f"{argument} must be a {expected.__name__}, got {type(value).__name__}: {_short(repr(value))}."
        )
    return value


def check_contact_ids_argument(value: Any, argument: str = "contact_ids") -> list[str]:
    """A non-empty list of contact id strings (a rendered template parsed first)."""
    ids = check_contact_ids(check_native_argument(value, argument, list), argument)
    if not ids:
        raise ApolloArgumentError(f"{argument} is empty: give at least one contact id.")
    return ids


non_empty_string = check_non_empty_string


def _short(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
