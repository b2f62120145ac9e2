"""Package edges: what is installed works from an install; repository-only tools live outside the package."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import airflow_provider_apollo

PACKAGE = Path(airflow_provider_apollo.__file__).resolve().parent
REPO = PACKAGE.parent


def test_the_demo_lives_outside_the_installed_package() -> None:
    assert importlib.util.find_spec("airflow_provider_apollo.demo") is None
    assert (REPO / "demo" / "run_demo.py").is_file()
    demo_target = re.search(r"^demo:.*\n\t(?P<command>.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert demo_target is not None and demo_target["command"].endswith("python demo/run_demo.py")


def test_no_installed_module_reaches_into_the_repository() -> None:
    # A module that reads example_dags/ (or anything beside the package) breaks in a pip install.
    offenders = [
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"example_dags|parent\.parent|parents\[1\]", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
