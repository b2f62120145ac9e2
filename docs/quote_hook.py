"""MkDocs hook: docs quote tested code between ``# [START name]`` and ``# [END name]`` markers.

In a page, a line ``<!-- quote: path/from/repo/root.py name -->`` becomes a fenced code block
with the lines between the markers of that name. A missing file or marker fails the build, so
the docs cannot drift from the code they quote.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^<!-- quote: (?P<path>\S+) (?P<name>\S+) -->$", re.MULTILINE)
LANGUAGES = {".py": "python", ".toml": "toml", ".cfg": "ini", ".sh": "bash", "Makefile": "make"}


def quote(path: str, name: str) -> str:
    source = (REPO / path).read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(source) if line.strip() == f"# [START {name}]"), None)
    end = next((i for i, line in enumerate(source) if line.strip() == f"# [END {name}]"), None)
    if start is None or end is None or end <= start:
        raise ValueError(f"{path}: no '# [START {name}]' ... '# [END {name}]' pair to quote")
    body = textwrap.dedent("\n".join(source[start + 1 : end]))
    language = LANGUAGES.get(Path(path).suffix) or LANGUAGES.get(Path(path).name, "")
    return f"```{language}\n{body}\n```"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return DIRECTIVE.sub(lambda match: quote(match["path"], match["name"]), markdown)
