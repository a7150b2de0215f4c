"""Instructor pages: exercises with queue state, per-exercise dashboard, a student's attempts
with their extension and score override (both with a comment, both audited), regrade, exports.

The dashboard reads `grader.standing` (as the exports do) and the report's statistics
(`grader.export.report`); downloads run the same `grader.export.export` as `grader export`,
into a temporary folder.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from grader.errors import GraderError
from grader.export import export
from grader.export.report import failure_rates, histogram
from grader.judge import suspicion
from grader.portal import auth, pages, plots
from grader.portal.lti.passback import waiting as lti_waiting
from grader.portal.models import NOT_GRADED, QUEUED, RUNNING
from grader.portal.summaries import test_summaries
from grader.recorded import rescore_late
from grader.standing import standings

blueprint = Blueprint("instructor", __name__, url_prefix="/instructor")
FORMATS = {  # format -> (file name written by export, download name, MIME type)
    "gradebook": ("gradebook.csv", "{slug}-gradebook.csv", "text/csv"),
    "canvas": ("canvas.csv", "{slug}-canvas.csv", "text/csv"),
    "report": ("report.html", "{slug}-report.html", "text/html"),
    "nbgrader": ("gradebook.db", "{slug}-nbgrader.db", "application/vnd.sqlite3"),
    "gradescope": ("gradescope", "{slug}-gradescope.zip", "application/zip"),
}
MAX_COMMENT = 2000


def _exercise(slug: str):
    ex = g.portal.course.exercises.get(slug)
    if ex is None:
        abort(404)
    return ex


def _student(login: str) -> str:
    """A login some roster or store row knows (404 otherwise)."""
    from grader.portal.accounts import LOGIN

    if not LOGIN.fullmatch(login):
        abort(404)
    return login


@blueprint.get("")
@auth.instructor_only
def overview():
    state = g.portal.jobs.queue_state()
    rows = [
        {
            "ex": ex,
            "queued": state.get(ex.slug, {}).get(QUEUED, 0),
            "running": state.get(ex.slug, {}).get(RUNNING, 0),
            "failed": state.get(ex.slug, {}).get(NOT_GRADED, 0),
        }
        for ex in g.portal.course.exercises.values()
    ]
    return render_template(
        "instructor.html",
        rows=rows,
        queued=sum(r["queued"] for r in rows),
        running=sum(r["running"] for r in rows),
        failed=sum(r["failed"] for r in rows),
        workers=g.portal.grader.workers,
        lti_waiting=len(lti_waiting(g.portal.store)),
    )


@blueprint.get("/exercises/<slug>")
@auth.instructor_only
def dashboard(slug: str):
    ex = _exercise(slug)
    portal = g.portal
    rows = standings(portal.course, ex, portal.store, results=False)
    counted = [r.current for r in rows if r.current is not None and r.current.grading is not None]
    finals = [r.final for r in rows if r.final is not None]
    summaries = test_summaries(portal.store, counted)
    state = portal.jobs.queue_state().get(slug, {})
    return render_template(
        "dashboard.html",
        ex=ex,
        rows=rows,
        graded=len(counted),
        roster=len(rows),
        distribution=plots.distribution(histogram(finals, ex.points)),
        failures=plots.failures(failure_rates(summaries)),
        flagged=suspicion.flagged(summaries),
        formats=list(FORMATS),
        queued=state.get(QUEUED, 0),
        running=state.get(RUNNING, 0),
        failed=state.get(NOT_GRADED, 0),
    )


@blueprint.get("/exercises/<slug>/students/<login>")
@auth.instructor_only
def student(slug: str, login: str):
    ex = _exercise(slug)
    login = _student(login)
    store = g.portal.store
    context = pages.attempts_context(ex, login)
    counted = context["counted"]
    graded = [counted] if counted is not None and counted.grading is not None else []
    return render_template(
        "student.html",
        ex=ex,
        extension=store.extension(slug, login),
        override=store.overrides(slug).get(login),
        trail=store.audit_trail(slug, login),
        error=request.args.get("error"),
        flagged=suspicion.flagged(test_summaries(store, graded)),
        **context,
    )


@blueprint.get("/exercises/<slug>/students/<login>/attempts/<int:number>")
@auth.instructor_only
def attempt(slug: str, login: str, number: int):
    ex = _exercise(slug)
    return pages.attempt_page(
        ex,
        _student(login),
        number,
        url_for("instructor.api_attempt", slug=slug, login=login, number=number),
    )


@blueprint.get("/api/exercises/<slug>/students/<login>/attempts/<int:number>")
@auth.instructor_only
def api_attempt(slug: str, login: str, number: int):
    return jsonify(pages.attempt_status(_exercise(slug), _student(login), number))


def _comment() -> str:
    comment = request.form.get("comment", "").strip()
    if not comment:
        raise GraderError("Say why in the comment: the student sees it, and the audit keeps it.")
    return comment[:MAX_COMMENT]


def _back(slug: str, login: str, error: str | None = None):
    return redirect(
        url_for("instructor.student", slug=slug, login=login, error=error or None),
        303,
    )


@blueprint.post("/exercises/<slug>/students/<login>/extension")
@auth.instructor_only
def extension(slug: str, login: str):
    """A later due date for one student (or back to the course's), with a comment; the late
    penalty of the attempts already graded is applied again at once."""
    ex = _exercise(slug)
    login = _student(login)
    portal = g.portal
    try:
        due = None
        if request.form.get("action") != "remove":
            text = request.form.get("due", "").strip()
            try:
                local = dt.datetime.fromisoformat(text)
            except ValueError:
                raise GraderError(f"The new due date {text!r} is not a date and time.") from None
            due = local if local.tzinfo else local.replace(tzinfo=portal.course.zone)
        portal.store.set_extension(slug, login, due, _comment(), auth.user().login)
    except GraderError as exc:
        return _back(slug, login, str(exc))
    rescore_late(portal.course, ex, portal.store, login)
    return _back(slug, login)


@blueprint.post("/exercises/<slug>/students/<login>/override")
@auth.instructor_only
def override(slug: str, login: str):
    """The score that counts for one student whatever the attempts (or remove it), with a
    comment the student sees."""
    ex = _exercise(slug)
    login = _student(login)
    try:
        score = None
        if request.form.get("action") != "remove":
            try:
                score = float(request.form.get("score", ""))
            except ValueError:
                raise GraderError("The score must be a number.") from None
            if not 0 <= score <= ex.points:
                raise GraderError(f"The score must be between 0 and {ex.points:g}.")
        g.portal.store.set_override(slug, login, score, _comment(), auth.user().login)
    except GraderError as exc:
        return _back(slug, login, str(exc))
    return _back(slug, login)


@blueprint.post("/exercises/<slug>/regrade")
@auth.instructor_only
def regrade(slug: str):
    """Queue for grading again the attempts that can count under the exercise's rule
    (`Store.regrade_targets`), as one regrade request."""
    ex = _exercise(slug)
    subs = [
        (name, sub)
        for name, attempts in g.portal.store.regrade_targets(ex).items()
        for sub in attempts
    ]
    jobs = g.portal.jobs.create("regrade", slug, subs) if subs else []
    g.portal.grader.hand_over()
    g.portal.store.audit(
        "portal-regrade", slug, detail=f"{len(jobs)} job(s) by {auth.user().login}"
    )
    return redirect(url_for("instructor.dashboard", slug=slug, queued=len(jobs)), 303)


@blueprint.get("/exercises/<slug>/export/<fmt>")
@auth.instructor_only
def download(slug: str, fmt: str):
    ex = _exercise(slug)
    if fmt not in FORMATS:
        abort(404)
    name, download_name, mime = FORMATS[fmt]
    with tempfile.TemporaryDirectory(prefix="pgrader-export-") as tmp:
        out = Path(tmp) / name
        try:
            export(fmt, g.portal.course, ex, g.portal.store, out)
        except GraderError as exc:
            abort(409, str(exc))
        if out.is_dir():
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as z:
                for path in sorted(out.rglob("*")):
                    if path.is_file():
                        z.write(path, path.relative_to(out))
            data.seek(0)
        else:
            data = io.BytesIO(out.read_bytes())
    return send_file(
        data, mimetype=mime, as_attachment=True, download_name=download_name.format(slug=slug)
    )
