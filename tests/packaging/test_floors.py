"""The declared floors are true: `make test-floor` installs exactly them, and they hold what the package imports."""

from __future__ import annotations

import ast
import importlib
import os
import sys
from importlib.metadata import metadata, requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import airflow_provider_apollo

DISTRIBUTION = "airflow-provider-apollo"
# Extras for the project's own work; every other extra is a feature users install.
DEVELOPER_EXTRAS = {"test", "dev", "docs"}
PACKAGE = Path(airflow_provider_apollo.__file__).resolve().parent
# Set by `make test-floor`: the environment holds each floor exactly, not merely something newer.
EXPECT_FLOORS = os.environ.get("APOLLO_EXPECT_FLOORS") == "1"


def user_requirements() -> list[Requirement]:
    """The runtime dependencies and every user extra's, as the installed metadata declares them."""
    user_extras = [
        e for e in metadata(DISTRIBUTION).get_all("Provides-Extra") or [] if e not in DEVELOPER_EXTRAS
    ]
    found = []
    for line in requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in user_extras):
            found.append(requirement)
    return found


def floor_of(requirement: Requirement) -> Version | None:
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    return max(floors) if floors else None


def test_every_dependency_users_install_has_a_floor() -> None:
    requirements = user_requirements()
    names = {canonicalize_name(r.name) for r in requirements}
    assert {
        "apache-airflow",
        "apache-airflow-providers-amazon",
        "apache-airflow-providers-common-sql",
    } <= names
    assert [str(r) for r in requirements if floor_of(r) is None] == []


def test_the_installed_versions_are_the_floors_in_the_floor_environment_and_above_them_elsewhere() -> None:
    wrong = []
    for requirement in user_requirements():
        floor = floor_of(requirement)
        installed = Version(version(requirement.name))
        if installed < floor or (EXPECT_FLOORS and installed != floor):  # type: ignore[operator]
            wrong.append(f"{requirement.name}: floor {floor}, installed {installed}")
    assert wrong == [], "pyproject.toml's floors and this environment disagree (see docs/support.md)"


def _compat_imports() -> set[tuple[str, str]]:
    """(module, name) of every ``airflow.providers.common.compat`` import not guarded by ``except ImportError``."""
    found: set[tuple[str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = {
            id(node)
            for handler_owner in ast.walk(tree)
            if isinstance(handler_owner, ast.Try)
            and any(
                isinstance(h.type, ast.Name) and h.type.id in {"ImportError", "ModuleNotFoundError"}
                for h in handler_owner.handlers
            )
            for statement in handler_owner.body
            for node in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("airflow.providers.common.compat")
                and id(node) not in guarded
            ):
                found.update((node.module or "", alias.name) for alias in node.names)
    return found


def test_every_common_compat_name_the_package_imports_is_in_the_installed_release() -> None:
    # Imports inside functions included (hook lineage, assets, deferral): they fail at run time, not at import.
    imports = _compat_imports()
    assert ("airflow.providers.common.compat.sdk", "get_hook_lineage_collector") in imports
    missing = []
    for module, name in sorted(imports):
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            missing.append(f"{module}.{name}: {error}")
    compat = version("apache-airflow-providers-common-compat")
    assert missing == [], f"common-compat {compat} lacks names the package imports: raise its floor"


def test_mask_secret_is_found_whatever_common_compat_exports() -> None:
    # Python 3.10 stops at common-compat 1.20, which does not export it (docs/support.md).
    from airflow_provider_apollo._compat import mask_secret

    assert callable(mask_secret)


def test_the_floors_script_pins_each_floor_and_dates_the_rest_at_the_floor_airflows_release() -> None:
    if sys.version_info < (3, 11):
        pytest.skip(
            ".ci/floors.py runs in the main environment (it reads pyproject.toml with tomllib, Python 3.11+)"
        )
    import importlib.util

    import tomllib

    path = PACKAGE.parent / ".ci" / "floors.py"
    if not path.exists():
        pytest.skip("not a source checkout")
    spec = importlib.util.spec_from_file_location("floors", path)
    assert spec is not None and spec.loader is not None
    floors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floors)
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    airflow_floor = str(floor_of(Requirement(pyproject["dependencies"][0])))
    pins = floors.floor_pins(floors.user_requirements())
    assert f"apache-airflow=={airflow_floor}" in pins
    assert {Requirement(pin).name for pin in pins} == {r.name for r in user_requirements()}
    options = floors.uv_options(pins)
    assert options[:2] == ["--exclude-newer", floors.AIRFLOW_RELEASED[airflow_floor]]
    exempt = {
        options[i + 1].split("=")[0]
        for i, option in enumerate(options)
        if option == "--exclude-newer-package"
    }
    assert exempt == {Requirement(pin).name for pin in pins}
    with pytest.raises(SystemExit, match="no release date"):
        floors.uv_options(["apache-airflow==2.99.0"])
    with pytest.raises(SystemExit, match="no '>=' lower bound"):
        floors.floor_pins(["requests"])
