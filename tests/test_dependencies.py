"""Every third-party package the code imports is declared in pyproject.toml.

The grader's own modules (grader/) may import only what `[project] dependencies` or one of its
extras declares; the tests and scripts may also use the `dev` extra. An import is found with
`ast` (also inside functions), its top-level name mapped to the distribution that provides it
(`importlib.metadata.packages_distributions`), so `import yaml` is checked as PyYAML.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])


def _names(requirements: list[str]) -> set[str]:
    """Distribution names of `requirements`, the extras of a self-reference expanded."""
    found: set[str] = set()
    for text in requirements:
        req = Requirement(text)
        if canonicalize_name(req.name) == SELF:
            for extra in req.extras:
                found |= _names(PROJECT["optional-dependencies"][extra])
        else:
            found.add(canonicalize_name(req.name))
    return found


CORE = _names(PROJECT["dependencies"])
EXTRAS = {name: _names(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}


# Submissions the tests hand in (attacks, bug corpus): the students' imports, not ours.
DATA = ({"tests", "attacks"}, {"tests", "bugs"})


def top_level_imports(folder: Path) -> dict[str, set[str]]:
    """{top-level module name: files importing it} for absolute imports of non-stdlib modules."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if ".venv" in parts or any(set(parts[:2]) == data for data in DATA):
            continue
        try:
            tree = ast.parse(path.read_text(), str(path))
        except SyntaxError:  # deliberately broken inputs (test data)
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _local_names(folder: Path) -> set[str]:
    """Modules that live in `folder` (tests and scripts import the tests' helpers by name)."""
    return {p.stem for p in folder.rglob("*.py")} | {
        p.name for p in folder.rglob("*") if p.is_dir()
    }


def undeclared(folder: Path, allowed: set[str]) -> list[str]:
    dists = packages_distributions()
    local = _local_names(folder) | _local_names(ROOT / "tests") | {"grader"}
    problems = []
    for module, files in sorted(top_level_imports(folder).items()):
        if module in local:
            continue
        provided = {canonicalize_name(d) for d in dists.get(module, [])}
        if not provided:
            problems.append(
                f"`{module}` (imported by {', '.join(sorted(files)[:3])}) is not "
                "installed: declare its distribution in pyproject.toml"
            )
        elif not provided & allowed:
            problems.append(
                f"`{module}` (distribution {', '.join(sorted(provided))}, imported by "
                f"{', '.join(sorted(files)[:3])}) is not declared in pyproject.toml"
            )
    return problems


def test_the_grader_imports_only_declared_packages():
    allowed = CORE.union(*(names for extra, names in EXTRAS.items() if extra != "dev"))
    assert undeclared(ROOT / "grader", allowed) == []


@pytest.mark.parametrize("folder", ["tests", "scripts"])
def test_tests_and_scripts_import_only_declared_packages(folder):
    allowed = CORE.union(*EXTRAS.values())
    assert undeclared(ROOT / folder, allowed) == []


def test_the_check_catches_an_undeclared_import(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("import os\n\ndef f():\n    import kombu.utils\n")
    problems = undeclared(tmp_path / "pkg", {"celery"})
    assert len(problems) == 1 and "`kombu`" in problems[0] and "pkg/mod.py" in problems[0]
    assert undeclared(tmp_path / "pkg", {"kombu"}) == []


def test_the_local_runtime_is_an_extra_not_a_core_dependency():
    assert {"mpi4py", "mpich", "pyopencl", "pocl-binary-distribution", "pp"} <= EXTRAS["local"]
    assert not EXTRAS["local"] & CORE
    assert EXTRAS["local"] <= EXTRAS["dev"]  # `pip install -e '.[dev]'` still runs every test
