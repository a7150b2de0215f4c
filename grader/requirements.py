"""Requirements as data: what each exercise demands, which test checks it, which mutant proves it.

An exercise lists its requirements in `exercise.toml`, one id and one sentence each (the same
sentence as in its README):

    [requirements]
    in-order = "Return the results in the order of urls: result i is await fetch(urls[i])."

Every test names the requirement(s) it checks with a decorator (recorded into each test record
by the judge's plugin, so results.json and the feedback know it too):

    from grader.testing import requirement

    @requirement("in-order")
    def test_results_in_input_order(student): ...

and every requirement has at least one mutant that violates it and names it in its
`mutant.toml` (`requirement = "in-order"`). `grader validate` prints the coverage table
(requirement -> tests -> mutants proven) and fails on a requirement with no test or no proven
mutant. A requirement whose test needs grader machinery that does not exist yet is listed under
`[requirements_waiting]` with what it waits for; it is reported, never silently passed.

This module reads all of that statically (test files are parsed, never imported), so the same
checks run in the platform's fast tests without Docker.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import ConfigError

ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Words of a statement that make a sentence a requirement (the README review's rule).
KEYWORDS = re.compile(r"\bmust\b|\bat most\b|\bwhile\b|\bin (?:the )?order\b|\bwithout\b", re.I)
SPEC_HEADINGS = ("## What to write", "## Interface")


def requirement(*ids: str):
    """Mark a test with the requirement(s) of its exercise that it checks."""
    import pytest  # the judge's side only: the sandbox has no pytest

    if not ids or not all(isinstance(i, str) and ID.match(i) for i in ids):
        raise ValueError(f"requirement ids are lowercase words joined by '-', got {ids!r}")
    return pytest.mark.requirement(*ids)


def test_requirements(item) -> list[str]:
    """The requirement ids a collected pytest item names (for the judge's plugin)."""
    return [i for m in item.iter_markers("requirement") for i in m.args]


test_requirements.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


# ---------------------------------------------------------------- reading exercise.toml


def parse_requirements(data: dict, path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(requirements {id: sentence}, waiting {id: what it waits for}) from an exercise.toml."""
    table = data.get("requirements", {})
    waiting = data.get("requirements_waiting", {})
    entries = [
        (k, v, name)
        for name, tab in (("requirements", table), ("requirements_waiting", waiting))
        for k, v in _items(tab, path, name)
    ]
    for key, value, what in entries:
        if not ID.match(key):
            raise ConfigError(path, f"{what}.{key}", "an id of lowercase words joined by '-'", key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(path, f"{what}.{key}", "a non-empty string", value)
    unknown = sorted(set(waiting) - set(table))
    if unknown:
        raise ConfigError(
            path, f"requirements_waiting.{unknown[0]}", "an id listed in [requirements]", unknown[0]
        )
    return dict(table), dict(waiting)


def _items(table, path: Path, name: str):
    if not isinstance(table, dict):
        raise ConfigError(path, name, "a table of id = sentence", table)
    return table.items()


# ---------------------------------------------------------------- tests and mutants, statically


def declared_tests(folders: list[Path]) -> dict[str, list[str]]:
    """{test function: [requirement ids]} for every `test_*` function in the test files of
    `folders` (parsed, not imported). A test without @requirement maps to []."""
    out: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted(folder.glob("test_*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    out[node.name] = [
                        a.value
                        for d in node.decorator_list
                        if isinstance(d, ast.Call) and _is_requirement(d.func)
                        for a in d.args
                        if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    ]
    return out


def _is_requirement(func) -> bool:
    return (isinstance(func, ast.Name) and func.id == "requirement") or (
        isinstance(func, ast.Attribute) and func.attr == "requirement"
    )


@dataclass
class MutantSpec:
    name: str
    requirement: str
    must_fail: list[str]


@dataclass
class Coverage:
    """One requirement: the tests that check it and the mutants that violate it."""

    id: str
    sentence: str
    tests: list[str] = field(default_factory=list)
    mutants: list[str] = field(default_factory=list)
    waiting: str = ""


def static_coverage(exercise, mutants: list[MutantSpec]) -> tuple[list[Coverage], list[str]]:
    """The coverage rows of an exercise and the problems found without running anything: a
    requirement with no test or no mutant, a test or mutant naming no (or an unknown)
    requirement, a mutant that must fail no test of its requirement, a sentence missing from
    the README."""
    tests = declared_tests([exercise.public_tests, exercise.hidden_tests])
    rows = {
        rid: Coverage(rid, text, waiting=exercise.requirements_waiting.get(rid, ""))
        for rid, text in exercise.requirements.items()
    }
    problems = []
    if not rows:
        problems.append("exercise.toml lists no [requirements]")
    for name, ids in tests.items():
        if not ids:
            problems.append(f"{name} names no requirement (@requirement(...))")
        for rid in ids:
            if rid in rows:
                rows[rid].tests.append(name)
            else:
                problems.append(f"{name} names the unknown requirement {rid!r}")
    for m in mutants:
        if not m.requirement:
            problems.append(f'mutant {m.name} names no requirement (requirement = "...")')
            continue
        if m.requirement not in rows:
            problems.append(f"mutant {m.name} names the unknown requirement {m.requirement!r}")
            continue
        rows[m.requirement].mutants.append(m.name)
        row = rows[m.requirement]
        if not set(m.must_fail) & set(row.tests) and not row.waiting:
            problems.append(
                f"mutant {m.name} must fail no test of its requirement "
                f"{m.requirement!r} ({', '.join(rows[m.requirement].tests) or 'none'})"
            )
    readme = normalise(exercise.statement.read_text(encoding="utf-8"))
    for row in rows.values():
        if normalise(row.sentence) not in readme:
            problems.append(
                f"requirement {row.id!r}: its sentence is not in README.md ({row.sentence[:80]!r})"
            )
        if row.waiting:
            continue
        if not row.tests:
            problems.append(f"requirement {row.id!r} has no test")
        if not row.mutants:
            problems.append(f"requirement {row.id!r} has no mutant")
    return list(rows.values()), problems


def mutant_specs(solutions: Path) -> list[MutantSpec]:
    out = []
    folder = solutions / "mutants"
    for d in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        try:
            spec = tomllib.loads((d / "mutant.toml").read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(d / "mutant.toml", "-", f"a readable mutant.toml ({exc})") from None
        out.append(
            MutantSpec(d.name, str(spec.get("requirement", "")), list(spec.get("must_fail", [])))
        )
    return out


# ---------------------------------------------------------------- the README review's rule


def normalise(text: str) -> str:
    return " ".join(text.split())


def spec_sentences(readme: str) -> list[str]:
    """The sentences of the statement's specification section ("What to write" / "Interface"),
    code fences dropped and lines joined."""
    start = next((readme.find(h) for h in SPEC_HEADINGS if h in readme), -1)
    if start < 0:
        return []
    end = readme.find("\n## ", start + 3)
    section = readme[start : end if end > 0 else None].split("\n", 1)[-1]
    text = normalise(section.replace("```python", " ").replace("```", " ").replace('"""', " "))
    pieces = re.split(r"(?<=[.!?])\s+(?=[A-Z`(*-])", text)
    return [p for p in (re.sub(r"^[-*]\s+", "", p).strip() for p in pieces) if p]


def uncovered_spec_sentences(exercise) -> list[str]:
    """Sentences of the specification with a requirement word ("must", "at most", "while", "in
    order", "without") that contain no requirement's sentence."""
    texts = [normalise(t) for t in exercise.requirements.values()]
    out = []
    for sentence in spec_sentences(exercise.statement.read_text(encoding="utf-8")):
        if KEYWORDS.search(sentence) and not any(t in sentence or sentence in t for t in texts):
            out.append(sentence)
    return out
