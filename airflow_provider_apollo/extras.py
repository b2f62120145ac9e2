"""The optional extras, and the error a task raises when the extra its feature needs is not installed.

The plain install (hook, contact and outreach operators, sensors, triggers, emulator) needs no
extra. The S3 export and S3 upserts need ``[amazon]``; SQL upserts need ``[common.sql]`` (which
installs the Amazon provider too: the rejects file goes to S3). The providers are imported when a
task runs, never when a DAG file is parsed or an operator module imported, so a DAG using them
still parses on a machine without the extra, and only its task fails, with the install command.
"""

from __future__ import annotations

import importlib
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException

__all__ = [
    "EXTRA_AMAZON",
    "EXTRA_COMMON_SQL",
    "EXTRA_PARQUET",
    "ApolloMissingExtraError",
    "db_api_hook_class",
    "install_command",
    "s3_hook_class",
]

DISTRIBUTION = "airflow-provider-apollo"
EXTRA_AMAZON = "amazon"
EXTRA_COMMON_SQL = "common.sql"
EXTRA_PARQUET = "parquet"

# What each provider is called in the message, by its import package.
_PROVIDERS = {
    "airflow.providers.amazon": "the Amazon provider (apache-airflow-providers-amazon)",
    "airflow.providers.common.sql": "the common SQL provider (apache-airflow-providers-common-sql)",
}


def install_command(extra: str) -> str:
    """The command that installs ``extra``, quoted for a POSIX shell (``[`` is a glob character)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


class ApolloMissingExtraError(AirflowFailException, ImportError):
    """
    A task's feature needs a provider that is not installed; the message holds the install command.

    Also an ``ImportError``. An ``AirflowFailException``: the task fails without Airflow retries,
    since a retry on the same worker finds the same packages.

    :param feature: what needs the provider, e.g. ``ApolloSearchToS3Operator``.
    :param provider: the provider's import package, e.g. ``airflow.providers.amazon``.
    :param extra: the extra that installs it, e.g. ``amazon``.
    """

    def __init__(self, feature: str, provider: str, extra: str) -> None:
        self.feature = feature
        self.provider = provider
        self.extra = extra
        described = _PROVIDERS.get(provider, provider)
        super().__init__(f"{feature} needs {described}, which is not installed: {install_command(extra)}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-free rebuild for pickling (task results cross process boundaries).
        return (type(self), (self.feature, self.provider, self.extra))


def _import_from_provider(provider: str, module: str, name: str, *, feature: str, extra: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as error:
        # Only the provider (or a module of it) missing is a missing extra; another module missing
        # under an installed provider (boto3, a driver) is raised as it is.
        missing = error.name or ""
        if missing and (
            missing == provider or provider.startswith(missing + ".") or missing.startswith(provider + ".")
        ):
            raise ApolloMissingExtraError(feature, provider, extra) from error
        raise


def s3_hook_class(feature: str, extra: str = EXTRA_AMAZON) -> Any:
    """The Amazon provider's ``S3Hook`` class; :class:`ApolloMissingExtraError` when it is not installed."""
    return _import_from_provider(
        "airflow.providers.amazon",
        "airflow.providers.amazon.aws.hooks.s3",
        "S3Hook",
        feature=feature,
        extra=extra,
    )


def db_api_hook_class(feature: str, extra: str = EXTRA_COMMON_SQL) -> Any:
    """The common SQL provider's ``DbApiHook`` class; :class:`ApolloMissingExtraError` when it is not installed."""
    return _import_from_provider(
        "airflow.providers.common.sql",
        "airflow.providers.common.sql.hooks.sql",
        "DbApiHook",
        feature=feature,
        extra=extra,
    )
