"""`make dist`: what the sdist and the wheel in DIST_DIR must hold, and what they must not.

Usage: python .ci/check_dist.py DIST_DIR
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

DOCS_URL = "https://airflow-provider-apollo.github.io/airflow-provider-apollo/"
REPO_URL = "https://github.com/airflow-provider-apollo/airflow-provider-apollo"
SDIST_MUST_HOLD = (
    "LICENSE",
    "CHANGELOG.md",
    "README.md",
    "pyproject.toml",
    "airflow_provider_apollo/__init__.py",
)
# Nothing of CI's, of the developers' environments or of local runs goes out.
SDIST_MUST_NOT_HOLD = (".ci/", ".venv", "airflow-home/", "mutants/", "dist/", "build/", "site/")
PROJECT_URLS = {
    "Homepage": REPO_URL,
    "Source": REPO_URL,
    "Documentation": DOCS_URL,
    "Changelog": f"{REPO_URL}/blob/main/CHANGELOG.md",
    "Issues": f"{REPO_URL}/issues",
}
USER_EXTRAS = {"amazon", "common-sql", "parquet"}
# The plain install is the hook, operators, sensors, triggers and emulator: none of these.
NOT_IN_THE_PLAIN_INSTALL = (
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-common-sql",
    "boto3",
    "pyarrow",
)


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    problems = [f"sdist lacks {wanted}" for wanted in SDIST_MUST_HOLD if wanted not in names]
    problems += [
        f"sdist holds {name}"
        for name in names
        for unwanted in SDIST_MUST_NOT_HOLD
        if name.startswith(unwanted)
    ]
    return problems


def check_wheel(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    problems = []
    if not any(name.endswith(".dist-info/licenses/LICENSE") for name in names):
        problems.append("wheel lacks LICENSE in its .dist-info/licenses/")
    if not any(name == "airflow_provider_apollo/py.typed" for name in names):
        problems.append("wheel lacks py.typed")
    if [name for name in names if name.startswith(("tests/", ".ci/"))]:
        problems.append("wheel holds tests/ or .ci/")
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL") or [])
    problems += [
        f"Project-URL {key}: {urls.get(key)!r}, want {url!r}"
        for key, url in PROJECT_URLS.items()
        if urls.get(key) != url
    ]
    extras = set(metadata.get_all("Provides-Extra") or [])
    if not extras >= USER_EXTRAS:
        problems.append(f"wheel extras {sorted(extras)} lack {sorted(USER_EXTRAS - extras)}")
    plain = [line for line in metadata.get_all("Requires-Dist") or [] if "extra ==" not in line]
    problems += [
        f"the plain install requires {line}" for line in plain if line.startswith(NOT_IN_THE_PLAIN_INSTALL)
    ]
    return problems


def main(dist: Path) -> int:
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        print(f"want one sdist and one wheel in {dist}, found {[p.name for p in (*sdists, *wheels)]}")
        return 1
    problems = check_sdist(sdists[0]) + check_wheel(wheels[0])
    for problem in problems:
        print(f"check_dist: {problem}")
    if not problems:
        print(f"check_dist: {sdists[0].name} and {wheels[0].name} hold what they must")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
