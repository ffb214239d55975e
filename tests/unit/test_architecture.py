"""The architecture the docs describe is the one in the code: the module map lists every module of
the domain package and nothing else, and each handler is the one line the docs promise."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = PROJECT / "layers" / "peering_autopilot" / "peering_autopilot"
DOC = PROJECT / "docs" / "architecture.md"
HANDLERS = sorted((PROJECT / "functions").glob("*/app.py"))


def test_the_module_map_lists_exactly_the_modules_of_the_package() -> None:
    code = DOC.read_text().split("## Code", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\|[^|]*\| `([\w/]+\.py)` \|", code, re.MULTILINE))
    modules = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    assert documented == modules


@pytest.mark.parametrize("handler", HANDLERS, ids=[h.parent.name for h in HANDLERS])
def test_a_handler_imports_only_the_lambda_adapter(handler: Path) -> None:
    tree = ast.parse(handler.read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"peering_autopilot.lambda_adapter"}


def test_every_module_of_the_package_is_in_a_layer_of_the_import_contract() -> None:
    # Every import contract picks its modules from this one list: a module left out of it would be
    # checked by nothing.
    layers = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["importlinter"]["layers"]
    in_layers = {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}
    top_level = {
        p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.glob("*") if p.name != "__init__.py"
    }
    assert in_layers == top_level - {"__pycache__"}
