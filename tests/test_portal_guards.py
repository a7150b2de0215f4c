"""The portal's guards on their libraries (Flask-WTF, Flask-Limiter, Flask-Login, werkzeug's
scrypt): what each one must keep doing, pinned from the outside.

- every POST route of the app, present and future (read from its URL map), refuses a missing
  or forged CSRF token with 403; only the LTI routes an LMS posts to are exempt;
- 10 failed sign-ins for one name within 15 minutes refuse that name (429, also with the right
  password), counted in the store: across two `grader serve` processes and a restart, whatever
  the name's case, and other names unaffected; the window slides (its storage, directly);
- a sign-in hands out a fresh session token and a fresh CSRF token (nothing planted before
  sign-in carries over); both cookies HttpOnly and SameSite=Strict;
- a password hash of the portal's own scrypt format from before still signs in and is
  rehashed with werkzeug's at that sign-in.
"""

from __future__ import annotations

import hashlib
import os
import re
import time

import pytest
import requests

from grader.course import load_course
from grader.store import open_store
from test_portal import Server, make_course, token

pytestmark = pytest.mark.slow
EXEMPT = {"lti.login", "lti.launch", "lti.deep_link"}  # an LMS posts these (signed id tokens)


@pytest.fixture
def app(tmp_path):
    """The portal's Flask app in this process, on a course with accounts."""
    from grader.portal.app import Portal, create_app
    from grader.portal.jobs import Grader
    from grader.portal.live import LiveCourse

    make_course(tmp_path)
    course = load_course(tmp_path)
    with open_store(course) as store:
        live = LiveCourse(course)
        yield create_app(
            Portal(
                live, store, Grader(live, store, "local", {}, 0), tmp_path / "up", tmp_path / "b"
            )
        )


def _signed_in(app, login: str, password: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    r = client.post(
        "/login", data={"username": login, "password": password, "csrf_token": token(page)}
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return client


def test_every_post_route_refuses_a_missing_or_forged_csrf_token(app):
    prof = _signed_in(app, "prof", "prof-pass-1")
    rules = [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())]
    posts = {rule.endpoint for rule in rules}
    assert {"auth.login_post", "auth.logout", "handin.submit", "instructor.regrade"} <= posts
    checked = 0
    for rule in rules:
        endpoint = rule.endpoint
        url = rule.build({arg: _sample(arg) for arg in rule.arguments})[1]
        for data in ({}, {"csrf_token": "forged"}):
            r = prof.post(url, data=data)
            if endpoint in EXEMPT:
                assert r.status_code != 403 or "did not come from this site" not in r.text
                continue
            assert r.status_code == 403, (endpoint, data, r.status_code)
            assert "did not come from this site" in r.get_data(as_text=True), endpoint
            checked += 1
    assert checked == 2 * len(posts - EXEMPT) and EXEMPT <= posts  # no stale exemption
    assert prof.get("/instructor").status_code == 200  # still signed in, nothing done
    assert app.portal.jobs.queue_state() == {}  # no upload, no regrade went through


def _sample(arg: str):
    return {"slug": "locked_counter", "login": "alice", "number": 1, "pair_id": 1}.get(arg, 1)


def test_sign_in_rotates_the_session_and_the_csrf_token(app):
    client = app.test_client()
    client.set_cookie("pgrader_session", "planted-by-an-attacker")
    before = token(client.get("/login").get_data(as_text=True))
    r = client.post(
        "/login", data={"username": "alice", "password": "alice-pass-1", "csrf_token": before}
    )
    assert r.status_code == 302
    cookies = r.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("pgrader_session="))
    assert "planted-by-an-attacker" not in session
    for name in ("pgrader_session=", "pgrader_login="):
        [cookie] = [c for c in cookies if c.startswith(name)]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    # the token of the page before sign-in is dead; the signed-in page's own one works
    assert client.post("/logout", data={"csrf_token": before}).status_code == 403
    after = token(client.get("/").get_data(as_text=True))
    assert after != before
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302
    assert client.get("/").status_code == 302  # signed out on the server


