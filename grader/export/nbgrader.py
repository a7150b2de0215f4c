"""nbgrader's gradebook, written through `nbgrader.api.Gradebook` (the `nbgrader` extra).

The exercise becomes an assignment with one notebook named after it and one grade cell per
test (a refused submission scores 0 in each); each student's current grading becomes a submission whose cells' auto scores are the
test points, and whose late penalty is the points the late policy took. Exporting again
replaces each student's submission, so the gradebook always shows the current gradings.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from grader.errors import GraderError


def nbgrader(exercise, current, out: Path | str) -> str:
    try:
        from nbgrader.api import Gradebook, MissingEntry
    except ImportError:
        raise GraderError("nbgrader is not installed: pip install 'pgrader[nbgrader]'") from None
    if shutil.which("alembic") is None:  # nbgrader runs the `alembic` command of its environment
        os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    url = str(out) if "://" in str(out) else f"sqlite:///{Path(out).resolve()}"
    notebook = exercise.slug
    with Gradebook(url) as gb:
        gb.update_or_create_assignment(exercise.slug, duedate=exercise.due)
        try:
            gb.find_notebook(notebook, exercise.slug)
        except MissingEntry:
            gb.add_notebook(notebook, exercise.slug)
        cells = {
            t.function: t.max_points
            for c in current
            if c.grading is not None and c.grading.status == "graded"
            for t in c.result().tests
        }
        for name, max_points in cells.items():
            gb.update_or_create_grade_cell(
                name, notebook, exercise.slug, max_score=max_points, cell_type="code"
            )
        for c in current:
            if c.grading is None:
                continue
            result = c.result()
            gb.update_or_create_student(c.student)
            try:
                gb.remove_submission(exercise.slug, c.student)
            except MissingEntry:
                pass
            gb.add_submission(exercise.slug, c.student, timestamp=c.submission.received_at)
            points = {t.function: t.points for t in result.tests}  # a refused one has none
            for name in cells:
                grade = gb.find_grade(name, notebook, exercise.slug, c.student)
                grade.auto_score = points.get(name, 0.0)
            sub_nb = gb.find_submission_notebook(notebook, exercise.slug, c.student)
            sub_nb.late_submission_penalty = round(result.raw_score - result.score, 4) or None
            gb.db.commit()
    return url
