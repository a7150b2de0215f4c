"""LTI 1.3 end to end: a real `grader serve` (local backend) and a real LTI platform
(`tests/lti_platform.py`: RS256 id tokens, its JWKS, an OAuth2 token endpoint, a line item's
score endpoint), both over HTTP on loopback; the browser's part played with `requests`
(following redirects, posting the platform's auto-submitted form), the landing page's
screenshot taken in Chromium.

One story, step by step: `grader lti register` with the platform's URLs (no roster: the
course signs in only through the LMS); launches refused with a clear page (unknown issuer,
forged signature, expired token, replayed id token, unknown deployment, a Mentor, a launch
that did not start here); an instructor deep-links an exercise (a signed response the
platform checks against the tool's key set); a student launches, is signed in without a
password, hands in a racy counter, and its score arrives at the line item; the platform then
refuses scores (HTTP 500) while she hands in the fixed counter: the score is kept, retried,
shown to the instructor, and lands once the platform takes it; the instructor regrades after
dropping a check, and the new score arrives too. Every try is in the store's audit.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import requests

from lti_platform import Platform
from test_portal import (
    COURSE,
    FIXED,
    GRADING_S,
    RACY,
    ROOT,
    SLUG,
    Server,
    grader,
    submission_id,
    token,
    upload,
    wait_graded,
)

pytestmark = pytest.mark.slow
SCORE_S = 60  # the passback loop looks every 2 s; the first retry comes 5 s after a refusal


def form_of(page: str, form_id: str = "") -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the first form of `page` (with that id)."""
    if form_id:
        page = "<form " + page.split(f'<form id="{form_id}"', 1)[1]
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))
    fields = {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


def launch(
    platform: Platform,
    user: str,
    role: str = "Learner",
    session: requests.Session | None = None,
    **kw,
) -> tuple[requests.Session, requests.Response]:
    """A browser's launch: the LMS link, the tool's login, the platform's form posted back."""
    s = session or requests.Session()
    r = s.get(platform.start_url(user, role, **kw), timeout=60)
    if "/lti/launch" not in r.text:  # refused at the login step
        return s, r
    action, fields = form_of(r.text)
    return s, s.post(action, data=fields, timeout=60)


def enter(s: requests.Session, landing: requests.Response) -> requests.Response:
    href = re.search(r'<a id="open" class="button" href="([^"]+)"', landing.text).group(1)
    return s.get(landing.url.split("/lti/")[0] + html.unescape(href), timeout=60)


def wait_for(what, timeout: float = SCORE_S, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.3)
    pytest.fail(f"not within {timeout} s: {message}")


def audit(course: Path, action: str, student: str) -> list[str]:
    from grader.store import Store, store_url

    with Store(store_url(course)) as store:
        return [a.detail for a in store.audit_trail(SLUG, student) if a.action == action]


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    (course / "course.toml").write_text(COURSE)
    shutil.copytree(
        ROOT / "exercises" / SLUG,
        course / "exercises" / SLUG,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    platform = Platform()
    out = grader(course, "lti", "register", *[x for kv in platform.urls.items() for x in kv])
    assert "registered" in out.stdout
    server = Server(course, 1)  # no roster: `grader serve` starts for a registered LMS
    platform.tool_url = server.url
    try:
        yield {"url": server.url, "course": course, "platform": platform, "server": server}
    finally:
        server.stop()
        platform.stop()


def test_lti_commands_list_and_show_the_tool(lms):
    listed = grader(lms["course"], "lti", "list").stdout
    assert lms["platform"].issuer in listed and "pgrader-client" in listed
    shown = grader(lms["course"], "lti", "show-tool", "--url", "https://grader.example.edu").stdout
    for path in ("/lti/login", "/lti/launch", "/lti/jwks.json"):
        assert "https://grader.example.edu" + path in shown
    served = requests.get(lms["url"] + "/lti/jwks.json", timeout=60).json()
    assert served["keys"][0]["kid"] in shown and served["keys"][0]["n"] in shown
    assert "d" not in served["keys"][0]  # only the public part
    again = grader(lms["course"], "lti", "show-tool").stdout
    assert served["keys"][0]["kid"] in again  # generated once


@pytest.mark.parametrize(
    "case, title",
    [
        ("unknown-issuer", "Unknown LMS"),
        ("forged", "signature is not valid"),
        ("expired", "signature is not valid"),
        ("deployment", "Unknown deployment"),
        ("mentor", "No access"),
        ("replay", "already used"),
        ("no-state", "did not start here"),
    ],
)
def test_refused_launches_get_a_clear_page(lms, case, title):
    platform = lms["platform"]
    kw = (
        {"issuer": "https://unknown-lms.example.edu"}
        if case == "unknown-issuer"
        else {"deployment_id": "not-registered"}
        if case == "deployment"
        else {}
    )
    platform.sign_with_other_key, platform.expired = case == "forged", case == "expired"
    try:
        if case in ("replay", "no-state"):
            s = requests.Session()
            first = s.get(platform.start_url("eve", exercise=SLUG), timeout=60)
            action, fields = form_of(first.text)
            if case == "replay":
                assert s.post(action, data=fields, timeout=60).status_code == 200
            r = (s if case == "replay" else requests.Session()).post(
                action, data=fields, timeout=60
            )
        else:
            _, r = launch(
                platform, "eve", "Mentor" if case == "mentor" else "Learner", exercise=SLUG, **kw
            )
    finally:
        platform.sign_with_other_key = platform.expired = False
    assert r.status_code in (400, 403), (r.status_code, r.text[:300])
    assert title in r.text and 'id="error"' in r.text
    assert "pgrader_session" not in r.headers.get("Set-Cookie", "")
    assert "Traceback" not in r.text


def test_instructor_deep_links_an_exercise(lms):
    platform = lms["platform"]
    s, r = launch(platform, "pat", "Instructor", deep_link=True, name="Pat Professor")
    assert r.status_code == 200 and f'data-slug="{SLUG}"' in r.text, r.text[:500]
    action, fields = form_of(r.text.split(f'data-slug="{SLUG}"')[1])
    assert fields["exercise"] == SLUG
    back = s.post(lms["url"] + action, data=fields, timeout=60)
    assert back.status_code == 200
    to, signed = form_of(back.text, "deep-link-return")
    assert to == platform.url + "/deep-link-return"
    linked = s.post(to, data=signed, timeout=60)  # the platform checks it with the tool's JWKS
    assert linked.status_code == 200 and "linked: A thread-safe counter" in linked.text
    item = platform.deep_links[-1]
    assert item["type"] == "ltiResourceLink" and item["custom"] == {"exercise": SLUG}
    assert item["lineItem"]["scoreMaximum"] == 10 and item["url"] == lms["url"] + "/lti/launch"
    # a student cannot answer a deep-linking launch
    _, r = launch(platform, "sam", deep_link=True)
    assert r.status_code == 403 and "For instructors" in r.text


def test_student_launch_submit_and_the_score_arrives(lms):
    platform, base = lms["platform"], lms["url"]
    s, landing = launch(
        platform, "ann-lms-id", exercise=SLUG, name="Ann Archer", email="ann.archer@uni.example.edu"
    )
    assert landing.status_code == 200
    assert "Signed in from Test LMS" in landing.text and "Ann Archer" in landing.text
    assert "ann.archer" in landing.text and "(student)" in landing.text
    assert "sent to Test LMS" in landing.text
    page = enter(s, landing)
    assert page.url == f"{base}/exercises/{SLUG}" and 'id="logout"' in page.text
    # the link works once
    assert enter(requests.Session(), landing).status_code == 403
    # the same LMS user again: the same account, not a second one
    s2, again = launch(
        platform, "ann-lms-id", exercise=SLUG, name="Ann Archer", email="ann.archer@uni.example.edu"
    )
    assert "ann.archer</span>" in again.text and "made from your" not in again.text
    number = submission_id(upload(s, base, "solution.py", RACY.read_bytes()))
    _, final = wait_graded(s, base, number)
    assert final["status"] == "graded"
    got = wait_for(lambda: platform.latest().get("ann-lms-id"), message="the first score")
    assert got["scoreGiven"] == pytest.approx(float(final["score"]))
    assert got["scoreMaximum"] == 10 and got["gradingProgress"] == "FullyGraded"
    assert got["activityProgress"] == "Completed"
    # the platform has the score before the tool's transaction with its audit row commits
    wait_for(
        lambda: any("try 1:" in d for d in audit(lms["course"], "lti-score-sent", "ann.archer")),
        message="the audit row of the score sent",
    )
    lms["ann"] = s


def test_refused_score_is_kept_retried_shown_then_lands(lms):
    platform, base, s = lms["platform"], lms["url"], lms["ann"]
    before = platform.latest()["ann-lms-id"]["scoreGiven"]
    platform.refuse_scores = 10**6  # the gradebook is down until the test says otherwise
    number = submission_id(upload(s, base, "solution.py", FIXED.read_bytes()))
    _, final = wait_graded(s, base, number)
    assert final["score"] == 10
    wait_for(
        lambda: sum(code == 500 for code, _ in platform.score_posts) >= 2,
        message="two refusals (the second 5 s after the first)",
    )
    prof, landing = launch(platform, "pat", "Instructor", exercise=SLUG)
    assert enter(prof, landing).status_code == 200
    shown = prof.get(base + "/lti/scores", timeout=60).text
    row = shown.split('data-student="ann.archer"')[1].split("</tr>")[0]
    assert "10 / 10" in row and "HTTP 500" in row and "gradebook temporarily unavailable" in row
    over = prof.get(base + "/instructor", timeout=60).text
    assert re.search(
        r'id="lti-passback" class="card alert">LMS grade passback: <a[^>]*>'
        r"<strong>1</strong> score\(s\) waiting",
        over,
    ), over
    assert platform.latest()["ann-lms-id"]["scoreGiven"] == before
    with platform.lock:
        platform.refuse_scores = 0
    wait_for(
        lambda: platform.latest()["ann-lms-id"]["scoreGiven"] == 10,
        timeout=120,
        message="the score once the platform takes it again",
    )
    refused = audit(lms["course"], "lti-score-refused", "ann.archer")
    assert len(refused) >= 2 and all("HTTP 500" in d and "next try after" in d for d in refused)
    wait_for(
        lambda: any(
            f"try {len(refused) + 1}:" in d and "10 / 10" in d
            for d in audit(lms["course"], "lti-score-sent", "ann.archer")
        ),
        message=f"the audit row of try {len(refused) + 1}, the score sent",
    )
    assert "Every score has been delivered" in prof.get(base + "/lti/scores", timeout=60).text
    lms["prof"] = prof


def test_a_regrade_passes_back_too(lms):
    platform, base, course = lms["platform"], lms["url"], lms["course"]
    s, landing = launch(
        platform,
        "bo-lms-id",
        exercise=SLUG,
        lineitem="1",
        name="Bo Baker",
        email="bo@uni.example.edu",
    )
    enter(s, landing)
    number = submission_id(upload(s, base, "solution.py", RACY.read_bytes()))
    _, first = wait_graded(s, base, number)
    wait_for(
        lambda: platform.latest().get("bo-lms-id", {}).get("scoreGiven") == first["score"],
        message="bo's first score",
    )
    # the course drops its lockset check, then regrades: the racy counter scores more
    hidden = course / "exercises" / SLUG / "tests" / "hidden" / "test_hidden.py"
    doc = '"""Every write of the counter\'s state holds the same lock (lockset check)"""\n'
    hidden.write_text(hidden.read_text().replace(doc, doc + "    return\n"))
    prof = lms["prof"]
    page = prof.get(f"{base}/instructor/exercises/{SLUG}", timeout=60).text
    r = prof.post(
        f"{base}/instructor/exercises/{SLUG}/regrade", data={"csrf_token": token(page)}, timeout=60
    )
    assert r.status_code == 200
    from grader.course import load_course
    from grader.store import Store, store_url

    exercise = load_course(course).exercise(SLUG)

    def regraded():
        with Store(store_url(course)) as store:
            cur = {c.student: c.final for c in store.counted(exercise, ["bo"], results=False)}
        return cur.get("bo") if cur.get("bo", first["score"]) != first["score"] else None

    new = wait_for(regraded, timeout=GRADING_S, message="bo's regrade")
    assert new > first["score"]
    wait_for(
        lambda: platform.latest()["bo-lms-id"]["scoreGiven"] == pytest.approx(new),
        message="bo's regraded score",
    )
    wait_for(
        lambda: len(audit(course, "lti-score-sent", "bo")) == 2,
        message="the audit rows of bo's two scores sent",
    )


def test_landing_page_screenshot(lms, new_page):
    """The launch landing page in Chromium, through the platform's auto-submitted form;
    `SCREENSHOTS_DIR=docs/screenshots` refreshes the docs' copy."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or lms["course"] / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    page = new_page()
    page.goto(
        lms["platform"].start_url(
            "cy-lms-id", exercise=SLUG, name="Cy Chen", email="cy.chen@uni.example.edu"
        )
    )
    page.wait_for_selector("#lti-landing")
    assert "Signed in from Test LMS" in page.inner_text("h1")
    page.screenshot(path=str(folder / "lti-landing.png"), full_page=True)
    page.click("a#open")
    page.wait_for_selector("button#logout")
    assert page.url.endswith(f"/exercises/{SLUG}")


@pytest.mark.parametrize(
    "roles, expected",
    [
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"], "student"),
        (["Learner"], "student"),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"], "instructor"),
        (
            ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
            "instructor",
        ),
        (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"], "instructor"),
        (
            [
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
            ],
            "instructor",
        ),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], None),
        ([], None),
        ("Instructor", None),
        ([42], None),
    ],
)
def test_lti_roles_map_to_portal_roles(roles, expected):
    from grader.portal.lti.users import NoAccess, portal_role

    if expected is None:
        with pytest.raises(NoAccess, match="has no access"):
            portal_role(roles)
    else:
        assert portal_role(roles) == expected


def test_first_launch_ties_the_roster_account_or_makes_one(tmp_path):
    """By sis_id (the LIS person sourcedid), else e-mail; else a new account without a
    password, its login from the e-mail (a number added when taken); the same issuer+sub
    is the same account at every later launch, its role and name following the LMS."""
    from grader.portal.accounts import authenticate, import_roster, read_roster
    from grader.portal.lti.users import account_for
    from grader.store import Store

    (tmp_path / "roster.csv").write_text(
        "student,name,email,role,password,sis_id\n"
        "alice,Alice A,alice@uni.edu,student,alice-pass-1,S-001\n"
        "bob,Bob B,Bob@Uni.edu,student,bob-pass-12,\n"
        "ann,Ann Other,ann@other.edu,student,ann-pass-12,\n"
    )
    learner = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    lis = "https://purl.imsglobal.org/spec/lti/claim/lis"
    roles = "https://purl.imsglobal.org/spec/lti/claim/roles"
    with Store(f"sqlite:///{tmp_path / 'grader.db'}") as store:
        import_roster(store, read_roster(tmp_path / "roster.csv"))
        iss = "https://lms.example.edu"
        by_sis, new = account_for(
            store,
            iss,
            {"sub": "u1", roles: learner, "email": "a@x.edu", lis: {"person_sourcedid": "S-001"}},
        )
        assert (by_sis.login, new) == ("alice", True)
        by_mail, _ = account_for(store, iss, {"sub": "u2", roles: learner, "email": "bob@uni.edu"})
        assert by_mail.login == "bob"
        made, new = account_for(
            store, iss, {"sub": "u3", roles: learner, "name": "Ann New", "email": "ann@uni.edu"}
        )
        assert (made.login, made.password_hash, new) == ("ann-2", "", True)
        assert authenticate(store, "ann-2", "") is None  # no password sign-in
        again, new = account_for(
            store,
            iss,
            {
                "sub": "u3",
                "name": "Ann Renamed",
                roles: [
                    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
                ],
            },
        )
        assert (again.id, again.name, again.role, new) == (
            made.id,
            "Ann Renamed",
            "instructor",
            False,
        )
        other, _ = account_for(
            store, "https://other-lms.example.edu", {"sub": "u3", roles: learner, "name": "Zed"}
        )
        assert other.id != made.id and other.login == "zed"  # another LMS's user u3


def test_launch_state_nonce_is_used_once_and_expires(tmp_path):
    """The store's launch storage: a nonce found once (a replay finds nothing), an old one
    not at all; shared by every process on the store."""
    from grader.portal.lti.tool import StoreLaunchStorage, get_state, put_state
    from grader.store import Store

    with Store(f"sqlite:///{tmp_path / 'grader.db'}") as store:
        one, other = StoreLaunchStorage(store), StoreLaunchStorage(store)
        one.set_value("lti1p3-nonce-abc", True, exp=600)
        assert other.check_value("lti1p3-nonce-abc")  # another process sees it...
        assert not one.check_value("lti1p3-nonce-abc")  # ...and it is gone
        one.set_value("lti1p3-nonce-old", True, exp=0.05)
        time.sleep(0.2)
        assert not other.check_value("lti1p3-nonce-old")
        put_state(store, "launch", {"a": 1}, 600)
        assert get_state(store, "launch") == {"a": 1} == get_state(store, "launch")


def test_login_initiation_by_post_as_canvas_does(lms):
    """Canvas posts the login initiation: no CSRF token, and it is not refused for that."""
    platform = lms["platform"]
    r = requests.post(
        lms["url"] + "/lti/login",
        allow_redirects=False,
        timeout=60,
        data={
            "iss": platform.issuer,
            "login_hint": "x",
            "client_id": platform.client_id,
            "target_link_uri": lms["url"] + "/lti/launch",
            "lti_deployment_id": "deployment-1",
        },
    )
    assert r.status_code == 302 and r.headers["Location"].startswith(platform.url + "/auth?")
    assert "lti1p3-state-" in r.headers["Set-Cookie"]
    assert requests.post(lms["url"] + "/lti/login", timeout=60).status_code == 400
