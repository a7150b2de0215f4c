"""Exports of an exercise's current grades from the store.

`gradebook` (our CSV), `canvas` (Canvas gradebook import CSV), `nbgrader` (an nbgrader
gradebook database, through `nbgrader.api`), `gradescope` (one results.json per student)
and `report` (an instructor's HTML report with inline SVG plots).
"""

from __future__ import annotations

from pathlib import Path

from grader.course import Course, Exercise
from grader.errors import GraderError


def export(fmt: str, course: Course, exercise: Exercise, store, out: Path) -> str:
    """Write `fmt` for `exercise` to `out`; returns what was written, for the user."""
    current = store.current(exercise.slug)
    if not current:
        raise GraderError(f"Nothing of {exercise.slug} is recorded in {store.url}: run "
                          f"`grader grade-all {exercise.slug} ...` first.")
    why = store.not_graded_reasons(exercise.slug)  # e.g. "needs a GPU": never shown as a number
    if fmt == "gradebook":
        from grader.export.csvs import gradebook
        return gradebook(exercise, current, out, why)
    if fmt == "canvas":
        from grader.export.csvs import canvas
        return canvas(exercise, current, out)
    if fmt == "gradescope":
        from grader.export.gradescope import gradescope
        return gradescope(current, out, why)
    if fmt == "nbgrader":
        from grader.export.nbgrader import nbgrader
        return nbgrader(exercise, current, out)
    if fmt == "report":
        from grader.export.report import report
        return report(course, exercise, current, store.history(exercise.slug), out, why)
    raise GraderError(f"unknown export format {fmt!r}")
