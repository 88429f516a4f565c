"""The shape of the core, checked from the source (nothing is imported to check it).

- The core stays platform-free: nothing under rules/ imports nonebot or wechaty.
- No import circles: neither between the packages of rules/ (rules.core,
  rules.config, ..., rules.runtime) nor between its modules. Every import
  statement counts: at the top, deferred inside a function, and under
  ``if TYPE_CHECKING`` (a circle that only type checkers follow is still a
  circle a reader has to follow).
- Imports point down the layers of ARCHITECTURE.md: the composition root over
  the services and commands, over moderation, over the detectors, over config,
  over text, over core.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
FORBIDDEN = ("nonebot", "wechaty", "wechaty_puppet", "wechaty_grpc", "fastapi", "loguru")

# The layers, lowest first: a package may import its own layer and those below.
# (Circles inside one layer are caught by the circle tests.) A new package must
# be placed here: where it sits is a design decision, not an accident.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("rules.core",),  # vocabulary every layer shares
    ("rules.text", "rules.images"),  # text normalisation and card syntax; decoded pixels
    ("rules.config",),  # the config models (validators use text's card-format syntax)
    ("rules.logmask",),  # masking secrets in log lines (names the secret config keys)
    ("rules.detectors", "rules.shared_state", "rules.storage"),
    ("rules.moderation",),  # engine, ladder, executor, wording, escalation routing
    ("rules.members", "rules.groups", "rules.officers", "rules.protection", "rules.commands"),
    ("rules.runtime",),  # the composition root
    ("rules.offline",),  # offline tools that build a runtime (scan)
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


# ---------------------------------------------------------------- platform-free


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


# ---------------------------------------------------------------- the import graph


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement of one module of ``rules`` that names another."""

    importer: str  # rules.commands.service
    imported: str  # rules.officers.digest (a module, or the package whose __init__ is meant)
    where: str  # rules/commands/service.py:47

    def __str__(self) -> str:
        return f"{self.where} imports {self.imported}"


def module_files(root: Path, top: str = "rules") -> dict[str, Path]:
    """Every module of the ``top`` package under ``root``, by dotted name."""
    modules: dict[str, Path] = {}
    for path in sorted((root / top).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The modules one statement imports (``from pkg import sub`` names ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from the module's package, up level - 1
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    return [f"{source}.{alias.name}" for alias in node.names] + [source]


def rules_imports(root: Path, top: str = "rules") -> list[Import]:
    """Every import between modules of ``top``, wherever the statement is."""
    modules = module_files(root, top)
    found: list[Import] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = _imported_names(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                # ``from pkg import name``: the submodule when ``name`` is one, else pkg itself
                source = names.pop()
                names = [n for n in names if n in modules] or [source]
            targets = dict.fromkeys(n for n in names if n in modules and n != module)
            found += [Import(module, target, f"{where}:{node.lineno}") for target in targets]
    return found


def package_of(module: str) -> str:
    """``rules.config.fields`` -> ``rules.config``; ``rules.runtime`` stays itself."""
    return ".".join(module.split(".")[:2])


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The circles of a graph: its strongly connected parts with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            part: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                parts.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(parts)


def shortest_circle(graph: Mapping[str, Iterable[str]], start: str, within: set[str]) -> list[str]:
    """The shortest path from ``start`` back to itself through ``within``: [start, ..., start]."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph.get(node, ())):
            if successor not in within:
                continue
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    raise AssertionError(f"{start} is in no circle")


def circles(imports: list[Import], key: str = "package") -> list[str]:
    """One paragraph per circle: its members, a shortest round trip, and every import line
    from one member to another (the lines to change to break it)."""
    name = package_of if key == "package" else (lambda module: module)
    lines: dict[tuple[str, str], list[str]] = defaultdict(list)
    for imp in imports:
        a, b = name(imp.importer), name(imp.imported)
        if a != b:
            lines[a, b].append(str(imp))
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in lines:
        graph[a].add(b)
    found = []
    for part in strongly_connected(graph):
        trip = shortest_circle(graph, part[0], set(part))
        text = [f"circle of {len(part)}: {', '.join(part)}", "  e.g. " + " -> ".join(trip)]
        for (a, b), where in sorted(lines.items()):
            if a in part and b in part:
                text.append(f"  {a} -> {b}:")
                text += [f"    {line}" for line in sorted(where)]
        found.append("\n".join(text))
    return found


def upward_imports(imports: list[Import]) -> list[str]:
    """Imports from a package to a higher layer, and packages missing from LAYERS."""
    problems = set()
    for imp in imports:
        a, b = package_of(imp.importer), package_of(imp.imported)
        if a == b or "rules" in (a, b):
            continue
        for package in (a, b):
            if package not in RANK:
                problems.add(f"{package} is in no layer of LAYERS (tests/test_architecture.py)")
        if a in RANK and b in RANK and RANK[b] > RANK[a]:
            problems.add(f"{imp}: {a} (layer {RANK[a]}) must not import {b} (layer {RANK[b]})")
    return sorted(problems)


# ---------------------------------------------------------------- the tests


def test_no_import_circle_between_rules_packages() -> None:
    found = circles(rules_imports(ROOT), key="package")
    assert not found, "import circles between rules packages:\n" + "\n".join(found)


def test_no_import_circle_between_rules_modules() -> None:
    found = circles(rules_imports(ROOT), key="module")
    assert not found, "import circles between rules modules:\n" + "\n".join(found)


def test_imports_point_down_the_layers() -> None:
    problems = upward_imports(rules_imports(ROOT))
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("rules.core", set()),  # the vocabulary imports nothing else from rules
        ("rules.text", {"rules.core"}),
        ("rules.config", {"rules.core", "rules.text"}),
    ],
)
def test_the_lowest_packages_import_only_what_is_below_them(
    package: str, allowed: set[str]
) -> None:
    outside = sorted(
        str(imp)
        for imp in rules_imports(ROOT)
        if package_of(imp.importer) == package
        and package_of(imp.imported) not in allowed | {package}
    )
    assert not outside


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Deferred, TYPE_CHECKING, relative and ``from pkg import submodule`` imports all count."""
    files = {
        "rules/__init__.py": "",
        "rules/core/__init__.py": "",
        "rules/core/model.py": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from rules.engine import go\n",
        "rules/engine/__init__.py": "from .run import go\n",
        "rules/engine/run.py": "def go():\n    from rules import store\n",
        "rules/store.py": "from rules.core import model\nimport os\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    imports = rules_imports(tmp_path)
    assert {(i.importer, i.imported, i.where) for i in imports} == {
        ("rules.core.model", "rules.engine", "rules/core/model.py:3"),
        ("rules.engine", "rules.engine.run", "rules/engine/__init__.py:1"),
        ("rules.engine.run", "rules.store", "rules/engine/run.py:2"),
        ("rules.store", "rules.core.model", "rules/store.py:1"),
    }
    (circle,) = circles(imports, key="package")
    assert circle.splitlines()[:2] == [
        "circle of 3: rules.core, rules.engine, rules.store",
        "  e.g. rules.core -> rules.engine -> rules.store -> rules.core",
    ]
    assert "    rules/core/model.py:3 imports rules.engine" in circle.splitlines()
    assert len(circles(imports, key="module")) == 1
    assert upward_imports(imports) == [
        "rules.engine is in no layer of LAYERS (tests/test_architecture.py)",
        "rules.store is in no layer of LAYERS (tests/test_architecture.py)",
    ]
