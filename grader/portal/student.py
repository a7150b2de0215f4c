"""A student's pages (Flask blueprint `student`): the exercise list with scores, one
exercise's statement, its bundle and the attempt list. Instructors see them too (and an
exercise before it opens)."""

from __future__ import annotations

from flask import Blueprint, g, render_template, send_file
from flask_login import login_required

from grader.portal import auth, pages
from grader.portal.attempts import counted_of
from grader.portal.pages import exercise_or_404, now, upload_limit
from grader.portal.views import statement_html
from grader.release import bundle_zip

blueprint = Blueprint("student", __name__)


@blueprint.get("/")
@login_required
def home():
    portal, login = g.portal, auth.user().login
    rows = []
    for ex in portal.course.exercises.values():
        if ex.opens and ex.opens > now() and not auth.is_instructor():
            continue
        cur = counted_of(portal.store, ex, login)
        ext = portal.store.extension(ex.slug, login)
        rows.append(
            {
                "ex": ex,
                "due": ext.due if ext else ex.due,
                "extended": bool(ext),
                "score": (
                    f"{cur.final:g} / {ex.points:g}" if cur and cur.final is not None else "-"
                ),
                "attempts": cur.attempts if cur else 0,
                "pending": cur.pending if cur else 0,
            }
        )
    return render_template("home.html", rows=rows)


@blueprint.get("/exercises/<slug>")
@login_required
def exercise(slug: str):
    ex = exercise_or_404(slug)
    login = auth.user().login
    ext = g.portal.store.extension(slug, login)
    due = ext.due if ext else ex.due
    return render_template(
        "exercise.html",
        ex=ex,
        statement=statement_html(ex),
        limit=upload_limit(),
        per_hour=g.portal.settings.submissions_per_hour,
        due=due,
        extension=ext,
        late=bool(due and now() > due),
        **pages.attempts_context(ex, login),
    )


@blueprint.get("/exercises/<slug>/bundle.zip")
@login_required
def bundle(slug: str):
    ex = exercise_or_404(slug)
    path = bundle_zip(ex, g.portal.bundles)
    return send_file(
        path, mimetype="application/zip", as_attachment=True, download_name=f"{slug}.zip"
    )
