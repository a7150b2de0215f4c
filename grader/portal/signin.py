"""Sign-in, sign-out and a student's own password (Flask blueprint `auth`).

The guards themselves (sessions, CSRF, the failed sign-in limit) are `grader.portal.auth`'s;
`create_app` puts the limit on `login_post`.
"""

from __future__ import annotations

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_required

from grader.portal import accounts, auth

blueprint = Blueprint("auth", __name__)


def _login_page(error: str | None, code: int):
    page = render_template("login.html", error=error, username=request.form.get("username", ""))
    return make_response(page, code)


@blueprint.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("student.home"))
    return _login_page(None, 200)


@blueprint.post("/login")
def login_post():
    username = request.form.get("username", "").strip()
    account = accounts.authenticate(g.portal.store, username, request.form.get("password", ""))
    if account is None:
        return _login_page("Wrong name or password.", 401)
    resp = redirect(
        url_for("instructor.overview" if account.role == "instructor" else "student.home")
    )
    auth.sign_in(resp, account)
    return resp


@blueprint.errorhandler(RateLimitExceeded)
def _throttled(_exc: RateLimitExceeded):
    minutes = auth.FAIL_WINDOW // 60
    return _login_page(f"Too many failed sign-ins for this name: wait {minutes} minutes.", 429)


@blueprint.post("/logout")
def logout():
    resp = redirect(url_for("auth.login"))
    auth.sign_out(resp)
    return resp


@blueprint.get("/account/password")
@login_required
def password():
    return render_template("password.html", error=None, done=request.args.get("done"))


@blueprint.post("/account/password")
@login_required
def password_post():
    form = request.form
    try:
        accounts.change_password(
            g.portal.store,
            auth.user().account,
            form.get("current", ""),
            form.get("new", ""),
            form.get("repeat", ""),
            request.cookies.get(auth.COOKIE, ""),
        )
    except accounts.AccountError as exc:
        return render_template("password.html", error=str(exc), done=None), 400
    return redirect(url_for("auth.password", done=1), 303)
