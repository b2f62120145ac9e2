"""Responses and errors: what a transport received, and the exception type each answer maps to."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_apollo.core.config import ApolloConfig
from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloAuthError,
    ApolloConnectionError,
    ApolloNotFoundError,
    ApolloRateLimitError,
    ApolloServerError,
    ApolloValidationError,
)


@dataclass(frozen=True)
class ApiResponse:
    """What a transport received: status, lower-cased headers, raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def decode_body(response: ApiResponse) -> Any:
    """The body as JSON when it parses, else as text."""
    text = response.body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_retry_after(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date: Apollo sends seconds; treat an unknown form as absent
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "message", "error_message"):
            if body.get(key):
                return str(body[key])
        return json.dumps(body)[:500]
    text = str(body or "").strip()
    if text.startswith("<"):
        return "non-JSON (HTML) response"
    return text[:500] or "empty response"


def error_for(
    request: ApiRequest, response: ApiResponse, config: ApolloConfig | None = None
) -> ApolloApiError:
    """Map a non-2xx response to the exception type callers handle; the key is never in the message."""
    body = decode_body(response)
    message = f"Apollo {request.describe()} answered {response.status}: {_message_of(body)}"
    if config is not None:
        message = config.redact(message)
    status = response.status
    if status in (401, 403):
        return ApolloAuthError(message, status_code=status, body=body)
    if status == 404:
        return ApolloNotFoundError(message, status_code=status, body=body)
    if status == 422 or status == 400:
        deleted = body.get("deleted_contact_ids") if isinstance(body, dict) else None
        return ApolloValidationError(message, status_code=status, body=body, deleted_contact_ids=deleted)
    if status == 429:
        return ApolloRateLimitError(
            message,
            status_code=status,
            body=body,
            retry_after=parse_retry_after(response.header("retry-after")),
        )
    if status >= 500:
        return ApolloServerError(message, status_code=status, body=body)
    return ApolloApiError(message, status_code=status, body=body)


def parse_json_body(request: ApiRequest, response: ApiResponse) -> Any:
    """A 2xx body as JSON; a truncated or non-JSON body is a retryable transport fault, not data."""
    try:
        return json.loads(response.body)
    except ValueError:
        raise ApolloConnectionError(
            f"Apollo {request.describe()} answered {response.status} with a body that is not valid JSON "
            f"({len(response.body)} bytes)",
            maybe_applied=True,
            reason="answer is not JSON",
        ) from None
