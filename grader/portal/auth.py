"""Sign-in for the web: session cookie, CSRF tokens, who may see what, failed-login throttle.

The cookie is HttpOnly and SameSite=Strict (and Secure when served over https). Every POST
carries a CSRF token: the session's own, or before sign-in a token bound to a short-lived
cookie (double submit). Pages for instructors refuse students with 403; a student asking
for anything of another student gets 404, as if it did not exist. Failed sign-ins are
counted in the store's audit table, so several portal processes throttle together.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import wraps

from flask import abort, current_app, g, redirect, request, url_for

from grader.portal import accounts

COOKIE = "pgrader_session"
LOGIN_COOKIE = "pgrader_login"
FAILS, FAIL_WINDOW = 10, 15 * 60  # failed sign-ins per login within this many seconds


def load_session() -> None:
    """Set g.account and g.csrf from the session cookie (None when signed out)."""
    found = accounts.session_of(current_app.portal.store, request.cookies.get(COOKIE, ""))
    g.account, g.csrf = found if found else (None, None)


def csrf_exempt(view):
    """A POST another site makes by design (an LMS's LTI launch): checked by its own means."""
    view.csrf_exempt = True
    return view


def check_csrf() -> None:
    """403 for a POST without the right token (unless its view is `csrf_exempt`)."""
    if request.method != "POST" or getattr(
        current_app.view_functions.get(request.endpoint), "csrf_exempt", False
    ):
        return
    sent = request.form.get("csrf_token", "")
    expected = g.csrf if g.account is not None else request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        abort(
            403, "This form expired or did not come from this site. Reload the page and try again."
        )


def set_cookie(response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
        path="/",
    )


def signed_in(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.account is None:
            if request.path.startswith("/api/"):
                abort(401, "Sign in first.")
            return redirect(url_for("login"))
        return view(*args, **kwargs)

    return wrapper


def instructor_only(view):
    @wraps(view)
    @signed_in
    def wrapper(*args, **kwargs):
        if g.account.role != "instructor":
            abort(403, "This page is for instructors.")
        return view(*args, **kwargs)

    return wrapper


def is_instructor() -> bool:
    return g.account is not None and g.account.role == "instructor"


def throttled(login: str) -> bool:
    """FAILS failed sign-ins for `login` in the last FAIL_WINDOW seconds (in any process)?"""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=FAIL_WINDOW)
    return accounts.failed_sign_ins(current_app.portal.store, login, since) >= FAILS
