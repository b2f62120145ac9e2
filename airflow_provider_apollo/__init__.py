"""Apache Airflow provider for the Apollo.io Contacts API (no Airflow import at package import)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["UI_FIELD_BEHAVIOUR", "__version__", "get_provider_info"]

# The connection form: hide what Apollo does not use, name the password and host in Apollo's terms.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["login", "schema", "port"],
    "relabeling": {"password": "API key", "host": "Base URL"},
    "placeholders": {
        "host": "https://api.apollo.io/api/v1",
        "password": "Apollo API key (or OAuth access token with auth_type=bearer)",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-apollo",
        "name": "Apollo.io",
        "description": "Apollo.io Contacts API: hook, operators, stage sensor, deferrable trigger and S3 export.",
        "versions": [__version__],
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
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": {
                    "auth_type": {
                        "label": "Auth type",
                        "description": "api_key (x-api-key header, default) or bearer (OAuth access token)",
                        "schema": {"type": ["string", "null"], "enum": ["api_key", "bearer", None]},
                    },
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "description": "Seconds per request (default 30)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retry budget for 429, 5xx and connection errors (default 5)",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                    },
                    "max_retry_wait": {
                        "label": "Max retry wait (seconds)",
                        "description": "Longest single wait the hook sleeps (default 60); a longer retry-after raises",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                },
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
                "python-modules": ["airflow_provider_apollo.operators.contacts"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Apollo.io",
                "python-modules": ["airflow_provider_apollo.sensors.contact_stage"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Apollo.io",
                "python-modules": ["airflow_provider_apollo.triggers.contact_stage"],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Apollo.io",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_apollo.transfers.apollo_to_s3",
            }
        ],
    }
