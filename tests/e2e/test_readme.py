"""The README's DAG example is tested code: each python block is a marked snippet of an example DAG."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"^\s*# \[START (?P<name>\S+)\]\s*$")


def marked_snippets(path: Path) -> dict[str, str]:
    """Every ``# [START name]`` ... ``# [END name]`` body in a file, dedented as the docs show it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    snippets = {}
    for index, line in enumerate(lines):
        match = MARKER.match(line)
        if match:
            name = match["name"]
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == f"# [END {name}]")
            snippets[f"{path.name}:{name}"] = textwrap.dedent("\n".join(lines[index + 1 : end]))
    return snippets


def test_readme_python_blocks_are_verbatim_snippets_of_example_dags() -> None:
    blocks = [block.rstrip("\n") for block in PYTHON_BLOCK.findall((REPO / "README.md").read_text())]
    snippets: dict[str, str] = {}
    for path in sorted((REPO / "example_dags").glob("*.py")):
        snippets.update(marked_snippets(path))
    assert blocks, "README.md has no python example"
    for block in blocks:
        matches = [name for name, snippet in snippets.items() if snippet == block]
        assert matches, f"README block is not a marked snippet of example_dags/ (copy it again):\n{block}"


def bash_blocks(readme: str) -> list[list[str]]:
    return [
        block.splitlines() for block in re.findall(r"^```bash\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL)
    ]


def test_readme_opens_with_the_pip_install_of_the_package_and_its_extras() -> None:
    first_section = (REPO / "README.md").read_text().split("\n## ", 1)[1]
    assert first_section.startswith("Install\n")
    assert [line.split() for line in bash_blocks(first_section)[0]] == [
        ["pip", "install", "airflow-provider-apollo"],
        ["pip", "install", "'airflow-provider-apollo[amazon]'"],
        ["pip", "install", "'airflow-provider-apollo[common.sql]'"],
        ["pip", "install", "'airflow-provider-apollo[parquet]'"],
    ]


def test_readme_then_gives_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert [line.split()[:2] for line in bash_blocks(readme)[1]] == [["make", "demo"], ["make", "test"]]


# PyPI shows the README without the repository: a link works there only when it is absolute.
DOCS_SITE = "https://airflow-provider-apollo.github.io/airflow-provider-apollo/"
REPO_FILES = "https://github.com/airflow-provider-apollo/airflow-provider-apollo/blob/main/"
MARKDOWN_LINK = re.compile(r"\]\((?P<url>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(?P<url>\S+)", re.MULTILINE)
HTML_LINK = re.compile(r"""\b(?:href|src)=["'](?P<url>[^"']+)["']""")


def readme_links() -> list[str]:
    readme = (REPO / "README.md").read_text()
    prose = re.sub(r"^```.*?^```$", "", readme, flags=re.MULTILINE | re.DOTALL)
    return [
        match["url"]
        for pattern in (MARKDOWN_LINK, REFERENCE_LINK, HTML_LINK)
        for match in pattern.finditer(prose)
    ]


def test_no_readme_link_is_relative() -> None:
    links = readme_links()
    assert len(links) > 20
    relative = [url for url in links if not re.match(r"^(https?|mailto):", url)]
    assert relative == [], f"README links that break on PyPI (make them absolute): {relative}"


def test_readme_links_to_the_docs_site_and_the_repository_name_pages_and_files_that_exist() -> None:
    for url in readme_links():
        path = url.split("#")[0]
        if path.startswith(DOCS_SITE):
            page = path.removeprefix(DOCS_SITE).rstrip("/")
            assert (REPO / "docs" / f"{page or 'index'}.md").exists() or (
                REPO / "docs" / page / "index.md"
            ).exists(), f"{url}: no docs page docs/{page}.md (MkDocs serves docs/<page>.md at <page>/)"
            assert path.endswith("/"), f"{url}: MkDocs serves a page at its directory URL, ending in /"
        elif path.startswith(REPO_FILES):
            assert (REPO / path.removeprefix(REPO_FILES)).exists(), f"{url}: no such file in the repository"
