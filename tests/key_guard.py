"""A guard that fails a test when an API key leaks into a log record, printed output or a request.

Used as a fixture by the reliability suite (autouse) and the hook tests::

    with KeyLeakGuard({"the-key"}) as guard:
        ...  # run the code
    guard.check()  # AssertionError naming every leak

While active it sees every log record of every logger at every level: the root logger and every
existing logger are set to DEBUG and enabled, ``Logger.setLevel`` cannot raise a level above
DEBUG (so a fixture such as ``caplog.set_level(logging.INFO, logger=...)`` cannot hide records),
and records are read in ``Logger.handle`` itself, before any handler, filter or ``propagate``
setting decides where they go. It also reads every request any :class:`ApolloEmulator` receives:
the key may travel only in the ``x-api-key`` (or ``Authorization``) header, never in the request
target (path and query string), the body or another header.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from airflow_provider_apollo.testing.emulator import ApolloEmulator, RecordedRequest

_MISSING = object()
# Headers that carry credentials by design.
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization"})


def record_text(record: logging.LogRecord) -> str:
    """Everything a log record could show: the formatted message, raw arguments, exception and stack."""
    parts = [str(record.msg), repr(record.args)]
    # A broken format string still shows its raw parts.
    with contextlib.suppress(Exception):
        parts.append(record.getMessage())
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


class KeyLeakGuard:
    """
    Collects every log record and every emulator request while active; :meth:`check` names the leaks.

    :param secrets: the keys that must not leak. The key (or bearer token) each request carried
        in its header is checked against the rest of that request as well, so the request check
        also works for an emulator whose key the guard was not told.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = {secret for secret in secrets if secret}
        self.records_seen = 0
        self.requests_seen = 0
        self.leaks: list[str] = []
        self._saved_levels: dict[logging.Logger, tuple[int, bool]] = {}
        self._saved_disable = logging.NOTSET
        self._originals: dict[str, Any] = {}

    # ----------------------------------------------------------------- inspection

    def inspect_record(self, record: logging.LogRecord) -> None:
        self.records_seen += 1
        text = record_text(record)
        for secret in self.secrets:
            if secret in text:
                self.leaks.append(
                    f"log record of logger {record.name!r} at {record.levelname}: {record.msg!r}"
                )

    def inspect_request(self, request: RecordedRequest) -> None:
        self.requests_seen += 1
        secrets = set(self.secrets)
        sent_key = request.headers.get("x-api-key")
        if sent_key:
            secrets.add(sent_key)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            secrets.add(token.strip())
        target = request.target or request.path
        places = {
            "request target (path and query string)": target + repr(request.query),
            "request body": request.raw_body.decode("utf-8", "replace") + repr(request.body),
        }
        for name, value in request.headers.items():
            if name not in CREDENTIAL_HEADERS:
                places[f"header {name!r}"] = value
        for secret in secrets:
            for place, text in places.items():
                if secret in text:
                    self.leaks.append(f"{request.method} {request.path}: the key is in the {place}")

    # ----------------------------------------------------------------- activation

    def __enter__(self) -> KeyLeakGuard:
        guard = self
        original_handle = logging.Logger.handle
        original_set_level = logging.Logger.setLevel
        original_record = ApolloEmulator.record

        def handle(logger: logging.Logger, record: logging.LogRecord) -> None:
            guard.inspect_record(record)
            original_handle(logger, record)

        def set_level(logger: logging.Logger, level: int | str) -> None:
            numeric = logging._checkLevel(level)  # type: ignore[attr-defined]
            original_set_level(logger, min(numeric, logging.DEBUG))

        def record(emulator: ApolloEmulator, request: RecordedRequest) -> None:
            guard.inspect_request(request)
            original_record(emulator, request)

        self._originals = {
            "handle": original_handle,
            "setLevel": original_set_level,
            "record": original_record,
        }
        self._open_structlog()
        self._saved_disable = logging.root.manager.disable
        logging.disable(logging.NOTSET)
        loggers = [logging.getLogger()] + [
            item for item in logging.root.manager.loggerDict.values() if isinstance(item, logging.Logger)
        ]
        for logger in loggers:
            self._saved_levels[logger] = (logger.level, logger.disabled)
            logger.disabled = False
            original_set_level(logger, logging.DEBUG)
        logging.Logger.handle = handle  # type: ignore[method-assign]
        logging.Logger.setLevel = set_level  # type: ignore[method-assign]
        ApolloEmulator.record = record  # type: ignore[method-assign]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close_structlog()
        logging.Logger.handle = self._originals["handle"]  # type: ignore[method-assign]
        logging.Logger.setLevel = self._originals["setLevel"]  # type: ignore[method-assign]
        ApolloEmulator.record = self._originals["record"]  # type: ignore[method-assign]
        for logger, (level, disabled) in self._saved_levels.items():
            logger.setLevel(level)
            logger.disabled = disabled
        logging.disable(self._saved_disable)

    # ----------------------------------------------------------------- structlog (Airflow's task loggers)

    def inspect_event(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        """A structlog processor: reads every event before any other processor can drop or redact it."""
        self.records_seen += 1
        text = repr(event_dict)
        for secret in self.secrets:
            if secret in text:
                name = (
                    event_dict.get("logger") or event_dict.get("logger_name") or getattr(logger, "name", "?")
                )
                self.leaks.append(
                    f"structlog event of {name!r} at {method_name}: {event_dict.get('event')!r}"
                )
        return event_dict

    def _open_structlog(self) -> None:
        """
        Airflow's hooks and operators log through structlog loggers that drop DEBUG (and are
        cached on first use): make every filtering level class behave as the DEBUG one, and read
        every event in a processor placed first in the shared processor list.
        """
        self._structlog_saved: list[tuple[type, str, Any]] = []
        self._processors: list[Any] | None = None
        try:
            import structlog
            from structlog._config import _CONFIG
        except ImportError:  # pragma: no cover - Airflow depends on structlog
            return
        classes: list[type] = []
        try:
            from airflow._shared.logging import structlog as airflow_structlog

            levels = airflow_structlog.LEVEL_TO_FILTERING_LOGGER
            if logging.DEBUG not in levels:
                airflow_structlog._make_airflow_structlogger(logging.DEBUG)
            debug_class: type = levels[logging.DEBUG]
            classes = [cls for cls in levels.values() if cls is not debug_class]
        except (ImportError, AttributeError):
            debug_class = structlog.make_filtering_bound_logger(logging.DEBUG)
        from structlog import _native

        classes += [
            cls
            for cls in getattr(_native, "LEVEL_TO_FILTERING_LOGGER", {}).values()
            if cls is not debug_class
        ]
        names = [
            "debug", "info", "warning", "warn", "error", "err", "exception", "critical", "fatal", "msg", "log",
            "is_enabled_for", "isEnabledFor", "get_effective_level", "getEffectiveLevel", "level",
        ]  # fmt: skip
        names += ["a" + name for name in names[:11]]
        for cls in classes:
            for name in names:
                if not hasattr(debug_class, name):
                    continue
                self._structlog_saved.append((cls, name, cls.__dict__.get(name, _MISSING)))
                setattr(cls, name, getattr(debug_class, name))
        self._processors = _CONFIG.default_processors
        self._processors.insert(0, self.inspect_event)

    def _close_structlog(self) -> None:
        for cls, name, value in reversed(self._structlog_saved):
            if value is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, value)
        if self._processors is not None and self.inspect_event in self._processors:
            self._processors.remove(self.inspect_event)

    def check(self, *printed: str) -> None:
        """Raise AssertionError naming every leak seen, including in ``printed`` output."""
        leaks = list(self.leaks)
        for text in printed:
            if any(secret in text for secret in self.secrets):
                leaks.append("printed output (stdout/stderr)")
        assert not leaks, "the API key leaked:\n" + "\n".join(dict.fromkeys(leaks))
