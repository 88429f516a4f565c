"""The core stays platform-free: nothing under rules/ imports nonebot or wechaty."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "rules"
FORBIDDEN = ("nonebot", "wechaty", "wechaty_puppet", "wechaty_grpc", "fastapi", "loguru")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(path: Path) -> list[str]:
    return sorted(name for name in _imported_modules(path) if name.split(".")[0] in FORBIDDEN)


@pytest.mark.parametrize(
    "path", sorted(RULES.rglob("*.py")), ids=lambda p: str(p.relative_to(RULES.parent))
)
def test_rules_module_is_platform_free(path: Path) -> None:
    assert _violations(path) == []


def test_checker_catches_platform_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\nfrom nonebot.adapters import Bot\ndef f():\n    import wechaty\n",
        encoding="utf-8",
    )
    assert _violations(bad) == ["nonebot.adapters", "wechaty"]
