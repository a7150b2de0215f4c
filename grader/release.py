"""`grader release`: the student bundle of an exercise, and nothing more.

The bundle holds the statement, the skeleton files and the public tests, plus
an `exercise.toml` stripped of everything about hidden tests, so that
`grader check` works in it. Hidden tests, solutions and mutants never enter it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.course import Exercise

JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def student_toml(exercise: Exercise) -> str:
    lines = [f"title = {exercise.title!r}".replace("'", '"'), f'topic = "{exercise.topic}"',
             f"points = {exercise.points:g}",
             "files = [" + ", ".join(f'"{f}"' for f in exercise.files) + "]",
             f'module = "{exercise.module}"']
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
    (target / "exercise.toml").write_text(student_toml(exercise))
    return target
