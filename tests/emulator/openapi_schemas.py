"""Apollo's published OpenAPI files (``../shared/apollo-api/openapi`` beside the repository) as JSON Schema validators."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_DIR = REPO_ROOT.parent / "shared" / "apollo-api" / "openapi"
SPEC_FILES = ("contacts.yml", "sequences.yml", "miscellaneous.yml", "fields.yml", "accounts.yml", "deals.yml")
_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")


@functools.cache
def _documents() -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load((OPENAPI_DIR / name).read_text()) for name in SPEC_FILES}


def _resolve(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline local ``$ref``s (``#/components/...``) so the schema stands alone."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                return {}
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return _resolve(target, document, (*seen, ref))
        return {key: _resolve(value, document, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, document, seen) for item in node]
    return node


def _as_observed(node: Any) -> Any:
    """Adapt the reference's schema to what Apollo itself sends.

    - ``null`` is accepted wherever a type is given: Apollo's own examples send ``null`` for many typed
      fields (``title``, ``finished_at`` ...), and OpenAPI 3.0's ``nullable`` is ignored under 3.1.
    - ``oneOf`` becomes ``anyOf``: the reference's alternatives overlap (bulk update's ``contacts`` and
      ``entity_progress_job`` objects require nothing, so every object matches both).
    """
    if isinstance(node, dict):
        adapted = {
            key: _as_observed(value) for key, value in node.items() if key not in ("example", "examples")
        }
        if "oneOf" in adapted:
            adapted["anyOf"] = adapted.pop("oneOf")
        kind = adapted.get("type")
        if isinstance(kind, str) and kind != "null":
            adapted["type"] = [kind, "null"]
            if "enum" in adapted:
                adapted["enum"] = [*adapted["enum"], None]
        return adapted
    if isinstance(node, list):
        return [_as_observed(item) for item in node]
    return node


def spec_available() -> bool:
    return all((OPENAPI_DIR / name).is_file() for name in SPEC_FILES)


@functools.cache
def response_validator(spec_file: str, path: str, method: str, status: str = "200") -> Draft202012Validator:
    """The validator for one operation's documented response body."""
    document = _documents()[spec_file]
    operation = document["paths"][path][method.lower()]
    content = operation["responses"][status]["content"]["application/json"]
    # Some operations document their answer only by example (emailer_messages/search).
    schema = content["schema"] if "schema" in content else schema_of_example(_first_example(content))
    resolved = _as_observed(_resolve(copy.deepcopy(schema), document))
    Draft202012Validator.check_schema(resolved)
    return Draft202012Validator(resolved)


def _first_example(content: dict[str, Any]) -> Any:
    example = next(iter(content["examples"].values()))["value"]
    return json.loads(example) if isinstance(example, str) else example


def schema_of_example(example: Any) -> dict[str, Any]:
    """A schema an answer meets when it has the example's keys, each of the example's type (null aside).

    An object keyed by record ids (``typed_custom_fields: {"<field id>": ...}``) is a map, not a record:
    only its type is required.
    """
    if isinstance(example, dict) and example and all(_OBJECT_ID_RE.match(key) for key in example):
        return {"type": "object"}
    if isinstance(example, dict):
        return {
            "type": "object",
            "required": sorted(example),
            "properties": {key: schema_of_example(value) for key, value in example.items()},
        }
    if isinstance(example, list):
        items = [item for item in example if item is not None]
        return {"type": "array", "items": schema_of_example(items[0])} if items else {"type": "array"}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, (int, float)):
        return {"type": "number"}
    if isinstance(example, str):
        return {"type": "string"}
    return {}


def schema_errors(spec_file: str, path: str, method: str, payload: Any, status: str = "200") -> list[str]:
    """Readable schema violations of ``payload`` (empty when it conforms)."""
    validator = response_validator(spec_file, path, method, status)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(payload)
    ]
