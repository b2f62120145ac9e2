"""Griffe extension: the docstrings' reST that Markdown does not know, said in Markdown.

The API reference (docs/reference/) renders the code's reST docstrings with mkdocstrings. Its
Sphinx parser reads ``:param x:`` fields but leaves the rest as written, so a reader would see
``:meth:`run_job``` and ``Example::`` verbatim. Each Sphinx role becomes an optional
cross-reference: a link when the target is on a reference page, plain code otherwise (never a
build warning). A literal block's ``::`` becomes ``:`` (the indented block is already Markdown code).

Operators document the arguments they hand to a base class through ``**kwargs``
(``apollo_conn_id``, ``skip_deleted`` ...). Such an argument gets the type its base class declares
(a ``:type:`` field), so it reads like the others; an argument documented nowhere in the class's
bases keeps griffe's "No matching parameter" warning, which fails the strict build: a docstring
naming an argument the code no longer takes cannot be published.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

LITERAL_BLOCK_MARKER = re.compile(r"(?m)(?:(?<=\S)::|^\s*::)$")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj):`(?P<tilde>~?)(?P<target>[\w.]+)`")
PARAM = re.compile(r"(?m)^:param (?:\S+ )?(?P<name>\w+):")
TYPE = re.compile(r"(?m)^:type (?P<name>\w+):")


def _candidates(obj: griffe.Object, target: str) -> list[str]:
    """Where a name may live, as Sphinx looks: as given, in the object, beside it, in its module."""
    if target.startswith("airflow_provider_apollo."):
        return [target]
    scopes = [obj, obj.parent, obj.module]
    return [f"{scope.path}.{target}" for scope in scopes if scope is not None]


def _known(obj: griffe.Object, path: str) -> bool:
    package = obj.package
    if not path.startswith(f"{package.path}."):
        return False
    try:
        package[path.removeprefix(f"{package.path}.")]
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False
    return True


def _inherited_types(cls: griffe.Class, docstring: str) -> list[str]:
    """``:type name: annotation`` for each documented argument that a base class's ``__init__`` declares."""
    declared = {parameter.name for parameter in cls.parameters}
    typed = set(TYPE.findall(docstring))
    fields = []
    for name in dict.fromkeys(PARAM.findall(docstring)):
        if name in declared or name in typed:
            continue
        for base in cls.mro():  # the bases griffe can resolve: this package's, not Airflow's
            init = base.members.get("__init__")
            parameters = init.parameters if isinstance(init, griffe.Function) else griffe.Parameters()
            parameter = next((parameter for parameter in parameters if parameter.name == name), None)
            if parameter is not None and parameter.annotation is not None:
                fields.append(f":type {name}: {parameter.annotation}")
                break
    return fields


def rewrite(obj: griffe.Object) -> None:
    """Say the reST of ``obj``'s docstring in Markdown (see the module's docstring)."""
    if obj.docstring is None or ":" not in obj.docstring.value:
        return

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        title = target.rsplit(".", 1)[-1] if match["tilde"] else target
        identifier = next((path for path in _candidates(obj, target) if _known(obj, path)), target)
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )

    text = LITERAL_BLOCK_MARKER.sub(lambda match: ":" if match[0] == "::" else "", obj.docstring.value)
    if isinstance(obj, griffe.Class) and (types := _inherited_types(obj, text)):
        # Before the first :param: field: griffe reads a parameter's type when it meets the parameter.
        first = PARAM.search(text)
        at = first.start() if first else len(text)
        text = text[:at] + "".join(f"{field}\n" for field in types) + text[at:]
    obj.docstring.value = ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring once the package is loaded: its members', and its own."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        rewrite(obj)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        rewrite(pkg)
