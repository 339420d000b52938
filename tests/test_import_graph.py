"""nerfplex's packages import downward only: no import cycle between packages or modules, and the order of
docs/architecture.md ("Packages import downward").

The graph is read from the source with ``ast`` (nothing is imported): every ``import`` / ``from ... import``
of a ``nerfplex`` module anywhere in a file counts, at module level or inside a function or method
(an import inside a function is still a dependency; hiding a cycle there is what this test exists to
catch). Only imports under ``if TYPE_CHECKING:`` are left out: they never run and serve annotations only.

A package is the first level under ``nerfplex/`` (``data``, ``fields``, ``render``, ...); each top-level
module (``config.py``, ``io.py``, ...) is a package of its own.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple, Optional

import nerfplex

ROOT = Path(nerfplex.__file__).parent

TIERS: list[tuple[str, ...]] = [
    ("errors", "threads", "io", "config_io", "config_checks", "config_migration", "distortion", "ndc", "cameras"),
    ("render", "losses", "geometry", "fields", "metrics"),
    ("data",),
    ("models",),
    ("eval",),
    ("engine",),
    ("config",),
    ("run_loading", "ablation", "sweep", "viewer", "captures"),
    ("cli",),
]
"""The allowed order, lowest first (docs/architecture.md): a package imports packages of its own tier or
lower ones, never a higher tier; within a tier only the cycle tests apply."""


class Import(NamedTuple):
    """``importer`` imports ``imported`` (both dotted module names) at ``path:line``."""

    importer: str
    imported: str
    path: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statement_imports(tree: ast.AST):
    """Every Import / ImportFrom node of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def nerfplex_imports() -> tuple[set[str], list[Import]]:
    """All modules of the package and every import of one nerfplex module by another."""
    files = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}
    imports = []
    for name, path in files.items():
        package_parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in _statement_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package_parts[: len(package_parts) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # ``from nerfplex.eval import video`` imports the module nerfplex.eval.video
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in files else source for a in node.names]
            rel = str(path.relative_to(ROOT.parent))
            imports += [
                Import(name, target, rel, node.lineno)
                for target in targets
                if target.split(".")[0] == "nerfplex" and target != name
            ]
    return set(files), imports


def package_of(module: str) -> Optional[str]:
    """``nerfplex.data.loading`` -> ``data``; ``nerfplex.config`` -> ``config``; the root -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def find_cycle(graph: dict[str, set[str]]) -> Optional[list[str]]:
    """One cycle ``[a, b, ..., a]`` of a directed graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if start in state:
            continue
        path, iters = [start], [iter(sorted(graph.get(start, ())))]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph.get(nxt, ()))))
    return None


def _explain(cycle: list[str], witnesses: dict[tuple[str, str], list[Import]]) -> str:
    lines = [" -> ".join(cycle)]
    for a, b in zip(cycle, cycle[1:]):
        for imp in witnesses[a, b][:3]:
            lines.append(f"  {a} -> {b}: {imp.path}:{imp.line} imports {imp.imported}")
    return "\n".join(lines)


def _package_graph(imports: list[Import]):
    graph, witnesses = defaultdict(set), defaultdict(list)
    for imp in imports:
        a, b = package_of(imp.importer), package_of(imp.imported)
        if a and b and a != b:
            graph[a].add(b)
            witnesses[a, b].append(imp)
    return graph, witnesses


def test_the_walk_sees_function_level_imports_and_skips_type_checking_blocks():
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from nerfplex.config import X\n"
        "def f():\n    from nerfplex.models import base\n    import nerfplex.io\n"
    )
    found = [node.lineno for node in _statement_imports(ast.parse(source))]
    assert sorted(found) == [1, 5, 6]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) in (["a", "b", "c", "a"],)
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_packages():
    _, imports = nerfplex_imports()
    graph, witnesses = _package_graph(imports)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between nerfplex packages:\n" + _explain(cycle, witnesses)


def test_no_import_cycle_between_modules():
    modules, imports = nerfplex_imports()
    graph, witnesses = defaultdict(set), defaultdict(list)
    for imp in imports:
        if imp.imported in modules and imp.imported != "nerfplex":
            graph[imp.importer].add(imp.imported)
            witnesses[imp.importer, imp.imported].append(imp)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between nerfplex modules:\n" + _explain(cycle, witnesses)


def test_packages_import_downward_in_the_documented_order():
    modules, imports = nerfplex_imports()
    tier = {name: i for i, names in enumerate(TIERS) for name in names}
    packages = {package_of(m) for m in modules} - {None}
    unplaced = sorted(packages - set(tier))
    assert not unplaced, (
        f"packages {unplaced} have no place in the import order: add each to TIERS in "
        f"tests/test_import_graph.py and to 'Packages import downward' in docs/architecture.md"
    )
    graph, witnesses = _package_graph(imports)
    upward = [
        f"{a} (tier {tier[a]}) -> {b} (tier {tier[b]}): "
        + ", ".join(f"{imp.path}:{imp.line}" for imp in witnesses[a, b][:3])
        for a in sorted(graph)
        for b in sorted(graph[a])
        if tier[b] > tier[a]
    ]
    assert not upward, "imports against the documented order:\n" + "\n".join(upward)


def test_importing_the_config_does_not_load_the_trainer():
    code = "import sys, nerfplex.config; print(' '.join(sorted(m for m in sys.modules if m.startswith('nerfplex'))))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert "nerfplex.config" in loaded
    heavy = [
        m
        for m in loaded
        if m in ("nerfplex.engine.trainer", "nerfplex.engine.evaluation")
        or m.startswith(("nerfplex.eval.", "nerfplex.cli.", "nerfplex.viewer", "nerfplex.sweep"))
    ]
    assert not heavy, f"importing nerfplex.config loads {heavy} ({len(loaded)} nerfplex modules in all)"
