"""Who is signed in, and the guards every request passes, on maintained libraries:

- Flask-Login: `current_user` from the session cookie `pgrader_session` (`login_required`).
  Sessions live in the store (`accounts.open_session`: a fresh random token at every sign-in,
  only its sha256 kept), so signing out or a password change ends them on the server, and
  every portal process sharing the store knows them.
- Flask-WTF: every POST carries a CSRF token (403 otherwise), except views marked
  `csrf.exempt` (an LMS's LTI launch, checked by its own means). The token is Flask-WTF's,
  signed with a secret kept in the store; its raw half is in Flask's own session cookie
  `pgrader_login`, renewed at each sign-in.
- Flask-Limiter: 10 failed sign-ins for one name within 15 minutes refuse further tries for
  that name, counted in the store (`grader.portal.ratelimit`) across processes and restarts.

Both cookies are HttpOnly and SameSite=Strict, and Secure when served over https. Pages for
instructors refuse students with 403; a student asking for anything of another student gets
404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import wraps
from typing import cast

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import IntegrityError

from grader.portal import accounts
from grader.portal.models import Account, PortalSecret
from grader.portal.ratelimit import StoreStorage
from grader.store import Store

COOKIE = "pgrader_session"  # the sign-in session's token
FORM_COOKIE = "pgrader_login"  # Flask's session: the CSRF token's raw half, nothing else
FAILS, FAIL_WINDOW = 10, 15 * 60  # failed sign-ins per name within this many seconds
CSRF_REFUSED = "This form expired or did not come from this site. Reload the page and try again."

login_manager = LoginManager()
login_manager.session_protection = None  # sessions are the store's, not in Flask's cookie
csrf = CSRFProtect()


class User(UserMixin):
    """The signed-in account (`current_user`)."""

    def __init__(self, account: Account):
        self.account = account
        self.login, self.name, self.role = account.login, account.name, account.role

    def get_id(self) -> str:
        return self.login

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"


def user() -> User:
    """The signed-in user (in views behind `login_required`)."""
    return cast(User, current_user._get_current_object())


@login_manager.request_loader
def _from_cookie(req) -> User | None:
    token = g.get("session_token") or req.cookies.get(COOKIE, "")
    account = accounts.session_of(g.portal.store, token)
    return User(account) if account is not None else None


@login_manager.unauthorized_handler
def _sign_in_first():
    if request.path.startswith("/api/"):
        abort(401, "Sign in first.")
    return redirect(url_for("auth.login"))


class _FormSession(SecureCookieSessionInterface):
    """Flask's session cookie, Secure exactly when the request came over https (directly or
    through `--trusted-proxy`)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def secret_key(store: Store, name: str = "flask") -> str:
    """The portal's secret `name`, made the first time and shared by every process."""
    with store._read() as s:
        row = s.get(PortalSecret, name)
        if row is not None:
            return row.value
    try:
        with store._tx() as s:
            s.add(PortalSecret(name=name, value=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process made it first: theirs is read below
    with store._read() as s:
        return s.get(PortalSecret, name).value  # type: ignore[union-attr]


def install(app: Flask, store: Store, session_hours: float) -> Limiter:
    """Sessions, CSRF protection and the sign-in limiter on `app` (its limiter returned)."""
    app.config.update(
        SECRET_KEY=secret_key(store),
        SESSION_COOKIE_NAME=FORM_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/",
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=session_hours),
        WTF_CSRF_TIME_LIMIT=int(session_hours * 3600),
        # Referrer-Policy is no-referrer, so a browser sends no Referer to check over https;
        # the token and SameSite=Strict cookies are the defence
        WTF_CSRF_SSL_STRICT=False,
    )
    app.session_interface = _FormSession()
    login_manager.init_app(app)
    csrf.init_app(app)

    @app.after_request
    def _lasting(resp):
        if session.modified and not session.permanent:
            session.permanent = True  # the CSRF cookie lasts as long as a sign-in session
        return resp

    return Limiter(
        get_remote_address,
        app=app,
        storage_uri=f"{StoreStorage.STORAGE_SCHEME[0]}://",  # the store, not memory
        # handed to StoreStorage as they are (Flask-Limiter's annotation knows only strings)
        storage_options={"store": store},  # type: ignore[dict-item]
        strategy="moving-window",
        key_prefix="portal",
    )


def limit_failed_sign_ins(limiter: Limiter, view):
    """`view` refused (429) for a name after FAILS failed sign-ins (401) within FAIL_WINDOW."""
    return limiter.limit(
        f"{FAILS} per {FAIL_WINDOW // 60} minutes",
        key_func=lambda: request.form.get("username", "").strip().lower()[:64] or "-",
        deduct_when=lambda response: response.status_code == 401,
    )(view)


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


def sign_in(response, account: Account) -> None:
    """Open a session for `account` on `response` (and for the rest of this request): a new
    session token and a new CSRF token, so nothing set before sign-in carries over."""
    portal = g.portal
    token = accounts.open_session(portal.store, account, portal.settings.session_hours)
    set_cookie(response, COOKIE, token, int(portal.settings.session_hours * 3600))
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)
    g.session_token = token
    g.pop("_login_user", None)  # Flask-Login loads the new user when next asked


def sign_out(response) -> None:
    """End this browser's session on the server and forget its cookies."""
    current_user._get_current_object()  # loaded while the session lives: the access log names it
    accounts.close_session(g.portal.store, request.cookies.get(COOKIE, ""))
    response.delete_cookie(COOKIE, path="/")
    session.clear()


def instructor_only(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not user().is_instructor:
            abort(403, "This page is for instructors.")
        return view(*args, **kwargs)

    return wrapper


def is_instructor() -> bool:
    return bool(current_user.is_authenticated and current_user.role == "instructor")
