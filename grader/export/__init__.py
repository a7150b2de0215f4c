"""Exports of an exercise's current grades from the store: what counts for each student under
the exercise's rule (latest or best attempt, or an instructor's override).

`gradebook` (our CSV, every roster student with names) and `canvas` (Canvas gradebook import
CSV, every roster student with SIS ids, 0 for missing work) come from `grader.standing`;
`nbgrader` (an nbgrader gradebook database, through `nbgrader.api`), `gradescope` (one
results.json per student) and `report` (an instructor's HTML report with inline SVG plots)
from the counted gradings.
"""

from __future__ import annotations

from pathlib import Path

from grader.course import Course, Exercise
from grader.errors import GraderError


def export(fmt: str, course: Course, exercise: Exercise, store, out: Path) -> str:
    """Write `fmt` for `exercise` to `out`; returns what was written, for the user."""
    from grader.standing import standings

    rows = standings(course, exercise, store)
    current = [r.current for r in rows if r.current is not None]
    if not rows:
        raise GraderError(
            f"Nothing of {exercise.slug} is recorded in {store.url} and no roster "
            f"is imported: run `grader grade-all {exercise.slug} ...` or "
            "`grader accounts import ROSTER.csv` first."
        )
    why = store.not_graded_reasons(exercise)  # e.g. "needs a GPU": never shown as a number
    if fmt == "gradebook":
        from grader.export.csvs import gradebook

        return gradebook(exercise, rows, out, why)
    if fmt == "canvas":
        from grader.export.csvs import canvas

        return canvas(exercise, rows, out)
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
