"""Apache Airflow provider for the Apollo.io Contacts API (no Airflow import at package import)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "CONN_FIELDS",
    "DOCUMENTATION_URL",
    "UI_FIELD_BEHAVIOUR",
    "UI_FIELD_BEHAVIOUR_PROVIDER_INFO",
    "__version__",
    "get_provider_info",
]

# The docs site; also pyproject.toml's [project.urls] Documentation, which Airflow 3.3+ reads instead.
DOCUMENTATION_URL = "https://airflow-provider-apollo.github.io/airflow-provider-apollo/"

# The connection form: hide what Apollo does not use, name the password and host in Apollo's terms.
# Spelled as ``BaseHook.get_ui_field_behaviour()`` returns it (underscore keys; Airflow < 3.2 reads
# it from the hook, and validates it against ``customized_form_field_behaviours.schema.json``).
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["login", "schema", "port"],
    "relabeling": {"password": "API key", "host": "Base URL"},
    "placeholders": {
        "host": "https://api.apollo.io/api/v1",
        "password": "Apollo API key (or OAuth access token with auth_type=bearer)",
    },
}

# The same behaviour spelled as the provider info's ``ui-field-behaviour`` (hyphenated
# ``hidden-fields``): Airflow 3.2+ reads this one and then no longer calls the hook's method.
UI_FIELD_BEHAVIOUR_PROVIDER_INFO: dict[str, Any] = {
    "hidden-fields": list(UI_FIELD_BEHAVIOUR["hidden_fields"]),
    "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
    "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
}

# The extras as form fields: JSON-schema ``Param`` definitions the Airflow 3 UI renders. Types
# are not nullable, so the form pre-fills each default and marks it required; enums hold no
# ``None`` (the UI would offer a "null" choice); the bounds are the ones the hook enforces. The
# UI's number input clamps to ``minimum``/``maximum`` only (it ignores ``exclusiveMinimum``), so
# the form asks for a timeout of at least 1 second, inside the hook's rule (> 0).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth_type": {
        "label": "Auth type",
        "description": "api_key: the key goes in the x-api-key header (default). "
        "bearer: an OAuth access token sent as Authorization: Bearer.",
        "schema": {
            "type": "string",
            "enum": ["api_key", "bearer"],
            "default": "api_key",
            "values_display": {"api_key": "api_key (x-api-key header)", "bearer": "bearer (OAuth token)"},
        },
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Seconds per request, at least 1 (default 30).",
        "schema": {"type": "number", "default": 30, "minimum": 1},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retry budget for 429, 5xx and connection errors: a whole number, 0 or more (default 5).",
        "schema": {"type": "integer", "default": 5, "minimum": 0},
    },
    "max_retry_wait": {
        "label": "Max retry wait (seconds)",
        "description": "Longest single wait the hook sleeps, 0 or more (default 60); "
        "a longer retry-after raises instead.",
        "schema": {"type": "number", "default": 60, "minimum": 0},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-apollo",
        "name": "Apollo.io",
        "description": "Apollo.io Contacts API: hook, operators, stage sensor, deferrable trigger and S3 export.",
        "versions": [__version__],
        "documentation-url": DOCUMENTATION_URL,
        "integrations": [
            {
                "integration-name": "Apollo.io",
                "external-doc-url": "https://docs.apollo.io/reference",
                "tags": ["service"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "apollo",
                "hook-class-name": "airflow_provider_apollo.hooks.apollo.ApolloHook",
                "hook-name": "Apollo.io",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR_PROVIDER_INFO,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "hooks": [
            {
                "integration-name": "Apollo.io",
                "python-modules": [
                    "airflow_provider_apollo.hooks.apollo",
                    "airflow_provider_apollo.hooks.apollo_async",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Apollo.io",
                "python-modules": [
                    "airflow_provider_apollo.operators.contacts",
                    "airflow_provider_apollo.operators.sequences",
                    "airflow_provider_apollo.operators.lists",
                    "airflow_provider_apollo.operators.accounts",
                    "airflow_provider_apollo.operators.deals",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Apollo.io",
                "python-modules": [
                    "airflow_provider_apollo.sensors.contact_stage",
                    "airflow_provider_apollo.sensors.sequence_status",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Apollo.io",
                "python-modules": [
                    "airflow_provider_apollo.triggers.contact_stage",
                    "airflow_provider_apollo.triggers.events",
                    "airflow_provider_apollo.triggers.quota",
                    "airflow_provider_apollo.triggers.sequence_status",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_apollo.links.ApolloContactsLink",
            "airflow_provider_apollo.links.ApolloExportS3Link",
        ],
        "transfers": [
            {
                "source-integration-name": "Apollo.io",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_apollo.transfers.apollo_to_s3",
            },
            {
                "source-integration-name": "Amazon Simple Storage Service (S3)",
                "target-integration-name": "Apollo.io",
                "python-module": "airflow_provider_apollo.transfers.s3_to_apollo",
            },
            {
                "source-integration-name": "Common SQL",
                "target-integration-name": "Apollo.io",
                "python-module": "airflow_provider_apollo.transfers.sql_to_apollo",
            },
        ],
    }