def test_failed_sign_ins_are_limited_per_name_across_processes_and_restarts(tmp_path):
    passwords = make_course(tmp_path)
    a, b = Server(tmp_path, 0), Server(tmp_path, 0)  # two processes, one store

    def attempt(server: Server, login: str, password: str) -> requests.Response:
        s = requests.Session()
        page = s.get(server.url + "/login", timeout=60)
        return s.post(
            server.url + "/login",
            data={"username": login, "password": password, "csrf_token": token(page.text)},
            timeout=60,
            allow_redirects=False,
        )

    try:
        assert attempt(a, "alice", passwords["alice"]).status_code == 302  # success: not counted
        for i in range(10):
            r = attempt(a if i % 2 else b, "Alice" if i % 3 else "alice", "wrong-password")
            assert r.status_code == 401, (i, r.status_code)
        for server in (a, b):
            r = attempt(server, "alice", passwords["alice"])
            assert r.status_code == 429 and "Too many failed sign-ins" in r.text, r.status_code
            assert 'name="csrf_token"' in r.text and 'id="logout"' not in r.text
        assert attempt(b, "bob", passwords["bob"]).status_code == 302  # other names go on
        a.stop()
        a = Server(tmp_path, 0)  # a restart forgets nothing
        assert attempt(a, "ALICE", passwords["alice"]).status_code == 429
    finally:
        a.stop()
        b.stop()
    with open_store(load_course(tmp_path)) as store:
        failed = [x for x in store.audit_trail("", "alice") if x.action == "sign-in-failed"]
    assert len(failed) == 10  # refused tries are not failures: only the 10 wrong passwords


def test_the_limit_window_slides(app):
    """The store-backed storage under Flask-Limiter's moving window: hits older than the
    window stop counting, one by one."""
    from limits import RateLimitItemPerSecond
    from limits.strategies import MovingWindowRateLimiter

    from grader.portal.ratelimit import StoreStorage

    storage = StoreStorage("pgrader://", store=app.portal.store)
    limiter = MovingWindowRateLimiter(storage)
    two_per_2s = RateLimitItemPerSecond(2, 2)
    assert limiter.hit(two_per_2s, "k")
    time.sleep(1)
    assert limiter.hit(two_per_2s, "k") and not limiter.hit(two_per_2s, "k")
    assert limiter.hit(two_per_2s, "other")  # per key
    deadline = time.monotonic() + 10
    while not limiter.test(two_per_2s, "k"):  # the first hit leaves the window
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert limiter.hit(two_per_2s, "k") and not limiter.hit(two_per_2s, "k")
    assert storage.check() and storage.reset() and storage.get_moving_window("k", 2, 2)[1] == 0


def test_an_old_scrypt_hash_signs_in_and_is_rehashed(app):
    from sqlalchemy import update

    from grader.portal import accounts
    from grader.portal.models import Account

    store = app.portal.store
    salt = os.urandom(16)  # the format pgrader wrote before werkzeug's
    digest = hashlib.scrypt(b"old-pass-123", salt=salt, n=2**14, r=8, p=1, dklen=32)
    old = f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"
    with store._tx() as s:
        s.execute(update(Account).where(Account.login == "carol").values(password_hash=old))
    assert accounts.authenticate(store, "carol", "carol-pass-1") is None
    stored = {a.login: a.password_hash for a in accounts.accounts(store)}
    assert stored["carol"] == old  # a wrong password changes nothing
    _signed_in(app, "carol", "old-pass-123")
    stored = {a.login: a.password_hash for a in accounts.accounts(store)}
    assert re.fullmatch(r"scrypt:32768:8:1\$[^$]+\$[0-9a-f]{128}", stored["carol"])
    assert accounts.authenticate(store, "carol", "old-pass-123") is not None
    actions = [a.action for a in store.audit_trail("", "carol")]
    assert "password-rehashed" in actions


def test_a_store_from_before_keeps_its_sessions_and_passwords(tmp_path):
    """A store at 0005 (sessions with their own CSRF column, hashes of the old format)
    upgrades: its browsers stay signed in, its passwords still work."""
    from alembic import command
    from alembic.config import Config

    from grader.portal import accounts
    from grader.store import Store
    from grader.store.engine import MIGRATIONS, make_engine

    url = f"sqlite:///{tmp_path / 'grader.db'}"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    salt = os.urandom(16)
    digest = hashlib.scrypt(b"ann-pass-12", salt=salt, n=2**14, r=8, p=1, dklen=32).hex()
    token = "a-session-token-from-before"
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005_lti")
        now, later = "'2026-09-20 10:00:00+00:00'", "'2999-01-01 00:00:00+00:00'"
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, login, name, email, role, password_hash, sis_id, section,"
            f" created_at) VALUES (1, 'ann', 'Ann', '', 'student', "
            f"'scrypt$16384$8$1${salt.hex()}${digest}', '', '', {now})"
        )
        conn.exec_driver_sql(
            "INSERT INTO web_sessions (token_hash, account_id, csrf, created_at, expires_at) "
            f"VALUES ('{hashlib.sha256(token.encode()).hexdigest()}', 1, 'x', {now}, {later})"
        )
    engine.dispose()
    with Store(url) as store:
        assert accounts.session_of(store, token).login == "ann"
        assert accounts.authenticate(store, "ann", "ann-pass-12") is not None
        [ann] = accounts.accounts(store)
        assert ann.password_hash.startswith("scrypt:32768:8:1$")
