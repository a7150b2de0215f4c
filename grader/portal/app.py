"""The portal's Flask app: sign-in, the student pages, uploads, attempts and the status API.

`create_app(portal)` builds it around a `Portal` (the live course, store, grader). Every
exercise slug in a URL is looked up in the course; a student's pages name only their own
attempts (by number, the login comes from the session), so another student's work cannot
even be named. Hidden tests and solutions are never served: the only files sent are the
student bundle (`grader.release`) and the exports (instructors).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, abort, g, jsonify, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from grader.course import Course, Exercise, format_time
from grader.feedback import _num, code_spans
from grader.portal import accesslog, accounts, auth, pages
from grader.portal.attempts import counted_of
from grader.portal.jobs import Grader, Jobs
from grader.portal.live import LiveCourse
from grader.portal.settings import PortalSettings
from grader.portal.uploads import UploadRefused, save_upload, size_text
from grader.portal.views import statement_html
from grader.recorded import raw_hash
from grader.release import bundle_zip
from grader.results import late_days
from grader.states import MEANING, NEEDS_GPU_MEANING
from grader.store import Store

FORM_ROOM = 256 * 1024  # a form's other fields, beside the upload


@dataclass
class Portal:
    live: LiveCourse
    store: Store
    grader: Grader
    uploads: Path
    bundles: Path  # released bundles, built once per exercise and grader version

    @property
    def course(self) -> Course:
        return self.live.course

    @property
    def settings(self) -> PortalSettings:
        return self.live.settings

    @property
    def jobs(self) -> Jobs:
        return self.grader.jobs


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def exercise_or_404(slug: str) -> Exercise:
    ex = g.portal.course.exercises.get(slug)
    if ex is None or (not auth.is_instructor() and ex.opens and ex.opens > _now()):
        abort(404)
    return ex


def create_app(portal: Portal) -> Flask:
    app = Flask(__name__)
    app.portal = portal
    app.jinja_env.globals.update(
        when=lambda t: format_time(t, portal.course.timezone),
        size_text=size_text,
        received=lambda t: format_time(t, portal.course.timezone, seconds=True),
        MEANING=MEANING,
        NEEDS_GPU_MEANING=NEEDS_GPU_MEANING,
    )
    app.jinja_env.filters.update(code_spans=code_spans, num=_num)
    accesslog.install(app)

    def limit() -> int:
        return portal.settings.max_upload_kb * 1024

    @app.before_request
    def _before():
        g.portal = portal
        request.max_content_length = limit() + FORM_ROOM
        auth.load_session()
        auth.check_csrf()

    @app.after_request
    def _headers(resp):
        if "Content-Security-Policy" not in resp.headers:  # else the view chose its own
            resp.headers["Content-Security-Policy"] = (
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            )
            resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith("/static/"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(HTTPException)
    def _error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            exc.description = (
                f"This upload is larger than the limit of {size_text(limit())}. "
                "Hand in only your source files."
            )
        if request.path.startswith("/api/") or "/api/" in request.path:
            return jsonify(error=exc.description or exc.name), exc.code
        return render_template(
            "error.html",
            code=exc.code,
            title=exc.name,
            message=exc.description if exc.code != 404 else "There is nothing here.",
        ), exc.code

    # ------------------------------------------------------------ sign-in and account

    @app.get("/login")
    def login():
        if g.account is not None:
            return redirect(url_for("home"))
        return _login_page(None, 200)

    def _login_page(error: str | None, code: int):
        import secrets

        token = secrets.token_urlsafe(32)
        resp = app.make_response(
            (
                render_template(
                    "login.html",
                    error=error,
                    login_csrf=token,
                    username=request.form.get("username", ""),
                ),
                code,
            )
        )
        auth.set_cookie(resp, auth.LOGIN_COOKIE, token, 3600)
        return resp

    @app.post("/login")
    def login_post():
        username = request.form.get("username", "").strip()
        if auth.throttled(username):
            return _login_page("Too many failed sign-ins for this name: wait 15 minutes.", 429)
        account = accounts.authenticate(portal.store, username, request.form.get("password", ""))
        if account is None:
            return _login_page("Wrong name or password.", 401)
        token, _ = accounts.open_session(portal.store, account, portal.settings.session_hours)
        resp = redirect(url_for("instructor.overview" if account.role == "instructor" else "home"))
        auth.set_cookie(resp, auth.COOKIE, token, int(portal.settings.session_hours * 3600))
        resp.delete_cookie(auth.LOGIN_COOKIE, path="/")
        return resp

    @app.post("/logout")
    def logout():
        accounts.close_session(portal.store, request.cookies.get(auth.COOKIE, ""))
        resp = redirect(url_for("login"))
        resp.delete_cookie(auth.COOKIE, path="/")
        return resp

    @app.get("/account/password")
    @auth.signed_in
    def password():
        return render_template("password.html", error=None, done=request.args.get("done"))

    @app.post("/account/password")
    @auth.signed_in
    def password_post():
        form = request.form
        try:
            accounts.change_password(
                portal.store,
                g.account,
                form.get("current", ""),
                form.get("new", ""),
                form.get("repeat", ""),
                request.cookies.get(auth.COOKIE, ""),
            )
        except accounts.AccountError as exc:
            return render_template("password.html", error=str(exc), done=None), 400
        return redirect(url_for("password", done=1), 303)

    # ------------------------------------------------------------ student pages

    @app.get("/")
    @auth.signed_in
    def home():
        rows = []
        for ex in portal.course.exercises.values():
            if ex.opens and ex.opens > _now() and not auth.is_instructor():
                continue
            cur = counted_of(portal.store, ex, g.account.login)
            ext = portal.store.extension(ex.slug, g.account.login)
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

    @app.get("/exercises/<slug>")
    @auth.signed_in
    def exercise(slug: str):
        ex = exercise_or_404(slug)
        login = g.account.login
        ext = portal.store.extension(slug, login)
        due = ext.due if ext else ex.due
        return render_template(
            "exercise.html",
            ex=ex,
            statement=statement_html(ex),
            limit=limit(),
            per_hour=portal.settings.submissions_per_hour,
            due=due,
            extension=ext,
            late=bool(due and _now() > due),
            **pages.attempts_context(ex, login),
        )

    @app.get("/exercises/<slug>/bundle.zip")
    @auth.signed_in
    def bundle(slug: str):
        ex = exercise_or_404(slug)
        path = bundle_zip(ex, portal.bundles)
        return send_file(
            path, mimetype="application/zip", as_attachment=True, download_name=f"{slug}.zip"
        )

    @app.post("/exercises/<slug>/submit")
    @auth.signed_in
    def submit(slug: str):
        ex = exercise_or_404(slug)
        login = g.account.login
        try:
            _check_rate(login, slug)
            upload = request.files.get("submission")
            path = save_upload(
                portal.uploads,
                slug,
                login,
                upload.filename if upload else "",
                upload.stream if upload else io.BytesIO(),
                limit(),
            )
        except UploadRefused as exc:
            return render_template(
                "error.html",
                code=exc.code,
                title="Not accepted",
                message=str(exc),
                back=url_for("exercise", slug=slug),
            ), exc.code
        received = _now()
        ext = portal.store.extension(slug, login)
        sub = portal.store.record_submission(
            login,
            slug,
            raw_hash(path),
            received,
            late_days(received, ext.due if ext else ex.due),
            str(path),
        )
        job = portal.jobs.create("upload", slug, [(login, sub)])[0]
        portal.grader.hand_over(job.id)
        return redirect(url_for("attempt", slug=slug, number=sub.attempt), 303)

    def _check_rate(login: str, slug: str) -> None:
        if auth.is_instructor():
            return
        per_hour = portal.settings.submissions_per_hour
        recent = portal.jobs.uploads_since(login, slug, _now() - dt.timedelta(hours=1))
        if len(recent) >= per_hour:
            again = recent[-per_hour] + dt.timedelta(hours=1)
            raise UploadRefused(
                f"You can hand in {per_hour} times per hour for this exercise; "
                f"try again after {format_time(again, portal.course.timezone)}.",
                429,
            )

    @app.get("/exercises/<slug>/attempts/<int:number>")
    @auth.signed_in
    def attempt(slug: str, number: int):
        return pages.attempt_page(
            exercise_or_404(slug),
            g.account.login,
            number,
            url_for("api_attempt", slug=slug, number=number),
        )

    @app.get("/submissions/<int:job_id>")
    @auth.signed_in
    def old_link(job_id: int):
        """Links of portals before attempts were numbered per student: to the attempt's page."""
        job = portal.jobs.get(job_id)
        if job is None or (not auth.is_instructor() and job.student != g.account.login):
            abort(404)
        sub = portal.jobs.submission(job)
        if auth.is_instructor():
            return redirect(
                url_for(
                    "instructor.attempt", slug=job.exercise, login=job.student, number=sub.attempt
                ),
                301,
            )
        return redirect(url_for("attempt", slug=job.exercise, number=sub.attempt), 301)

    @app.get("/api/exercises/<slug>/attempts/<int:number>")
    @auth.signed_in
    def api_attempt(slug: str, number: int):
        return jsonify(pages.attempt_status(exercise_or_404(slug), g.account.login, number))

    from grader.portal.instructor import blueprint
    from grader.portal.lti import blueprint as lti
    from grader.portal.similarity import blueprint as similarity

    app.register_blueprint(blueprint)
    app.register_blueprint(similarity)
    app.register_blueprint(lti)
    return app
