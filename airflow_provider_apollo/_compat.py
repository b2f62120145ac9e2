"""What differs between the Airflow versions the provider supports (3.0 to the newest), in one place."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["log_info_with_fields", "mask_secret"]

try:
    from airflow.providers.common.compat.sdk import mask_secret
except ImportError:
    # common-compat exports ``mask_secret`` from 1.22, which needs Python 3.11: on Python 3.10 the
    # newest release is 1.20, so look the function up where common-compat 1.22 does, in its order
    # (Task SDK 1.1+, Task SDK 1.0 as in Airflow 3.0, then Airflow core).
    import importlib

    def _find_mask_secret() -> Any:
        for module in (
            "airflow.sdk.log",
            "airflow.sdk.execution_time.secrets_masker",
            "airflow.utils.log.secrets_masker",
        ):
            try:
                return importlib.import_module(module).mask_secret
            except (ImportError, AttributeError):
                continue
        raise ImportError("mask_secret is in none of the Airflow modules that have held it") from None

    mask_secret = _find_mask_secret()


def log_info_with_fields(log: Any, message: str, *args: Any, **fields: Any) -> None:
    """
    Log ``message`` at INFO with structured ``fields``.

    Airflow 3.1+ gives operators a structlog logger, which takes the fields as keyword arguments;
    Airflow 3.0 gives a ``logging.Logger``, which raises ``TypeError`` on them and takes them as
    ``extra`` (attributes of the log record) instead.
    """
    if isinstance(log, (logging.Logger, logging.LoggerAdapter)):
        log.info(message, *args, extra=fields)
    else:
        log.info(message, *args, **fields)
