"""The core decides and does no I/O: provably, by importing it with every transport blocked."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import airflow_provider_apollo.core as core

CORE_DIR = Path(core.__file__).parent
TRANSPORTS = ("requests", "aiohttp", "urllib3", "boto3", "botocore", "httpx", "socket_client")

BLOCKER = f"""
import importlib.abc, sys
BLOCKED = {TRANSPORTS!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"the core imported {{name}}")
        return None
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
sys.meta_path.insert(0, Block())
import importlib, pkgutil
import airflow_provider_apollo.core as core
for module in pkgutil.iter_modules(core.__path__):
    importlib.import_module(f"airflow_provider_apollo.core.{{module.name}}")
loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
assert not loaded, loaded
print("ok", len(list(pkgutil.iter_modules(core.__path__))))
"""


def test_the_core_imports_with_every_http_and_aws_library_blocked() -> None:
    done = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
    assert int(done.stdout.split()[1]) == len(list(pkgutil.iter_modules(core.__path__)))


def _core_sources() -> list[tuple[str, ast.Module]]:
    return [(path.name, ast.parse(path.read_text())) for path in sorted(CORE_DIR.glob("*.py"))]


def test_no_core_module_imports_airflow_beyond_its_exceptions() -> None:
    offenders = []
    for name, tree in _core_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            else:
                continue
            top = module.split(".")[0]
            if top == "airflow" or module.startswith("airflow_provider_apollo.hooks"):
                offenders.append(f"{name}: {module}")
            if top in TRANSPORTS:
                offenders.append(f"{name}: {module}")
    assert offenders == []


def test_no_core_function_receives_a_hook() -> None:
    offenders = []
    for name, tree in _core_sources():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                arguments = [a.arg for a in node.args.args + node.args.kwonlyargs]
                offenders += [f"{name}:{node.name}({arg})" for arg in arguments if "hook" in arg.lower()]
                annotations = [ast.unparse(a.annotation) for a in node.args.args if a.annotation is not None]
                offenders += [f"{name}:{node.name}: {a}" for a in annotations if "Hook" in a]
    assert offenders == []


def test_no_core_code_calls_a_hook_method() -> None:
    from airflow.providers.common.compat.sdk import BaseHook

    from airflow_provider_apollo.hooks.apollo import ApolloHook

    hook_methods = {
        name
        for name in dir(ApolloHook)
        if not name.startswith("_") and name not in dir(BaseHook) and callable(getattr(ApolloHook, name))
    }
    assert {"call", "search_contacts", "add_to_sequence", "list_custom_fields"} <= hook_methods
    offenders = []
    for name, tree in _core_sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in hook_methods
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("self", "cls"))
            ):
                offenders.append(f"{name}:{node.lineno}: .{node.func.attr}(...)")
    assert offenders == []
