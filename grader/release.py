"""`grader release`: the student bundle of an exercise, and nothing more.

The bundle holds the statement, the skeleton files and the public tests, plus
an `exercise.toml` stripped of everything about hidden tests, so that
`grader check` works in it. Hidden tests, solutions and mutants never enter it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grader.course import Exercise

JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def student_toml(exercise: Exercise) -> str:
    def q(text: str) -> str:  # a JSON string is a valid TOML basic string (quotes, \ escaped)
        return json.dumps(text, ensure_ascii=False)

    lines = [f"title = {q(exercise.title)}", f"topic = {q(exercise.topic)}",
             f"points = {exercise.points:g}",
             "files = [" + ", ".join(q(f) for f in exercise.files) + "]",
             f"module = {q(exercise.module)}"]
    runtime = exercise.runtime
    lines.append("\n[runtime]")
    if runtime.mpi_ranks:
        lines.append("mpi = { ranks = [" + ", ".join(map(str, runtime.mpi_ranks)) + "] }")
    lines += [f"gpu = {str(runtime.gpu).lower()}", f"celery = {str(runtime.celery).lower()}"]
    lines.append("\n[limits]")
    lines += [f"{k} = {v}" for k, v in vars(exercise.limits).items()]
    return "\n".join(lines) + "\n"


def release(exercise: Exercise, out: Path) -> Path:
    """Write the bundle to OUT/<slug>/ and return that folder."""
    target = out / exercise.slug
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(exercise.statement, target / "README.md")
    for item in exercise.skeleton.iterdir():
        if item.name.startswith(".") or item.name == "__pycache__":
            continue
        dest = target / item.name
        shutil.copytree(item, dest, ignore=JUNK) if item.is_dir() else shutil.copy2(item, dest)
    if exercise.public_tests.is_dir():
        shutil.copytree(exercise.public_tests, target / "tests" / "public", ignore=JUNK)
    (target / "exercise.toml").write_text(student_toml(exercise), encoding="utf-8")
    return target
