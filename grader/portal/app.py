"""The portal's Flask app: sign-in, the student pages, uploads and the status API.

`create_app(portal)` builds it around a `Portal` (course, store, settings, grader). Every
exercise slug in a URL is looked up in the course; every submission id is checked against
the signed-in student (404 otherwise). Hidden tests and solutions are never served: the
only files sent are the student bundle (`grader.release`) and the exports (instructors).
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import (Flask, abort, g, jsonify, redirect, render_template, request, send_file,
                   url_for)
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from grader.course import Course, Exercise
from grader.portal import accounts, auth
from grader.portal.jobs import Grader, Jobs
from grader.portal.settings import PortalSettings
from grader.portal.uploads import UploadRefused, save_upload, size_text
from grader.portal.views import api_status, attempt, score_text, statement_html, when
from grader.recorded import raw_hash
from grader.release import release
from grader.results import late_days
from grader.store import Store


@dataclass
class Portal:
    course: Course
    store: Store
    settings: PortalSettings
    grader: Grader
    uploads: Path

    @property
    def jobs(self) -> Jobs:
        return self.grader.jobs


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def exercise_or_404(slug: str) -> Exercise:
    ex = g.portal.course.exercises.get(slug)
    if ex is None or (not auth.is_instructor() and ex.opens and ex.opens > _now()):
        abort(404)
    return ex


def job_or_404(job_id: int):
    """The attempt, if the signed-in user may see it (its student, or an instructor)."""
    job = g.portal.jobs.get(job_id)
    if job is None or (not auth.is_instructor() and job.student != g.account.login):
        abort(404)
    return job


def create_app(portal: Portal) -> Flask:
    app = Flask(__name__)
    app.portal = portal
    limit = portal.settings.max_upload_kb * 1024
    app.config["MAX_CONTENT_LENGTH"] = limit + 256 * 1024  # room for the form's other fields
    app.jinja_env.globals.update(when=when, size_text=size_text)

    @app.before_request
    def _before():
        g.portal = portal
        auth.load_session()
        auth.check_csrf()

    @app.after_request
    def _headers(resp):
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith("/static/"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(HTTPException)
    def _error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            exc.description = (f"This upload is larger than the limit of {size_text(limit)}. "
                               "Hand in only your source files.")
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description or exc.name), exc.code
        return render_template("error.html", code=exc.code, title=exc.name,
                               message=exc.description if exc.code != 404 else
                               "There is nothing here."), exc.code

    # ------------------------------------------------------------ sign-in

    @app.get("/login")
    def login():
        if g.account is not None:
            return redirect(url_for("home"))
        return _login_page(None, 200)

    def _login_page(error: str | None, code: int):
        token = secrets.token_urlsafe(32)
        resp = app.make_response((render_template("login.html", error=error, login_csrf=token,
                                                  username=request.form.get("username", "")),
                                  code))
        auth.set_cookie(resp, auth.LOGIN_COOKIE, token, 3600)
        return resp

    throttle = auth.Throttle()

    @app.post("/login")
    def login_post():
        username = request.form.get("username", "").strip()
        if throttle.blocked(username):
            return _login_page("Too many failed sign-ins for this name: wait 15 minutes.", 429)
        account = accounts.authenticate(portal.store, username, request.form.get("password", ""))
        if account is None:
            throttle.failed(username)
            return _login_page("Wrong name or password.", 401)
        token, _ = accounts.open_session(portal.store, account, portal.settings.session_hours)
        resp = redirect(url_for("instructor.overview" if account.role == "instructor"
                                else "home"))
        auth.set_cookie(resp, auth.COOKIE, token, int(portal.settings.session_hours * 3600))
        resp.delete_cookie(auth.LOGIN_COOKIE, path="/")
        return resp

    @app.post("/logout")
    def logout():
        accounts.close_session(portal.store, request.cookies.get(auth.COOKIE, ""))
        resp = redirect(url_for("login"))
        resp.delete_cookie(auth.COOKIE, path="/")
        return resp

    # ------------------------------------------------------------ student pages

    @app.get("/")
    @auth.signed_in
    def home():
        rows = []
        for ex in portal.course.exercises.values():
            if ex.opens and ex.opens > _now() and not auth.is_instructor():
                continue
            current = portal.store.current(ex.slug, [g.account.login])
            grading = current[0].grading if current else None
            rows.append({"ex": ex, "score": score_text(grading) or "-",
                         "attempts": len(portal.jobs.of(g.account.login, ex.slug))})
        return render_template("home.html", rows=rows)

    @app.get("/exercises/<slug>")
    @auth.signed_in
    def exercise(slug: str):
        ex = exercise_or_404(slug)
        history = [(job, portal.jobs.grading(job)) for job in portal.jobs.of(g.account.login, slug)]
        statement = statement_html(ex)
        return render_template("exercise.html", ex=ex, statement=statement, history=history,
                               score_text=score_text, limit=limit,
                               per_hour=portal.settings.submissions_per_hour,
                               late=bool(ex.due and _now() > ex.due))

    @app.get("/exercises/<slug>/bundle.zip")
    @auth.signed_in
    def bundle(slug: str):
        ex = exercise_or_404(slug)
        with tempfile.TemporaryDirectory(prefix="pgrader-bundle-") as tmp:
            folder = release(ex, Path(tmp))
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and not path.is_symlink():
                        z.write(path, Path(slug) / path.relative_to(folder))
        buf.seek(0)
        return send_file(buf, mimetype="application/zip", as_attachment=True,
                         download_name=f"{slug}.zip")

    @app.post("/exercises/<slug>/submit")
    @auth.signed_in
    def submit(slug: str):
        ex = exercise_or_404(slug)
        login = g.account.login
        try:
            _check_rate(login)
            upload = request.files.get("submission")
            path = save_upload(portal.uploads, slug, login, upload.filename if upload else "",
                               upload.stream if upload else io.BytesIO(), limit)
        except UploadRefused as exc:
            return render_template("error.html", code=exc.code, title="Not accepted",
                                   message=str(exc), back=url_for("exercise", slug=slug)), exc.code
        received = _now()
        sub = portal.store.record_submission(login, slug, raw_hash(path), received,
                                             late_days(received, ex.due), str(path))
        job = portal.jobs.create("upload", slug, [(login, sub)])[0]
        portal.grader.hand_over(job.id)
        return redirect(url_for("submission", job_id=job.id), 303)

    def _check_rate(login: str) -> None:
        if auth.is_instructor():
            return
        per_hour = portal.settings.submissions_per_hour
        recent = portal.jobs.uploads_since(login, _now() - dt.timedelta(hours=1))
        if len(recent) >= per_hour:
            again = recent[-per_hour] + dt.timedelta(hours=1)
            raise UploadRefused(f"You can hand in {per_hour} times per hour; try again after "
                                f"{when(again)[11:]}.", 429)

    @app.get("/submissions/<int:job_id>")
    @auth.signed_in
    def submission(job_id: int):
        job = job_or_404(job_id)
        ex = portal.course.exercises.get(job.exercise)
        if ex is None:
            abort(404)
        view = attempt(job, portal.jobs.grading(job), ex, auth.is_instructor(),
                       distributed=portal.grader.remote is not None)
        return render_template("submission.html", ex=ex, v=view,
                               received=portal.jobs.submission(job).received_at)

    @app.get("/api/submissions/<int:job_id>")
    @auth.signed_in
    def api_submission(job_id: int):
        job = job_or_404(job_id)
        return jsonify(api_status(job, portal.jobs.grading(job)))

    from grader.portal.instructor import blueprint

    app.register_blueprint(blueprint)
    return app

