"""Registration: the provider entry point, the connection type and its form, and a cheap package import."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from airflow_versions import requires_airflow

from airflow_provider_apollo import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    UI_FIELD_BEHAVIOUR_PROVIDER_INFO,
    get_provider_info,
)
from airflow_provider_apollo.core import ApolloConfig
from airflow_provider_apollo.core.config import AUTH_API_KEY, AUTH_BEARER
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.hooks.apollo import ApolloHook


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


# --------------------------------------------------------------------------- the connection form


def test_connection_type_apollo_relabels_and_hides_fields() -> None:
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "apollo"
    assert conn_type["hook-class-name"] == "airflow_provider_apollo.hooks.apollo.ApolloHook"
    behaviour = conn_type["ui-field-behaviour"]
    # The provider info's spelling is hyphenated: Airflow reads "hidden-fields" and ignores "hidden_fields".
    assert set(behaviour) == {"hidden-fields", "relabeling", "placeholders"}
    assert set(behaviour["hidden-fields"]) == {"login", "schema", "port"}
    assert behaviour["relabeling"] == {"password": "API key", "host": "Base URL"}
    assert set(conn_type["conn-fields"]) == {"auth_type", "timeout", "max_retries", "max_retry_wait"}


def test_the_hook_spells_the_behaviour_as_airflow_validates_it() -> None:
    import jsonschema
    from airflow import providers_manager

    behaviour = ApolloHook.get_ui_field_behaviour()
    assert behaviour is UI_FIELD_BEHAVIOUR
    schema_path = Path(providers_manager.__file__).with_name("customized_form_field_behaviours.schema.json")
    jsonschema.validate(behaviour, json.loads(schema_path.read_text()))
    assert behaviour["hidden_fields"] == UI_FIELD_BEHAVIOUR_PROVIDER_INFO["hidden-fields"]
    assert behaviour["relabeling"] == UI_FIELD_BEHAVIOUR_PROVIDER_INFO["relabeling"]
    assert behaviour["placeholders"] == UI_FIELD_BEHAVIOUR_PROVIDER_INFO["placeholders"]


def test_the_sync_hook_declares_its_own_form_behaviour() -> None:
    assert "get_ui_field_behaviour" in ApolloHook.__dict__
    assert ApolloHook.get_ui_field_behaviour()["hidden_fields"] == ["login", "schema", "port"]


@requires_airflow("3.2", "Reading the form from the provider info (hidden-fields, conn-fields)")
def test_airflow_hides_and_relabels_the_fields_in_the_form_metadata() -> None:
    """What the api-server's /ui/connections/hook_meta route sends the browser."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "apollo"]
    fields = meta.standard_fields
    assert fields is not None
    for hidden in (fields.login, fields.url_schema, fields.port):
        assert hidden is not None and hidden.hidden
    assert fields.password is not None and fields.password.title == "API key" and not fields.password.hidden
    assert fields.host is not None and fields.host.title == "Base URL" and not fields.host.hidden
    extras = meta.extra_fields or {}
    assert {name: extras[name]["value"] for name in extras} == {
        "auth_type": "api_key",
        "timeout": 30,
        "max_retries": 5,
        "max_retry_wait": 60,
    }


def test_extra_fields_start_at_the_hooks_defaults_with_no_null_choice() -> None:
    defaults = ApolloConfig(api_key="k")
    for name, field in CONN_FIELDS.items():
        schema = field["schema"]
        # A nullable type or a None in the enum makes the UI offer and pre-fill "null".
        assert schema["type"] != "null" and not isinstance(schema["type"], list), name
        assert None not in schema.get("enum", []), name
        assert schema["default"] == getattr(defaults, name), name
        assert field["label"] and field["description"], name
    assert CONN_FIELDS["auth_type"]["schema"]["enum"] == [AUTH_API_KEY, AUTH_BEARER]
    assert CONN_FIELDS["max_retries"]["schema"]["type"] == "integer"


def _config(**extra: object) -> ApolloConfig:
    return ApolloConfig.from_connection(conn_id="apollo_default", password="k", host=None, extra=extra)


@pytest.mark.parametrize("name", ["timeout", "max_retries", "max_retry_wait"])
def test_the_form_allows_only_values_the_hook_accepts(name: str) -> None:
    """The form clamps to ``minimum``; the hook takes the minimum, and what it refuses lies below it."""
    minimum = CONN_FIELDS[name]["schema"]["minimum"]
    assert getattr(_config(**{name: minimum}), name) == minimum
    refused = 0 if name == "timeout" else -1  # the hook: timeout > 0, the others >= 0
    with pytest.raises(ApolloArgumentError, match=name):
        _config(**{name: refused})
    assert refused < minimum


def test_the_stored_extra_the_form_saves_gives_the_default_config() -> None:
    """The form saves every extra field (tests/browser reads this extra back from Airflow)."""
    saved = {name: field["schema"]["default"] for name, field in CONN_FIELDS.items()}
    assert _config(**saved) == _config()
