"""Registration: the provider entry point, the connection type, and a cheap package import."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import entry_points

from airflow_provider_apollo import get_provider_info


def test_importing_the_package_does_not_import_airflow() -> None:
    code = "import sys, airflow_provider_apollo; sys.exit('airflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_entry_point_names_get_provider_info() -> None:
    (entry,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_apollo")
    ]
    assert entry.load() is get_provider_info


def test_connection_type_apollo_relabels_and_hides_fields() -> None:
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "apollo"
    assert conn_type["hook-class-name"] == "airflow_provider_apollo.hooks.apollo.ApolloHook"
    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour["hidden_fields"]) == {"login", "schema", "port"}
    assert behaviour["relabeling"] == {"password": "API key", "host": "Base URL"}
    assert set(conn_type["conn-fields"]) == {"auth_type", "timeout", "max_retries", "max_retry_wait"}


def test_every_module_the_provider_lists_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info[kind]
        for m in entry["python-modules"]
    ]
    modules += [entry["python-module"] for entry in info["transfers"]]
    for module in modules:
        importlib.import_module(module)


def test_airflow_registers_the_apollo_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    hook = ProvidersManager().hooks.get("apollo")
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_apollo.hooks.apollo.ApolloHook"
    assert hook.connection_testable
