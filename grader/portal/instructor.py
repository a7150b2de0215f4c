"""Instructor pages: exercises with queue state, per-exercise dashboard, regrade, exports.

The dashboard's plots reuse the report's statistics (`grader.export.report`); downloads
run the same `grader.export.export` as `grader export`, into a temporary folder.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from flask import Blueprint, abort, g, redirect, render_template, send_file, url_for

from grader.errors import GraderError
from grader.export import export
from grader.export.report import failure_rates, histogram
from grader.judge import suspicion
from grader.portal import accounts, auth, plots
from grader.portal.models import QUEUED, RUNNING
from grader.portal.views import score_text

blueprint = Blueprint("instructor", __name__, url_prefix="/instructor")
FORMATS = {  # format -> (file name written by export, download name, MIME type)
    "gradebook": ("gradebook.csv", "{slug}-gradebook.csv", "text/csv"),
    "canvas": ("canvas.csv", "{slug}-canvas.csv", "text/csv"),
    "report": ("report.html", "{slug}-report.html", "text/html"),
    "nbgrader": ("gradebook.db", "{slug}-nbgrader.db", "application/vnd.sqlite3"),
    "gradescope": ("gradescope", "{slug}-gradescope.zip", "application/zip"),
}


def _exercise(slug: str):
    ex = g.portal.course.exercises.get(slug)
    if ex is None:
        abort(404)
    return ex


@blueprint.get("")
@auth.instructor_only
def overview():
    state = g.portal.jobs.queue_state()
    rows = [{"ex": ex, "queued": state.get(ex.slug, {}).get(QUEUED, 0),
             "running": state.get(ex.slug, {}).get(RUNNING, 0),
             "students": len(g.portal.store.current(ex.slug))}
            for ex in g.portal.course.exercises.values()]
    return render_template("instructor.html", rows=rows,
                           queued=sum(r["queued"] for r in rows),
                           running=sum(r["running"] for r in rows),
                           workers=g.portal.grader.workers)


@blueprint.get("/exercises/<slug>")
@auth.instructor_only
def dashboard(slug: str):
    ex = _exercise(slug)
    current = g.portal.store.current(slug)
    results = [c.result() for c in current if c.grading is not None]
    roster = {a.login: a for a in accounts.accounts(g.portal.store, "student")}
    seen = {c.student for c in current}
    students = [{"login": c.student, "name": roster[c.student].name if c.student in roster else "",
                 "score": score_text(c.grading) or "not graded",
                 "attempts": len(g.portal.jobs.of(c.student, slug))} for c in current]
    students += [{"login": login, "name": a.name, "score": "nothing handed in", "attempts": 0}
                 for login, a in roster.items() if login not in seen]
    state = g.portal.jobs.queue_state().get(slug, {})
    return render_template(
        "dashboard.html", ex=ex, students=sorted(students, key=lambda s: s["login"]),
        flagged=suspicion.flagged(results),
        graded=len(results), distribution=plots.distribution(
            histogram([r.score for r in results], ex.points)),
        failures=plots.failures(failure_rates(results)), formats=list(FORMATS),
        queued=state.get(QUEUED, 0), running=state.get(RUNNING, 0),
        message=g.get("message"))


@blueprint.get("/exercises/<slug>/students/<login>")
@auth.instructor_only
def student(slug: str, login: str):
    ex = _exercise(slug)
    history = [(job, g.portal.jobs.grading(job)) for job in g.portal.jobs.of(login, slug)]
    current = next((c for c in g.portal.store.current(slug) if c.student == login), None)
    result = current.result() if current is not None and current.grading is not None else None
    return render_template("student.html", ex=ex, login=login, history=history,
                           score_text=score_text, flagged=suspicion.flagged([result] if result else []))


@blueprint.post("/exercises/<slug>/regrade")
@auth.instructor_only
def regrade(slug: str):
    """Queue every student's latest submission for grading again, as one regrade request."""
    _exercise(slug)
    current = g.portal.store.current(slug)
    jobs = g.portal.jobs.create("regrade", slug, [(c.student, c.submission) for c in current]) \
        if current else []
    for job in jobs:
        g.portal.grader.hand_over(job.id)
    g.portal.store.audit("portal-regrade", slug, detail=f"{len(jobs)} job(s) by {g.account.login}")
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
    return send_file(data, mimetype=mime, as_attachment=True,
                     download_name=download_name.format(slug=slug))
