"""Without an extra, DAGs still parse and operator modules import; the task that needs it fails, naming the command."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from airflow_provider_apollo.extras import (
    EXTRA_AMAZON,
    EXTRA_COMMON_SQL,
    ApolloMissingExtraError,
    install_command,
)

# Run in a fresh interpreter whose import system finds none of the provider's hooks, as on a machine
# where the extra was never installed (this process has both providers loaded already). The
# provider's top package stays importable: Airflow reads every installed provider's info at start-up,
# and an uninstalled one has no entry point to read (`make dist` runs the export where the Amazon
# provider really is absent). The script imports the transfer modules and builds each operator as a
# DAG file would, then runs each against the emulator and reports what happened, and how many
# requests reached Apollo before the failure.
SCRIPT = """
import importlib.abc, json, os, sys

BLOCKED = {blocked!r}


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == BLOCKED or name.startswith(BLOCKED + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator
from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator
from airflow_provider_apollo.transfers.sql_to_apollo import SqlToApolloOperator

operators = {{
    "export": ApolloSearchToS3Operator(task_id="export", s3_bucket="b", s3_key="contacts.jsonl"),
    "s3_upsert": S3ToApolloOperator(task_id="s3_upsert", s3_bucket="b", s3_key="leads.csv"),
    "sql_upsert": SqlToApolloOperator(
        task_id="sql_upsert", sql="SELECT 1", conn_id="warehouse", rejects_bucket="b", rejects_key="r.jsonl"
    ),
}}
results = {{}}
with ApolloEmulator() as emulator:
    emulator.seed_contacts(3)
    os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = json.dumps(
        {{"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}}
    )
    for name, operator in operators.items():
        before = len(emulator.requests)
        try:
            operator.execute({{"ti": None}})
            outcome = {{"raised": None}}
        except Exception as error:
            outcome = {{
                "raised": type(error).__name__,
                "message": str(error),
                "kinds": [cls.__name__ for cls in type(error).__mro__],
                "extra": getattr(error, "extra", None),
            }}
        outcome["apollo_requests"] = len(emulator.requests) - before
        results[name] = outcome
print("RESULTS " + json.dumps(results))
"""


def run_without(provider: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT.format(blocked=provider))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULTS ")]
    assert completed.returncode == 0 and lines, completed.stdout[-3000:] + completed.stderr[-3000:]
    return dict(json.loads(lines[-1].removeprefix("RESULTS ")))


@pytest.fixture(scope="module")
def without_amazon() -> dict[str, Any]:
    return run_without("airflow.providers.amazon.aws")


@pytest.fixture(scope="module")
def without_common_sql() -> dict[str, Any]:
    return run_without("airflow.providers.common.sql.hooks")


def test_the_install_commands_are_quoted_for_the_shell() -> None:
    assert install_command(EXTRA_AMAZON) == "pip install 'airflow-provider-apollo[amazon]'"
    assert install_command(EXTRA_COMMON_SQL) == "pip install 'airflow-provider-apollo[common.sql]'"


def test_without_amazon_the_export_task_fails_with_the_amazon_extras_command(
    without_amazon: dict[str, Any],
) -> None:
    export = without_amazon["export"]
    assert export["raised"] == "ApolloMissingExtraError"
    assert export["message"] == (
        "ApolloSearchToS3Operator needs the Amazon provider (apache-airflow-providers-amazon), "
        "which is not installed: pip install 'airflow-provider-apollo[amazon]'"
    )


def test_without_amazon_the_s3_upsert_fails_with_the_amazon_extras_command(
    without_amazon: dict[str, Any],
) -> None:
    upsert = without_amazon["s3_upsert"]
    assert upsert["raised"] == "ApolloMissingExtraError"
    assert upsert["message"].endswith("which is not installed: pip install 'airflow-provider-apollo[amazon]'")


def test_without_amazon_the_sql_upsert_names_its_own_extra(without_amazon: dict[str, Any]) -> None:
    # [common.sql] installs the Amazon provider too (the rejects file goes to S3).
    upsert = without_amazon["sql_upsert"]
    assert upsert["raised"] == "ApolloMissingExtraError"
    assert upsert["message"].endswith("pip install 'airflow-provider-apollo[common.sql]'")


def test_without_common_sql_the_sql_upsert_fails_with_the_common_sql_extras_command(
    without_common_sql: dict[str, Any],
) -> None:
    upsert = without_common_sql["sql_upsert"]
    assert upsert["raised"] == "ApolloMissingExtraError"
    assert upsert["message"] == (
        "SqlToApolloOperator needs the common SQL provider (apache-airflow-providers-common-sql), "
        "which is not installed: pip install 'airflow-provider-apollo[common.sql]'"
    )


def test_a_missing_extra_fails_before_any_request_reaches_apollo(
    without_amazon: dict[str, Any], without_common_sql: dict[str, Any]
) -> None:
    outcomes = [*without_amazon.values(), without_common_sql["sql_upsert"]]
    assert [outcome["apollo_requests"] for outcome in outcomes] == [0] * len(outcomes)


def test_the_error_fails_the_task_without_retries_and_is_an_import_error(
    without_amazon: dict[str, Any],
) -> None:
    kinds = without_amazon["export"]["kinds"]
    assert "AirflowFailException" in kinds and "ImportError" in kinds
    assert without_amazon["export"]["extra"] == EXTRA_AMAZON


def test_the_error_survives_pickling_with_its_fields() -> None:
    import pickle

    error = ApolloMissingExtraError("SqlToApolloOperator", "airflow.providers.common.sql", EXTRA_COMMON_SQL)
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.feature, again.extra) == (str(error), error.feature, error.extra)


def test_an_import_failing_inside_an_installed_provider_is_not_reported_as_a_missing_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_apollo import extras

    def broken(module: str) -> Any:
        raise ModuleNotFoundError("No module named 'botocore.vendored'", name="botocore.vendored")

    monkeypatch.setattr(extras.importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError) as raised:
        extras.s3_hook_class("ApolloSearchToS3Operator")
    assert not isinstance(raised.value, ApolloMissingExtraError)
