"""The API reference's griffe extension (docs/sphinx_roles.py): reST roles, literal blocks, inherited arguments."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import griffe
import pytest

REPO = Path(__file__).resolve().parents[2]

SOURCE = '''
"""A package whose docstrings use reST.

Example::

    child = Child(own=1)
"""


class Base:
    def __init__(self, *, shared: str = "x", **kwargs) -> None:
        pass


class Child(Base):
    """
    Built on :class:`Base` and :class:`~pkg.Base`; see :meth:`run` and :func:`elsewhere.gone`.

    :param own: its own argument.
    :param shared: an argument it hands to ``Base``.
    :param ghost: an argument nothing takes.
    """

    def __init__(self, *, own: int, **kwargs) -> None:
        super().__init__(**kwargs)

    def run(self) -> None:
        """Run."""
'''


@pytest.fixture
def package(tmp_path: Path) -> griffe.Module:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(textwrap.dedent(SOURCE))
    extensions = griffe.load_extensions(str(REPO / "docs" / "sphinx_roles.py"))
    loaded = griffe.load(
        "pkg", search_paths=[str(tmp_path)], extensions=extensions, docstring_parser="sphinx"
    )
    assert isinstance(loaded, griffe.Module)
    return loaded


def text_of(obj: griffe.Object) -> str:
    assert obj.docstring is not None
    return obj.docstring.value


def test_roles_become_optional_cross_references_to_the_objects_they_name(package: griffe.Module) -> None:
    docstring = text_of(package["Child"])
    assert docstring.startswith(
        'Built on <autoref identifier="pkg.Base" optional><code>Base</code></autoref> and '
        '<autoref identifier="pkg.Base" optional><code>Base</code></autoref>; see '
        '<autoref identifier="pkg.Child.run" optional><code>run</code></autoref> and '
        '<autoref identifier="elsewhere.gone" optional><code>elsewhere.gone</code></autoref>.'
    )


def test_a_literal_block_marker_becomes_a_colon(package: griffe.Module) -> None:
    assert "Example:\n\n    child = Child(own=1)" in text_of(package)
    assert "::" not in text_of(package)


def test_an_argument_handed_to_a_base_class_gets_its_type_and_an_unknown_one_warns(
    package: griffe.Module, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        sections = package["Child"].docstring.parse("sphinx", warn_unknown_params=False)
    parameters = {parameter.name: parameter for parameter in sections[-1].value}
    assert [str(parameters[name].annotation) for name in ("own", "shared")] == ["int", "str"]
    assert parameters["ghost"].annotation is None
    warnings = [record.getMessage() for record in caplog.records]
    assert any("No matching parameter for 'ghost'" in message for message in warnings), warnings
    assert not any("'shared'" in message for message in warnings), warnings
