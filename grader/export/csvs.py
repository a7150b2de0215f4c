"""Gradebook CSV (as grade-all writes it) and Canvas's gradebook import CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.batch import Row, write_gradebook
from grader.course import Exercise

CANVAS_FIELDS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _rows(current, why: dict[str, str]) -> list[Row]:
    return [Row(c.student, c.result(), "graded" if c.grading else "not-graded",
                "" if c.grading else why.get(c.student) or "no grading recorded")
            for c in current]


def gradebook(exercise: Exercise, current, out: Path, why: dict[str, str] | None = None) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    write_gradebook(out, _rows(current, why or {}), exercise)
    return str(out)


def canvas(exercise: Exercise, current, out: Path) -> str:
    """Canvas's import layout: fixed columns, the assignment column, a 'Points Possible' row.

    Our student names go to `SIS Login ID` (Canvas matches rows by ID, SIS User ID or SIS
    Login ID); a column without an assignment id makes Canvas create the assignment on import.
    Students not graded get an empty cell, which Canvas leaves unchanged.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    column = f"{exercise.title} ({exercise.slug})"
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CANVAS_FIELDS + [column])
        w.writerow(["Points Possible", "", "", "", ""] + [f"{exercise.points:g}"])
        for c in current:
            w.writerow([c.student, "", "", c.student, ""]
                       + [f"{c.grading.final:g}" if c.grading else ""])
    return str(out)
