"""Tests of airflow_provider_apollo.operators (a package, so its test modules may share names with tests/core's)."""
