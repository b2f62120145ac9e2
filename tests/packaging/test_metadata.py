"""The package's metadata points users at the docs, the source, the changelog and the issues."""

from __future__ import annotations

from importlib.metadata import metadata

from airflow_provider_apollo import DOCUMENTATION_URL, get_provider_info

REPO_URL = "https://github.com/airflow-provider-apollo/airflow-provider-apollo"


def project_urls() -> dict[str, str]:
    entries = metadata("airflow-provider-apollo").get_all("Project-URL") or []
    return dict(entry.split(", ", 1) for entry in entries)


def test_the_project_urls_name_the_docs_site_the_repository_the_changelog_and_the_issues() -> None:
    assert project_urls() == {
        "Homepage": REPO_URL,
        "Documentation": "https://airflow-provider-apollo.github.io/airflow-provider-apollo/",
        "Source": REPO_URL,
        "Changelog": f"{REPO_URL}/blob/main/CHANGELOG.md",
        "Issues": f"{REPO_URL}/issues",
    }


def test_the_provider_info_documentation_url_is_the_docs_site() -> None:
    assert get_provider_info()["documentation-url"] == DOCUMENTATION_URL == project_urls()["Documentation"]


def test_airflow_lists_the_provider_with_its_documentation_url() -> None:
    # Airflow 3.3 takes it from the Documentation project URL, older ones from the provider info.
    from airflow.providers_manager import ProvidersManager

    provider = ProvidersManager().providers["airflow-provider-apollo"]
    assert provider.data["documentation-url"] == DOCUMENTATION_URL


def test_the_user_extras_are_declared_and_the_plain_install_needs_neither_provider() -> None:
    meta = metadata("airflow-provider-apollo")
    assert {"amazon", "common-sql", "parquet"} <= set(meta.get_all("Provides-Extra") or [])
    plain = [line for line in meta.get_all("Requires-Dist") or [] if "extra ==" not in line]
    assert not [line for line in plain if line.startswith(("apache-airflow-providers-amazon", "boto3"))]
    assert not [line for line in plain if line.startswith("apache-airflow-providers-common-sql")]
