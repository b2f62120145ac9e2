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


def test_readme_gives_the_two_commands_first() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.splitlines()] == [["make", "demo"], ["make", "test"]]
