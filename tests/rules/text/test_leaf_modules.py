"""The look-alike, hidden-link and numeral modules are leaves: they import no other rules code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rules

TEXT = Path(rules.__file__).resolve().parent / "text"
LEAVES = ("lookalike", "lookalike_table", "hidden_links", "numerals")
ALLOWED = {f"rules.text.{name}" for name in LEAVES} | {"rules.text"}


@pytest.mark.parametrize("name", LEAVES)
def test_imports_only_each_other(name: str) -> None:
    tree = ast.parse((TEXT / f"{name}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rules"):
            assert node.module in ALLOWED, node.module
            if node.module == "rules.text":
                assert {alias.name for alias in node.names} <= set(LEAVES)
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("rules") for alias in node.names)
