"""Errors raised by the Apollo provider, rooted in one base class."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class ApolloApiError(AirflowException):
    """
    An Apollo API call failed.

    :param message: what went wrong, in Apollo's words where it gave any; never contains the API key.
    :param status_code: the HTTP status, or ``None`` when no response arrived (connection error).
    :param body: Apollo's response body (parsed JSON when it was JSON, else text).
    """

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code  # type: ignore[assignment]  # AirflowException types it HTTPStatus
        self.body = body

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep keyword-only fields through pickling (task results cross process boundaries).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[ApolloApiError], message: str, state: dict[str, Any]) -> ApolloApiError:
    error = cls.__new__(cls)
    AirflowException.__init__(error, message)
    error.__dict__.update(state)
    return error


class ApolloAuthError(ApolloApiError):
    """The key is missing, invalid or revoked (401), or lacks access to the endpoint (403)."""


class ApolloValidationError(ApolloApiError, ValueError):
    """
    Apollo rejected the request's content (422), or an argument was refused before any request.

    Also a ``ValueError``, so code that guards arguments with ``except ValueError`` catches it.

    :param deleted_contact_ids: ids Apollo reported as deleted (422 with ``deleted_contact_ids``).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        deleted_contact_ids: list[str] | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.deleted_contact_ids = list(deleted_contact_ids or [])


class ApolloArgumentError(ApolloValidationError, AirflowFailException):
    """
    An argument was refused before any request: the message names the argument and what was expected.

    The one error type for bad arguments, in every hook method and operator. Also a
    ``ValueError`` (through :class:`ApolloValidationError`), and an ``AirflowFailException``: an
    argument found bad at run time (a rendered template, an XCom value) fails the task without
    Airflow retries, since retrying cannot fix it.
    """


class ApolloNotFoundError(ApolloApiError):
    """Apollo answered 404: the path or the record does not exist (a wrong base URL answers this too)."""


class ApolloSearchCapError(ApolloValidationError):
    """
    A search matches more records than Apollo serves for one query (50,000).

    Raised before any record is returned, so nothing is truncated silently: narrow the filters
    (stage, label, keywords) or pass ``max_records`` to take only the first records on purpose.
    """

    def __init__(self, message: str, *, total_entries: int, cap: int) -> None:
        super().__init__(message)
        self.total_entries = total_entries
        self.cap = cap


class ApolloRateLimitError(ApolloApiError):
    """
    Apollo answered 429 and waiting is not worth it: ``retry_after`` exceeds ``max_retry_wait``
    (an hourly or daily quota), or the retry budget ran out.

    :param retry_after: seconds until Apollo's window resets, when Apollo said.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = 429,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after


class ApolloServerError(ApolloApiError):
    """Apollo answered 5xx (retried with backoff while the budget lasts)."""


class ApolloConnectionError(ApolloApiError):
    """
    No usable response arrived: connection refused or dropped, timeout, or a truncated body.

    :param maybe_applied: whether the request may have reached Apollo (a dropped connection after
        sending); ``False`` when the connection was never made, so a retry cannot duplicate.
    :param reason: a short, readable cause: ``host not found``, ``connection refused``,
        ``timed out``, ``connection dropped``, ``answer is not JSON``.
    """

    def __init__(self, message: str, *, maybe_applied: bool, reason: str | None = None) -> None:
        super().__init__(message, status_code=None)
        self.maybe_applied = maybe_applied
        self.reason = reason or "no usable response"
