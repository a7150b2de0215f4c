"""The portal's Flask app: `create_app(portal)` wires the guards (`grader.portal.auth`) and
registers the blueprints: sign-in (`signin`), the student's pages (`student`), handing in and
results (`handin`), the instructor's pages (`instructor`), similarity (`similarity`) and LTI
(`lti`).

Every exercise slug in a URL is looked up in the course; a student's pages name only their own
attempts (by number, the login comes from the session), so another student's work cannot
even be named. Hidden tests and solutions are never served: the only files sent are the
student bundle (`grader.release`) and the exports (instructors).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden, HTTPException, RequestEntityTooLarge

from grader.course import Course, format_time
from grader.feedback import _num, code_spans
from grader.portal import accesslog, auth, handin, instructor, signin, similarity, student
from grader.portal.jobs import Grader, Jobs
from grader.portal.live import LiveCourse
from grader.portal.lti import blueprint as lti
from grader.portal.pages import upload_limit
from grader.portal.settings import PortalSettings
from grader.portal.uploads import size_text
from grader.states import MEANING, NEEDS_GPU_MEANING
from grader.store import Store

FORM_ROOM = 256 * 1024  # a form's other fields, beside the upload
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


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


def create_app(portal: Portal) -> Flask:
    app = Flask(__name__)
    app.portal = portal  # type: ignore[attr-defined]
    app.jinja_env.globals.update(
        when=lambda t: format_time(t, portal.course.timezone),
        size_text=size_text,
        received=lambda t: format_time(t, portal.course.timezone, seconds=True),
        MEANING=MEANING,
        NEEDS_GPU_MEANING=NEEDS_GPU_MEANING,
    )
    app.jinja_env.filters.update(code_spans=code_spans, num=_num)
    accesslog.install(app)

    @app.before_request
    def _portal():  # first: the guards installed below read g.portal
        g.portal = portal
        request.max_content_length = upload_limit() + FORM_ROOM

    limiter = auth.install(app, portal.store, portal.settings.session_hours)
    app.after_request(_headers)
    app.register_error_handler(HTTPException, _error)
    for blueprint in (
        signin.blueprint,
        student.blueprint,
        handin.blueprint,
        instructor.blueprint,
        similarity.blueprint,
        lti,
    ):
        app.register_blueprint(blueprint)
    app.view_functions["auth.login_post"] = auth.limit_failed_sign_ins(
        limiter, app.view_functions["auth.login_post"]
    )
    return app


def _headers(resp):
    if "Content-Security-Policy" not in resp.headers:  # else the view chose its own
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/static/"):
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _error(exc: HTTPException):
    if isinstance(exc, CSRFError):
        exc = Forbidden(auth.CSRF_REFUSED)
    if isinstance(exc, RequestEntityTooLarge):
        exc.description = (
            f"This upload is larger than the limit of {size_text(upload_limit())}. "
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
