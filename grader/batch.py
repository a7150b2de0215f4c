"""Grading a whole class: several submissions at once, a progress bar, a gradebook.

`SUBMISSIONS_DIR` holds one entry per student: a folder, a `.zip`, a `.py` or a
`.ipynb` named after the student. An optional `received.csv` (`student,received` with
ISO 8601 times) gives the times used by the late policy. Each student's
`results.json` and `feedback.html` go to `OUT/<student>/`, and `OUT/gradebook.csv`
sums them up. A student already graded is skipped unless `regrade` is set; one
the platform failed to grade is retried on the next run and never scored 0.
"""

from __future__ import annotations

from pathlib import Path

from grader.course import Course, Exercise
from grader.entries import (  # noqa: F401 - the names code written before grader.entries imports
    GRADEBOOK_FIELDS,
    Entry,
    Progress,
    Row,
    discover,
    entries_in,
    grade_entries,
    received_times,
    write_gradebook,
)
from grader.results import SubmissionResult


def grade_all(
    course: Course,
    exercise: Exercise,
    submissions: Path,
    out: Path,
    *,
    backend: str,
    regrade: bool = False,
    jobs: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    sandbox_info: dict | None = None,
    store=None,
    slots=None,
) -> list[Row]:
    """Grade every submission in `submissions`; with a `store`, record each grading there.
    `slots` (a semaphore shared with batches graded at the same time) bounds the submissions
    graded at once across them (`grade_entries`)."""
    entries = entries_in(submissions, course.zone)
    if store is not None:
        from grader.recorded import grade_recorded  # lazy: the store's SQLAlchemy

        return grade_recorded(
            course,
            exercise,
            entries,
            out,
            store,
            kind="regrade" if regrade else "grade-all",
            backend=backend,
            jobs=jobs,
            seed=seed,
            progress=progress,
            sandbox_info=sandbox_info,
            slots=slots,
        ).rows
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Row] = {}
    todo = []
    for entry in entries:
        existing = out / entry.student / "results.json"
        if existing.exists() and not regrade:
            previous = SubmissionResult.read(existing)
            if previous.graded:
                rows[entry.student] = Row(entry.student, previous, "skipped")
                continue
        todo.append(entry)
    rows.update(
        grade_entries(
            course,
            exercise,
            todo,
            out,
            backend=backend,
            jobs=jobs,
            seed=seed,
            progress=progress,
            sandbox_info=sandbox_info,
            slots=slots,
        )
    )
    ordered = [rows[n] for n in sorted(rows)]
    write_gradebook(out / "gradebook.csv", ordered, exercise)
    return ordered
