"""The package's declared floors, for `make test-floor`: what to install, what to pin, and as of when.

``python .ci/floors.py requirements`` prints every runtime dependency and every user extra's
dependency (the extras users install: not ``test``, ``dev`` or ``docs``) as written in
pyproject.toml. ``python .ci/floors.py constraints`` prints each of them pinned to its lower bound
(``name==floor``). ``python .ci/floors.py uv-options`` prints the options that resolve every other
package as it was when the floor Airflow was released. With them,
``uv pip install --resolution lowest-direct -r requirements -c constraints`` installs every direct
dependency at exactly its floor, or fails to resolve, which means a floor cannot be installed at all.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# Extras for the project's own work, not features users install.
DEVELOPER_EXTRAS = ("test", "dev", "docs")
# The day after each Airflow release that may be the floor was uploaded to PyPI. Airflow pins its
# dependencies per release in a constraints file, and an old release breaks with today's versions of
# them (FastAPI, Cadwyn, cryptography, structlog: docs/support.md), so the floor environment takes
# every package no floor pins as it was that day: what that constraints file pinned, near enough.
AIRFLOW_RELEASED = {
    "3.0.2": "2025-06-11T00:00:00Z",
}
# No floor is newer than this: pinned floors are exempt from the date above.
NO_DATE_LIMIT = "2100-01-01T00:00:00Z"
LOWER_BOUND = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")


def user_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The runtime dependencies, then each user extra's, each once, in pyproject's order."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements: list[str] = list(project["dependencies"])
    for extra, specs in project.get("optional-dependencies", {}).items():
        if extra not in DEVELOPER_EXTRAS:
            requirements.extend(spec for spec in specs if spec not in requirements)
    return requirements


def floor_pins(requirements: list[str]) -> list[str]:
    """``name==floor`` for each requirement; a requirement without a ``>=`` floor is an error."""
    pins: dict[str, str] = {}
    for spec in requirements:
        match = LOWER_BOUND.match(spec)
        if match is None:
            raise SystemExit(f"{spec!r} has no '>=' lower bound: every dependency needs a floor")
        name, floor = match.groups()
        if pins.setdefault(name, floor) != floor:
            raise SystemExit(f"{name} has two floors in pyproject.toml: {pins[name]} and {floor}")
    return [f"{name}=={floor}" for name, floor in pins.items()]


def uv_options(pins: list[str]) -> list[str]:
    """``--exclude-newer`` at the floor Airflow's release, every pinned floor exempt from it."""
    airflow = next((pin.split("==")[1] for pin in pins if pin.startswith("apache-airflow==")), None)
    if airflow not in AIRFLOW_RELEASED:
        raise SystemExit(
            f"The Airflow floor {airflow} has no release date in .ci/floors.py AIRFLOW_RELEASED: add the day "
            "after its upload to PyPI"
        )
    options = ["--exclude-newer", AIRFLOW_RELEASED[airflow]]
    for pin in pins:
        options += ["--exclude-newer-package", f"{pin.split('==')[0]}={NO_DATE_LIMIT}"]
    return options


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    requirements = user_requirements()
    if command == "requirements":
        print("\n".join(requirements))
    elif command == "constraints":
        print("\n".join(floor_pins(requirements)))
    elif command == "uv-options":
        print(" ".join(uv_options(floor_pins(requirements))))
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
