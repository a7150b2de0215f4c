"""How many tests pytest will run from a folder of test files, read from their source.

Sizes a run's time budget (`grader.judge.runner.time_budget`) before pytest starts, without
importing the tests: pytest's default discovery (`test_*.py` and `*_test.py`; functions named
`test*`, also `async def`; methods named `test*` of classes named `Test*` without `__init__`)
and `@pytest.mark.parametrize` with a literal list of cases, one test per case (stacked
decorators multiply). Parameters computed at run time count as one case.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _cases(decorator: ast.expr) -> int:
    """Cases a `pytest.mark.parametrize(names, [cases...])` decorator makes (1 otherwise)."""
    if not (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr == "parametrize"
    ):
        return 1
    values = (
        decorator.args[1]
        if len(decorator.args) > 1
        else next((k.value for k in decorator.keywords if k.arg == "argvalues"), None)
    )
    if isinstance(values, ast.List | ast.Tuple | ast.Set):
        return len(values.elts)
    return 1


def _items(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    count = 1
    for decorator in node.decorator_list:
        count *= _cases(decorator)
    return count


def _in_class(cls: ast.ClassDef) -> int:
    body = cls.body
    if any(isinstance(n, _FUNCTIONS) and n.name == "__init__" for n in body):
        return 0  # pytest does not collect a test class with a constructor
    return sum(_items(n) for n in body if isinstance(n, _FUNCTIONS) and n.name.startswith("test"))


def count_in_source(source: str) -> int:
    """Tests pytest collects from one test module's source (0 if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return 0
    total = 0
    for node in tree.body:
        if isinstance(node, _FUNCTIONS) and node.name.startswith("test"):
            total += _items(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            total += _in_class(node)
    return total


def count_tests(folders: Iterable[Path]) -> int:
    """Tests in the test modules of `folders` (and their subfolders)."""
    files = {p for f in folders for pattern in ("test_*.py", "*_test.py") for p in f.rglob(pattern)}
    return sum(count_in_source(p.read_text(errors="replace")) for p in sorted(files))
