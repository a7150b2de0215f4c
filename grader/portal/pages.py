"""Pages shared by the student's and the instructor's views: a student's attempt list and one
attempt (its state, history and feedback), and the attempt's status for polling; the exercise
a URL names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import abort, g, render_template

from grader.course import Exercise
from grader.portal import auth
from grader.portal.attempts import attempt_views, counted_of, state_of
from grader.portal.views import anchors, feedback, source_files


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def exercise_or_404(slug: str) -> Exercise:
    """The course's exercise `slug`; 404 for an unknown one, or for a student before it opens."""
    ex = g.portal.course.exercises.get(slug)
    if ex is None or (not auth.is_instructor() and ex.opens and ex.opens > now()):
        abort(404)
    return ex


def upload_limit() -> int:
    """The largest upload accepted, in bytes (the course's `max_upload_kb`, read live)."""
    return g.portal.settings.max_upload_kb * 1024


def attempts_context(ex: Exercise, login: str) -> dict:
    """The attempt list and what counts, for a student's exercise page or the instructor's."""
    portal = g.portal
    views = attempt_views(portal.store, portal.jobs, ex, login, _distributed())
    counted = counted_of(portal.store, ex, login)
    return {"attempts": views, "counted": counted, "login": login}


def _distributed() -> bool:
    """Grading goes through a broker to workers (a GPU exercise waits for a GPU worker)."""
    return g.portal.grader.remote is not None


def _find(ex: Exercise, login: str, number: int):
    views = attempt_views(g.portal.store, g.portal.jobs, ex, login, _distributed())
    view = next((v for v in views if v.number == number), None)
    if view is None:
        abort(404)
    return view, views


def attempt_page(ex: Exercise, login: str, number: int, poll: str):
    portal = g.portal
    view, views = _find(ex, login, number)
    instructor = auth.is_instructor()
    fb, files = None, []
    if view.grading is not None:
        fb = feedback(portal.store.grading(view.grading.id), ex, instructor)
        files = source_files(Path(view.submission.path), ex, fb["tests"])
    counted = next((v for v in views if v.counted), None)
    return render_template(
        "attempt.html",
        ex=ex,
        v=view,
        fb=fb,
        files=files,
        anchors=anchors(files),
        counted=counted,
        login=login,
        poll=poll,
        instructor=instructor,
    )


def attempt_status(ex: Exercise, login: str, number: int) -> dict:
    """What the attempt page's script polls: its state and score (three small queries)."""
    found = g.portal.store.attempt(ex.slug, login, number)
    if found is None:
        abort(404)
    sub, grading = found
    state, regrading, _ = state_of(grading, g.portal.jobs.of_submissions([sub.id]).get(sub.id, []))
    return {
        "status": state,
        "score": grading.final if grading else None,
        "max": grading.max_score if grading else None,
        "regrading": regrading,
    }
