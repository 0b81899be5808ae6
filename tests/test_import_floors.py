"""The import picture of the core: floors with no cycles.

Every module of ``rnndyn`` is read with :mod:`ast`; an edge ``a -> b`` is an
import of ``b`` by ``a`` at module level (imports under ``TYPE_CHECKING`` are
for annotations only and do not run). The graph must have no cycle, so each
module sits on a floor above everything it imports; the floors are printed
(``pytest -s``) as the package's map.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "rnndyn"


def _name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_pkg: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def _module_level_imports(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text())
    me, is_pkg = _name(path), path.name == "__init__.py"
    out: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # annotations only
            if isinstance(node, ast.If | ast.Try | ast.With):
                for body in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, body, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = _resolve(me, is_pkg, node.level, node.module)
                elif (node.module or "").startswith("rnndyn"):
                    base = node.module or ""
                else:
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    out.add(sub if sub in modules else base)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.startswith("rnndyn"))

    visit(tree.body)
    out.discard(me)
    return {m for m in out if m in modules}


def _graph() -> dict[str, set[str]]:
    files = sorted(ROOT.rglob("*.py"))
    modules = {_name(p) for p in files}
    return {_name(p): _module_level_imports(p, modules) for p in files}


def _floors(graph: dict[str, set[str]]) -> list[list[str]]:
    floors, placed = [], set()
    pending = {m for m in graph if m != "rnndyn"}
    while pending:
        ready = sorted(m for m in pending if graph[m] - {"rnndyn"} <= placed)
        if not ready:
            return floors + [sorted(pending)]  # a cycle: what is left
        floors.append(ready)
        placed.update(ready)
        pending -= set(ready)
    return floors


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m] - {"rnndyn"}):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (found := dfs(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := dfs(m)):
            return found
    return None


def test_the_core_imports_form_floors_without_cycles():
    graph = _graph()
    assert "rnndyn.trajectories" in graph and "rnndyn.steps" in graph
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])
    floors = _floors(graph)
    for k, floor in enumerate(floors):
        print(f"floor {k}: {', '.join(m.removeprefix('rnndyn.') for m in floor)}")
    # the ground floor imports nothing of rnndyn; the data type stands on the step model
    assert "rnndyn.errors" in floors[0]
    level = {m: k for k, floor in enumerate(floors) for m in floor}
    assert level["rnndyn.steps"] < level["rnndyn.trajectories"] < level["rnndyn.metrics"]
    assert level["rnndyn._backends"] < level["rnndyn._kernels"] < level["rnndyn.metrics"]


def test_trajectories_and_convert_do_not_import_each_other():
    graph = _graph()
    assert "rnndyn.trajectories" not in graph["rnndyn._convert"]
    text = (ROOT / "_convert.py").read_text().replace("    from .trajectories import Trajectories\n", "", 1)
    assert "from .trajectories import" not in text  # only the TYPE_CHECKING one, for annotations


def test_a_cycle_would_be_found():
    """The checker itself: a made-up graph with a cycle is caught."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _floors({"x": set(), "y": {"x"}}) == [["x"], ["y"]]
