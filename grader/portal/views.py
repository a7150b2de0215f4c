"""What the pages show, built from store rows: a student's exercise rows, one attempt's feedback.

Test results go through `grader.feedback`'s cleaning (ANSI and control characters removed,
lengths capped, hidden-test details withheld per `hidden_visibility`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import mistune
from markupsafe import Markup

from grader.course import Exercise
from grader.feedback import _test_view, clean_text
from grader.portal import plots
from grader.portal.models import GRADED, NOT_GRADED, QUEUED, RUNNING, Job
from grader.results import NEEDS_GPU, SubmissionResult
from grader.store.models import Grading


def when(t: dt.datetime | None) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if t else "-"


# Raw HTML in a statement is shown as text, and javascript:/data: links are disarmed.
_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def statement_html(exercise: Exercise) -> Markup:
    """The exercise's statement (its README, Markdown) as HTML, without a first heading that
    only repeats the title the page already shows."""
    if not exercise.statement.is_file():
        return Markup("")
    text = exercise.statement.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if first.startswith("# ") and first[2:].strip() == exercise.title.strip():
        text = rest
    return Markup(_markdown(text))


def score_text(grading: Grading | None) -> str:
    return f"{grading.final:g} / {grading.max_score:g}" if grading else ""


def api_status(job: Job, grading: Grading | None) -> dict:
    graded = job.status == GRADED and grading is not None
    return {"status": job.status, "score": grading.final if graded else None,
            "max": grading.max_score if graded else None}


def attempt(job: Job, grading: Grading | None, exercise: Exercise, instructor: bool,
            distributed: bool = False) -> dict:
    """One attempt's page: status, score and per-test views (with plots). A GPU exercise waits
    for a GPU worker (with a broker) or is "not graded: needs a GPU", never a number."""
    view = {"job": job, "status": job.status, "score": score_text(grading), "tests": [],
            "summary": "", "error": None, "late": None, "seed": None,
            "problem": clean_text(job.problem, 2000) if instructor else "",
            "needs_gpu": job.status == NOT_GRADED and job.problem == NEEDS_GPU,
            "waiting": ("waiting for a GPU worker" if distributed and exercise.runtime.gpu
                        and job.status in (QUEUED, RUNNING) else "")}
    if grading is None or job.status != GRADED:
        return view
    result = SubmissionResult.from_json(grading.results)
    shown = dataclasses.replace(exercise, hidden_visibility="visible") if instructor else exercise
    tests = []
    for t in result.tests:
        tv = _test_view(t, shown)
        if not tv["hidden"]:
            tv["speedup"] = (plots.speedup(pts) if (pts := plots.speedup_points(t.details))
                             else None)
        tests.append(tv)
    view.update(tests=tests, summary=clean_text(result.summary()), seed=result.seed,
                error=clean_text(result.error) if result.error else None,
                late=(f"Handed in {result.late_days} day(s) late: -{result.penalty:.0%}."
                      if result.late_days else None))
    return view
