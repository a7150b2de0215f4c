"""The grader's import graph: no circle between its modules, and a container side (what runs in
the sandbox) that needs no host module.

The graph is read from the sources (ast), not by importing them: an edge A -> B for every
`import B` / `from B import ...` in A naming a module of `grader`. A circle among the imports
made when a module loads (top level, including `if`/`try` blocks) is a bug; so is one closed
by an import inside a function, which only hides it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from grader.sandbox.image import CONTAINER_SIDE

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "grader"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts.pop()
        found[".".join(parts)] = (path, package)
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of `grader` that `name` (a module, or a name in one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _top_level(body: list[ast.stmt]):
    for node in body:
        if isinstance(node, ast.If):
            yield from _top_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(
                node.body
                + node.orelse
                + node.finalbody
                + [s for h in node.handlers for s in h.body]
            )
        else:
            yield node


def imports(module: str, top_level_only: bool) -> set[str]:
    """The modules of `grader` that `module` imports."""
    path, package = MODULES[module]
    tree = ast.parse(path.read_text())
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {_resolve(a.name) for a in node.names if a.name.split(".")[0] == "grader"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + package]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != "grader":
                continue
            for alias in node.names:
                full = f"{name}.{alias.name}"
                found.add(full if full in MODULES else _resolve(name))
    found.discard(None)
    found.discard(module)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _describe(graph: dict[str, set[str]], found: list[list[str]]) -> str:
    lines = []
    for component in found:
        lines.append("circle: " + ", ".join(component))
        for module in component:
            inside = sorted(graph[module] & set(component))
            lines.append(f"    {module} -> {', '.join(inside)}")
    return "\n".join(lines)


def test_the_cycle_finder_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_at_load_time():
    graph = {m: imports(m, top_level_only=True) for m in MODULES}
    found = cycles(graph)
    assert not found, "import circles among top-level imports:\n" + _describe(graph, found)


def test_no_import_circle_hidden_in_a_function():
    graph = {m: imports(m, top_level_only=False) for m in MODULES}
    found = cycles(graph)
    assert not found, (
        "import circles closed by function-level imports (move what both sides "
        "need into its own module):\n" + _describe(graph, found)
    )


def _container_modules() -> list[str]:
    return sorted(
        m
        for m in MODULES
        if m == "grader" or m.split(".")[1] in {part.removesuffix(".py") for part in CONTAINER_SIDE}
    )


def test_the_container_side_imports_no_host_module():
    """Every import of the sandbox's modules, lazy ones included, stays on the container side
    (the image holds nothing else: grader.sandbox.image.CONTAINER_SIDE)."""
    inside = set(_container_modules())
    assert {"grader.agent.server", "grader.agent.agent", "grader.protocol"} <= inside
    outside = {m: sorted(imports(m, top_level_only=False) - inside) for m in inside}
    assert not {m: o for m, o in outside.items() if o}


def test_the_container_side_loads_with_host_modules_blocked():
    """Import every module of the container side in a fresh interpreter where importing any other
    module of `grader` fails, as in the image."""
    allowed = sorted(part.removesuffix(".py") for part in CONTAINER_SIDE if part != "__init__.py")
    script = textwrap.dedent(f"""
        import importlib, importlib.abc, sys
        ALLOWED = {allowed!r}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                parts = name.split(".")
                if parts[0] == "grader" and len(parts) > 1 and parts[1] not in ALLOWED:
                    raise ImportError(f"host module {{name}} imported on the container side")
                return None

        sys.meta_path.insert(0, Block())
        for name in {_container_modules()!r}:
            importlib.import_module(name)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "grader")
        print(len(loaded))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) >= len(_container_modules())
