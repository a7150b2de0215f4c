"""Gradebook CSV and Canvas's gradebook import CSV: one row per student of `grader.standing`."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.course import Exercise
from grader.standing import OVERRIDE, Standing
from grader.states import NOT_GRADED_YET, REFUSED

FIELDS = [
    "student",
    "name",
    "score",
    "max",
    "late_days",
    "penalty",
    "final",
    "status",
    "attempt",
    "attempts",
]
CANVAS_FIELDS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def status_text(row: Standing, why: str = "") -> str:
    """graded, refused: why, override: comment, not graded yet (with its reason when one was
    recorded, e.g. needs a GPU), missing, not handed in yet."""
    state, current = row.state, row.current
    if state == OVERRIDE and current is not None and current.override is not None:
        return f"{OVERRIDE}: {current.override.comment}"  # what OVERRIDE means
    if state == REFUSED and current is not None and (result := current.result()) is not None:
        return f"{REFUSED}: {result.error}"  # REFUSED: a grading, so a result
    if state == NOT_GRADED_YET and why:
        return f"{NOT_GRADED_YET}: {why}"
    return state


def gradebook(
    exercise: Exercise, rows: list[Standing], out: Path, why: dict[str, str] | None = None
) -> str:
    """`why`: student -> the reason their counted attempt is not graded yet."""
    why = why or {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for row in rows:
            c = row.current
            g = c.grading if c else None
            w.writerow(
                [
                    row.student,
                    row.name,
                    _num(g.score) if g else "",
                    f"{exercise.points:g}",
                    g.late_days if g else "",
                    _num(g.penalty) if g else "",
                    _num(row.final),
                    status_text(row, why.get(row.student, "")),
                    c.submission.attempt if c and g and c.submission else "",
                    c.attempts if c else 0,
                ]
            )
    return str(out)


def canvas(exercise: Exercise, rows: list[Standing], out: Path) -> str:
    """Canvas's import layout: fixed columns, the assignment column, a 'Points Possible' row.

    Every roster student has a row: the name as `Student`, the school's id as `SIS User ID`,
    the login as `SIS Login ID` (Canvas matches rows by ID, SIS User ID or SIS Login ID), and
    the section. A column without an assignment id makes Canvas create the assignment on
    import. Missing work (closed, nothing handed in) scores 0; a student with no score yet
    (not handed in before the due date, or not graded yet) gets an empty cell, which Canvas
    leaves unchanged.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    column = f"{exercise.title} ({exercise.slug})"
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CANVAS_FIELDS + [column])
        w.writerow(["Points Possible", "", "", "", ""] + [f"{exercise.points:g}"])
        for row in rows:
            w.writerow(
                [row.name or row.student, "", row.sis_id, row.student, row.section, _num(row.final)]
            )
    return str(out)
