"""The shape of the code: no function longer than a screenful and a half, no import cycle.

Ruff checks each function's complexity (C901, at most 14); this checks their length, which
ruff does not: at most 80 lines of code (the docstring not counted) outside migrations.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("geo", "layers", "api")
MAX_LINES = 80


def _functions() -> list[tuple[str, int]]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    first = node.body[0]
                    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                        lines -= (first.end_lineno or first.lineno) - first.lineno + 1
                    rel = path.relative_to(ROOT)
                    out.append((f"{rel}:{node.lineno} {node.name}", lines))
    return out


def test_no_function_is_longer_than_80_lines() -> None:
    functions = _functions()
    assert len(functions) > 500  # the walk found the code
    long = sorted(((n, name) for name, n in functions if n > MAX_LINES), reverse=True)
    assert not long, "functions over 80 lines: " + "; ".join(f"{name} ({n})" for n, name in long)


def _module_imports() -> dict[str, set[str]]:
    """Each module of the packages and the modules of the packages it imports at its top."""
    paths = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            paths[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # top level only
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in paths)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & paths.keys()
                # ``from package import submodule`` needs the submodule, not the package's body
                if len(subs) < len(node.names) and node.module in paths:
                    deps.add(node.module)
                deps.update(subs)
        graph[name] = deps - {name}
    return graph


def test_no_import_cycle() -> None:
    graph = _module_imports()
    assert "api.app" in graph and "geo.crs" in graph
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                # a package importing its own submodules (api.cli -> api.cli.base) is not a cycle
                cycle = [*path[path.index(dep) :], dep]
                if not all(b.startswith(a + ".") for a, b in itertools.pairwise(cycle)):
                    cycles.append(" -> ".join(cycle))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_the_layers_import_one_way() -> None:
    """geo <- layers <- api: nothing imports upward."""
    upward = [
        f"{m} imports {d}"
        for m, deps in _module_imports().items()
        for d in deps
        if (m.startswith("geo") and d.split(".")[0] in ("layers", "api"))
        or (m.startswith("layers") and d.startswith("api"))
    ]
    assert not upward, upward
