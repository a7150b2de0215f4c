"""The course portal over HTTP: a real `grader serve` (local backend) driven with `requests`.

A temporary course holds `locked_counter`; accounts come from a roster through `grader
accounts import`. One server serves most tests in file order (sign-in, CSRF, uploads,
grading, forged ids, hidden tests, rate limit, instructor pages, exports, regrade); the
restart tests start their own servers on their own course copies.
"""

from __future__ import annotations

import csv
import io
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest
import requests

from browser import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")
SLUG = "locked_counter"
RACY = ROOT / "solutions" / SLUG / "mutants" / "no_lock" / "solution.py"
FIXED = ROOT / "solutions" / SLUG / "solution.py"
RACY_SCORE = 6.0  # no_lock: the lockset and forced-switch tests (4 + 4 of 19 weights) fail
# ...and each of its two value tests (0.5 points) where its race may really lose updates on a
# loaded machine (every request of the run is watched): sample_class/expected.csv's race_may_show
RACY_SCORES = (RACY_SCORE, RACY_SCORE - 0.5, RACY_SCORE - 1.0)
GRADING_S = 300  # one local grading on a machine that may be loaded 10x
COURSE = f"""[course]
name = "Portal HTTP test"
term = "Test term"
backend = "local"

[late_policy]
penalty_per_day = 0.1
last_day = 3

[portal]
submissions_per_hour = 3
max_upload_kb = 64

[[exercise]]
slug = "{SLUG}"
points = 10
opens = 2026-01-01T00:00:00Z
due = 2099-12-31T23:59:00Z
"""
ROSTER = """student,name,email,role,password
alice,Alice Archer,alice@example.edu,student,alice-pass-1
bob,Bob Baker,bob@example.edu,,
carol,Carol <script>alert(1)</script>,carol@example.edu,student,carol-pass-1
prof,Pat Professor,prof@example.edu,instructor,prof-pass-1
"""

pytestmark = pytest.mark.slow


def grader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [GRADER, "--course", str(course), *args],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, f"grader {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def make_course(
    folder: Path, public: dict[str, str] | None = None, toml: str = ""
) -> dict[str, str]:
    """A course in `folder` with accounts (`public`: more public test files, by name; `toml`:
    more of course.toml); the passwords by login."""
    (folder / "course.toml").write_text(COURSE + toml)
    shutil.copytree(
        ROOT / "exercises" / SLUG,
        folder / "exercises" / SLUG,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name, text in (public or {}).items():
        (folder / "exercises" / SLUG / "tests" / "public" / name).write_text(text)
    (folder / "roster.csv").write_text(ROSTER)
    grader(
        folder,
        "accounts",
        "import",
        str(folder / "roster.csv"),
        "--passwords-out",
        str(folder / "passwords.csv"),
    )
    generated = dict(csv.reader(io.StringIO((folder / "passwords.csv").read_text())))
    assert (folder / "passwords.csv").stat().st_mode & 0o077 == 0
    return {
        "alice": "alice-pass-1",
        "carol": "carol-pass-1",
        "prof": "prof-pass-1",
        "bob": generated["bob"],
    }


class Server:
    """`grader serve` on a free port, stdout read for its listening line (`command`: how
    `grader serve` is called, by default the venv's with `--course`)."""

    def __init__(self, course: Path, jobs: int, *extra: str, command: list[str] | None = None):
        self.course, self.port = course, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(course / f"serve-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [
                *(command or [GRADER, "serve", "--course", str(course)]),
                "--port",
                str(self.port),
                "--backend",
                "local",
                "--jobs",
                str(jobs),
                *extra,
            ],
            cwd=course,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(x) for x in self.proc.stdout], daemon=True
        ).start()
        try:
            line = lines.get(timeout=120)
        except queue.Empty:
            self.stop()
            pytest.fail(f"grader serve printed nothing in 120 s: {self.read_log()}")
        assert line.strip() == f"portal listening on {self.url}", line + self.read_log()

    def read_log(self) -> str:
        return (self.course / f"serve-{self.port}.log").read_text()

    def stop(self, sig=signal.SIGTERM) -> None:
        if sig == signal.SIGKILL:
            self.proc.kill()
            self.proc.wait(timeout=30)
        stop(self.proc)
        self.log.close()


def sign_in(base: str, login: str, password: str) -> requests.Session:
    s = requests.Session()
    page = s.get(base + "/login", timeout=60)
    r = s.post(
        base + "/login",
        data={"username": login, "password": password, "csrf_token": token(page.text)},
        timeout=60,
    )
    assert r.status_code == 200 and 'id="logout"' in r.text, r.text[:500]
    return s


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def upload(s: requests.Session, base: str, name: str, data: bytes) -> requests.Response:
    page = s.get(f"{base}/exercises/{SLUG}", timeout=60)
    return s.post(
        f"{base}/exercises/{SLUG}/submit",
        files={"submission": (name, data)},
        data={"csrf_token": token(page.text)},
        timeout=60,
        allow_redirects=False,
    )


def submission_id(r: requests.Response) -> int:
    """The attempt number an upload redirected to (the student's own numbering)."""
    assert r.status_code == 303, (r.status_code, r.text[:500])
    return int(re.fullmatch(rf".*/exercises/{SLUG}/attempts/(\d+)", r.headers["Location"]).group(1))


def attempt_url(base: str, number: int, api: bool = False) -> str:
    return f"{base}{'/api' if api else ''}/exercises/{SLUG}/attempts/{number}"


FINAL = ("graded", "refused", "not graded yet")


def wait_graded(s: requests.Session, base: str, sid: int, timeout: float = GRADING_S) -> tuple:
    """Poll the API until a final state; the states seen (in order) and the last reply
    (status, score, max)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = s.get(attempt_url(base, sid, api=True), timeout=60).json()
        if not seen or seen[-1] != reply["status"]:
            seen.append(reply["status"])
        if reply["status"] in FINAL and not reply["regrading"]:
            return seen, {k: reply[k] for k in ("status", "score", "max")}
        time.sleep(0.2)
    pytest.fail(f"attempt {sid} not graded within {timeout} s: {seen}")


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    passwords = make_course(course)
    server = Server(course, jobs=2)
    try:
        yield {"url": server.url, "course": course, "passwords": passwords, "ids": {}}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def users(portal):
    return {login: sign_in(portal["url"], login, pw) for login, pw in portal["passwords"].items()}


def test_sign_in_right_and_wrong_password(portal):
    base = portal["url"]
    s = requests.Session()
    page = s.get(base + "/login", timeout=60)
    assert 'name="username"' in page.text and 'id="login"' in page.text
    r = s.post(
        base + "/login",
        data={"username": "alice", "password": "wrong-password", "csrf_token": token(page.text)},
        timeout=60,
    )
    assert r.status_code == 401 and 'id="error"' in r.text and 'id="logout"' not in r.text
    r = s.post(
        base + "/login",
        data={"username": "nobody", "password": "whatever-1", "csrf_token": token(r.text)},
        timeout=60,
    )
    assert r.status_code == 401 and 'id="error"' in r.text
    assert s.get(base + "/", timeout=60, allow_redirects=False).status_code == 302
    r = s.post(
        base + "/login",
        data={"username": "alice", "password": "alice-pass-1", "csrf_token": token(r.text)},
        timeout=60,
        allow_redirects=False,
    )
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    home = s.get(base + "/", timeout=60)
    assert f'data-slug="{SLUG}"' in home.text and "2099-12-31" in home.text
    # signing out ends the session on the server, not only in this browser
    cookie_value = s.cookies.get("pgrader_session")
    assert (
        s.post(base + "/logout", data={"csrf_token": token(home.text)}, timeout=60).status_code
        == 200
    )
    stale = requests.get(
        base + "/", cookies={"pgrader_session": cookie_value}, timeout=60, allow_redirects=False
    )
    assert stale.status_code == 302 and stale.headers["Location"].endswith("/login")


def test_posts_without_csrf_token_are_refused(portal, users):
    base, alice = portal["url"], users["alice"]
    r = alice.post(base + "/logout", timeout=60)
    assert r.status_code == 403 and "did not come from this site" in r.text
    r = alice.post(
        f"{base}/exercises/{SLUG}/submit",
        timeout=60,
        allow_redirects=False,
        files={"submission": ("solution.py", FIXED.read_bytes())},
        data={"csrf_token": "forged"},
    )
    assert r.status_code == 403
    r = requests.post(
        base + "/login", data={"username": "alice", "password": "alice-pass-1"}, timeout=60
    )
    assert r.status_code == 403
    assert 'data-attempt="' not in alice.get(f"{base}/exercises/{SLUG}", timeout=60).text
    assert alice.get(base + "/", timeout=60).status_code == 200  # still signed in


def test_too_big_or_wrong_type_uploads_are_refused_clearly(portal, users):
    base, alice = portal["url"], users["alice"]
    r = upload(alice, base, "solution.py", b"x = 1\n" + b"#" * 100_000)
    assert r.status_code == 400 and "larger than the limit of 64 KB" in r.text
    r = upload(alice, base, "solution.py", b"#" * 2_000_000)
    assert r.status_code == 413 and "larger than the limit of 64 KB" in r.text
    r = upload(alice, base, "../../solution.txt", b"x = 1\n")
    assert r.status_code == 400 and ".py file, a .zip archive or a Jupyter notebook" in r.text
    assert not list(portal["course"].rglob("solution.txt"))
    assert 'data-attempt="' not in alice.get(f"{base}/exercises/{SLUG}", timeout=60).text


def test_racy_then_correct_counter_graded_with_the_right_scores(portal, users):
    base, alice = portal["url"], users["alice"]
    racy = submission_id(upload(alice, base, "counter.py", RACY.read_bytes()))
    seen, reply = wait_graded(alice, base, racy)
    assert seen[0] in ("queued", "running") and seen[-1] == "graded", seen
    assert seen == [s for s in ("queued", "running", "graded") if s in seen], seen
    assert reply["status"] == "graded" and reply["max"] == 10.0, reply
    assert reply["score"] in RACY_SCORES, reply
    page = alice.get(attempt_url(base, racy), timeout=60).text
    assert f'<span id="score">{reply["score"]:g} / 10</span>' in page
    assert 'data-verdict="race"' in page and len(re.findall(r'class="seed">\d+<', page)) == 1
    # the interleaving that lost an update, told in the student's lines, code as code
    assert '<ol class="interleaving">' in page and "update was lost" in page
    assert "line 9 (<code>self._value += k</code>)" in page
    # the racing line highlighted in a view of the student's own file, linked from the race
    assert re.search(
        r'<tr id="f0-L9" class="race"><td class="n">9</td><td>\s*self._value \+= k', page
    )
    assert '<a href="#f0-L9"><code>solution.py:9</code></a>' in page
    assert "{'" not in page  # no Python dict reaches the student
    fixed = submission_id(upload(alice, base, "solution.py", FIXED.read_bytes()))
    seen, reply = wait_graded(alice, base, fixed)
    assert reply == {"status": "graded", "score": 10.0, "max": 10.0}, (seen, reply)
    page = alice.get(attempt_url(base, fixed), timeout=60).text
    verdicts = re.findall(r'<tr class="test [a-z]+" data-verdict="([a-z-]+)"', page)
    assert verdicts and set(verdicts) == {"passed"}, verdicts
    listing = alice.get(f"{base}/exercises/{SLUG}", timeout=60).text
    history = re.findall(r'data-attempt="(\d+)"', listing)
    assert (racy, fixed) == (1, 2) and history == ["2", "1"]  # her own numbers, newest first
    assert re.search(r'data-attempt="2" data-state="graded" class="counted"', listing)
    portal["ids"].update(racy=racy, fixed=fixed)
    # an ordinary store submission: the CLI's export sees the portal's grading
    out = portal["course"] / "cli-gradebook.csv"
    grader(portal["course"], "export", SLUG, "--format", "gradebook", "--out", str(out))
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert float(rows["alice"]["final"]) == 10.0


def test_another_students_attempts_cannot_be_named(portal, users):
    """A student's URLs name only their own attempts: bob asking for attempt 1 gets 404 (he has
    none), never alice's; the instructor's URL for alice is refused."""
    base, bob = portal["url"], users["bob"]
    racy = portal["ids"]["racy"]
    for path in (
        attempt_url("", racy),
        attempt_url("", racy, api=True),
        attempt_url("", 999999),
        f"/exercises/{SLUG}/attempts/1?student=alice",
    ):
        r = bob.get(base + path, timeout=60)
        assert r.status_code == 404, path
        assert "alice" not in r.text and "Alice" not in r.text
    r = bob.get(f"{base}/instructor/exercises/{SLUG}/students/alice/attempts/{racy}", timeout=60)
    assert r.status_code == 403 and "alice" not in r.text.replace("for instructors", "")
    assert users["alice"].get(attempt_url(base, racy), timeout=60).status_code == 200
    assert requests.get(attempt_url(base, racy, api=True), timeout=60).status_code == 401
    # a link of the portal's earlier versions (a global job id) leads to her attempt, only hers
    old = users["alice"].get(f"{base}/submissions/1", timeout=60, allow_redirects=False)
    assert old.status_code == 301 and old.headers["Location"].endswith(attempt_url("", racy))
    assert bob.get(f"{base}/submissions/1", timeout=60).status_code == 404


def test_hidden_tests_are_never_served(portal, users):
    base, alice = portal["url"], users["alice"]
    hidden = next((ROOT / "exercises" / SLUG / "tests" / "hidden").glob("test_*.py"))
    marker = next(
        line.strip()
        for line in hidden.read_text().splitlines()
        if line.strip().startswith("def test_")
    )
    bundle = alice.get(f"{base}/exercises/{SLUG}/bundle.zip", timeout=60)
    assert bundle.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(bundle.content))
    assert f"{SLUG}/solution.py" in z.namelist()
    assert not [n for n in z.namelist() if "hidden" in n]
    assert not any(marker.encode() in z.read(n) for n in z.namelist())
    for path in (
        f"/exercises/{SLUG}/tests/hidden/{hidden.name}",
        f"/static/../exercises/{SLUG}/tests/hidden/{hidden.name}",
        f"/static/%2e%2e/%2e%2e/%2e%2e/exercises/{SLUG}/tests/hidden/{hidden.name}",
        f"/exercises/{SLUG}/bundle.zip/../tests/hidden/{hidden.name}",
    ):
        r = alice.get(base + path, timeout=60)
        assert r.status_code == 404 and marker not in r.text, path
    for page in ("/", f"/exercises/{SLUG}", attempt_url("", portal["ids"]["racy"])):
        assert marker not in alice.get(base + page, timeout=60).text
    statement = alice.get(f"{base}/exercises/{SLUG}", timeout=60).text  # the README, rendered
    assert '<div class="markdown">' in statement and "<h2>What to write" in statement


def test_rate_limit_per_student(portal, users):
    base, carol = portal["url"], users["carol"]
    for i in range(3):  # a syntax error is refused by intake at once: quick attempts
        sid = submission_id(upload(carol, base, "solution.py", f"def broken({i}:\n".encode()))
        _, reply = wait_graded(carol, base, sid)
        assert reply == {"status": "refused", "score": 0, "max": 10.0}
    page = carol.get(attempt_url(base, 3), timeout=60).text
    # one word for it, the reason and what to do; no "graded", no test table, no "Error" row
    assert 'id="status" class="status refused"' in page and 'id="refused"' in page
    assert "solution.py, line 1" in page and "hand in again" in page
    assert 'id="tests"' not in page and "Submission accepted" not in page
    assert ">graded<" not in page and "Not graded" not in page
    r = upload(carol, base, "solution.py", FIXED.read_bytes())
    assert r.status_code == 429 and "3 times per hour" in r.text
    assert (
        len(re.findall(r'data-attempt="', carol.get(f"{base}/exercises/{SLUG}", timeout=60).text))
        == 3
    )
    page = carol.get(base + "/", timeout=60).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_instructor_pages_refused_to_students(portal, users):
    base, alice = portal["url"], users["alice"]
    for path in (
        "/instructor",
        f"/instructor/exercises/{SLUG}",
        f"/instructor/exercises/{SLUG}/students/bob",
        f"/instructor/exercises/{SLUG}/export/gradebook",
    ):
        r = alice.get(base + path, timeout=60)
        assert r.status_code == 403 and "for instructors" in r.text, path
    page = alice.get(f"{base}/exercises/{SLUG}", timeout=60).text
    r = alice.post(
        f"{base}/instructor/exercises/{SLUG}/regrade", timeout=60, data={"csrf_token": token(page)}
    )
    assert r.status_code == 403


def test_instructor_dashboard_and_exports(portal, users):
    base, prof = portal["url"], users["prof"]
    assert 'id="queue"' in prof.get(base + "/instructor", timeout=60).text
    page = prof.get(f"{base}/instructor/exercises/{SLUG}", timeout=60).text
    for hook in (
        '<svg class="distribution"',
        '<svg class="failures"',
        'id="students"',
        'id="regrade"',
    ):
        assert hook in page, hook
    for fmt in ("gradebook", "canvas", "gradescope", "report", "nbgrader"):
        assert f'class="export" data-format="{fmt}"' in page
    student = prof.get(f"{base}/instructor/exercises/{SLUG}/students/alice", timeout=60).text
    link = f'/instructor/exercises/{SLUG}/students/alice/attempts/{portal["ids"]["racy"]}"'
    assert link in student
    page = prof.get(base + link.rstrip('"'), timeout=60)
    assert page.status_code == 200 and 'data-verdict="race"' in page.text

    def get(fmt: str) -> requests.Response:
        r = prof.get(f"{base}/instructor/exercises/{SLUG}/export/{fmt}", timeout=300)
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"], fmt
        return r

    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(get("gradebook").text))}
    assert float(rows["alice"]["final"]) == 10 and float(rows["carol"]["final"]) == 0
    assert rows["alice"]["name"] == "Alice Archer" and rows["alice"]["attempts"] == "2"
    assert rows["bob"]["status"] == "not handed in yet" and rows["bob"]["final"] == ""
    canvas = list(csv.reader(io.StringIO(get("canvas").text)))
    # every roster student, with names and login ids; bob has handed nothing in
    assert {r[3] for r in canvas[2:]} == {"alice", "bob", "carol"}
    assert ["Alice Archer", "", "", "alice", "", "10"] in canvas
    names = zipfile.ZipFile(io.BytesIO(get("gradescope").content)).namelist()
    assert "alice/results.json" in names
    report = get("report").text
    assert "<svg" in report and "<script>alert" not in report
    assert get("nbgrader").content.startswith(b"SQLite format 3")
    assert (
        prof.get(f"{base}/instructor/exercises/{SLUG}/export/passwd", timeout=60).status_code == 404
    )


def test_regrade_from_the_dashboard(portal, users):
    base, prof = portal["url"], users["prof"]
    page = prof.get(f"{base}/instructor/exercises/{SLUG}", timeout=60).text
    r = prof.post(
        f"{base}/instructor/exercises/{SLUG}/regrade", data={"csrf_token": token(page)}, timeout=60
    )
    assert r.status_code == 200 and "queued for regrading" in r.text
    from grader.store import Store, store_url

    def gradings() -> dict[str, list]:
        out: dict[str, list] = {}
        for name, grading in store.history(SLUG):
            out.setdefault(name, []).append(grading)
        return out

    from grader.course import load_course

    exercise = load_course(portal["course"]).exercise(SLUG)
    with Store(store_url(portal["course"])) as store:
        deadline = time.monotonic() + 2 * GRADING_S
        while [len(gradings().get(n, [])) for n in ("alice", "carol")] != [3, 4]:
            assert time.monotonic() < deadline, {n: len(g) for n, g in gradings().items()}
            time.sleep(0.5)
        current = {c.student: c.grading for c in store.counted(exercise)}
        alice = gradings()["alice"]
    assert current["alice"].final == 10 and current["carol"].final == 0
    # racy (still its attempt's grading), fixed (superseded), fixed regraded
    assert [g.is_current for g in alice] == [True, False, True]
    assert alice[2].request_id != alice[1].request_id
    # the regrade is in the attempt's history, with the old and the new score
    page = users["alice"].get(attempt_url(base, 2), timeout=60).text
    assert re.search(r'<tr data-what="regraded" class="current"><td>[^<]+</td><td>regraded', page)
    assert "10 / 10 → 10 / 10" not in page  # unchanged: no arrow
    assert page.count('data-what="') == 2


def test_the_same_file_again_is_a_new_attempt_that_counts(portal, users):
    """bob hands in the fixed counter, the racy one, then the fixed one again (the same bytes):
    three attempts with their own times, and the third counts (the latest), on every page and
    in the exports."""
    base, bob = portal["url"], users["bob"]
    numbers = []
    for data in (FIXED.read_bytes(), RACY.read_bytes(), FIXED.read_bytes()):
        numbers.append(submission_id(upload(bob, base, "solution.py", data)))
        _, reply = wait_graded(bob, base, numbers[-1])
    assert numbers == [1, 2, 3] and reply == {"status": "graded", "score": 10.0, "max": 10.0}
    listing = bob.get(f"{base}/exercises/{SLUG}", timeout=60).text
    times = re.findall(
        r'data-attempt="\d" data-state="graded"[^>]*>\s*<td>.*?</td>\s*<td>([^<]+)</td>',
        listing,
        re.S,
    )
    assert len(set(times)) == 3 or len(times) == 3, times
    assert re.search(r'data-attempt="3" data-state="graded" class="counted"', listing)
    assert "from attempt 3" in listing and "Your latest graded attempt counts" in listing
    home = bob.get(base + "/", timeout=60).text
    assert re.search(rf'data-slug="{SLUG}".*?class="score">10 / 10<', home, re.S)
    prof = users["prof"]
    rows = {
        r["student"]: r
        for r in csv.DictReader(
            io.StringIO(
                prof.get(f"{base}/instructor/exercises/{SLUG}/export/gradebook", timeout=60).text
            )
        )
    }
    assert rows["bob"]["final"] == "10" and rows["bob"]["attempt"] == "3"
    page = bob.get(attempt_url(base, 3), timeout=60).text
    received = re.search(r'<span id="received">([^<]+)</span>', page).group(1)
    assert received in listing and received.endswith(" UTC")  # the same time, in the course's zone


def test_extension_and_override_with_comments_audited(portal, users):
    base, prof, carol = portal["url"], users["prof"], users["carol"]
    student = f"{base}/instructor/exercises/{SLUG}/students/carol"
    page = prof.get(student, timeout=60).text
    r = prof.post(
        student + "/override",
        data={"csrf_token": token(page), "score": "5", "comment": ""},
        timeout=60,
    )
    assert "Say why in the comment" in r.text
    r = prof.post(
        student + "/override",
        data={"csrf_token": token(page), "score": "50", "comment": "too much"},
        timeout=60,
    )
    assert "between 0 and 10" in r.text
    prof.post(
        student + "/override",
        data={"csrf_token": token(page), "score": "5", "comment": "Oral exam, <b>half</b> marks"},
        timeout=60,
    )
    r = prof.post(
        student + "/extension",
        data={"csrf_token": token(page), "due": "2100-01-15T12:00", "comment": "medical leave"},
        timeout=60,
    )
    assert r.status_code == 200
    assert "2100-01-15 12:00 UTC" in r.text and "medical leave" in r.text
    trail = re.findall(r'<tr data-action="([a-z-]+)">', r.text)
    assert trail[:2] == ["extension-set", "override-set"]
    assert "by prof: Oral exam, &lt;b&gt;half&lt;/b&gt; marks" in r.text
    mine = carol.get(f"{base}/exercises/{SLUG}", timeout=60).text
    assert (
        "Your score: 5 / 10</strong>, set by your instructor" in mine
        and "Oral exam, &lt;b&gt;half&lt;/b&gt; marks" in mine
    )
    assert "2100-01-15 12:00 UTC (your extension: medical leave)" in mine
    assert "5 / 10" in carol.get(base + "/", timeout=60).text
    r = prof.post(
        student + "/override",
        data={"csrf_token": token(page), "action": "remove", "comment": "retake graded"},
        timeout=60,
    )
    assert "None: the attempts count." in r.text
    assert "Your score: 0 / 10" in carol.get(f"{base}/exercises/{SLUG}", timeout=60).text
    assert (
        carol.post(
            student + "/override",
            data={"csrf_token": token(mine), "score": "10", "comment": "me"},
            timeout=60,
        ).status_code
        == 403
    )


def test_access_log_and_dates_reread_without_a_restart(portal, users):
    base, alice = portal["url"], users["alice"]
    log = (portal["course"] / "portal-logs" / "access.log").read_text().splitlines()
    assert any(
        re.fullmatch(
            r'127\.0\.0\.1 - alice \[[^]]+\] "GET /exercises/locked_counter '
            r'HTTP/1\.1" 200 \d+ "-" "python-requests/[^"]+" \d+\.\d{3}',
            line,
        )
        for line in log
    ), log[-5:]
    assert not any("password" in line for line in log if "POST /login" not in line)
    grader(portal["course"], "course", "dates", "--shift", "-1")
    deadline = time.monotonic() + 30
    while "2099-12-30 23:59" not in alice.get(base + "/", timeout=60).text:
        assert time.monotonic() < deadline, "the new due date was not shown"
        time.sleep(0.5)


def test_restart_resumes_a_queued_job(tmp_path):
    passwords = make_course(tmp_path)
    first = Server(tmp_path, jobs=0)  # accepts uploads, grades nothing
    alice = sign_in(first.url, "alice", passwords["alice"])
    sid = submission_id(upload(alice, first.url, "solution.py", FIXED.read_bytes()))
    assert alice.get(attempt_url(first.url, sid, api=True), timeout=60).json()["status"] == "queued"
    first.stop()
    second = Server(tmp_path, jobs=1)
    try:
        alice = sign_in(second.url, "alice", passwords["alice"])
        _, reply = wait_graded(alice, second.url, sid)
        assert reply == {"status": "graded", "score": 10.0, "max": 10.0}
        # an ordinary store submission: the CLI's regrade grades it again from its upload
        out = grader(
            tmp_path, "regrade", SLUG, "--backend", "local", "--out", str(tmp_path / "regraded")
        ).stdout
        assert "1 graded in this request" in out and "1 unchanged" in out, out
        assert (tmp_path / "regraded" / "alice" / "results.json").is_file()
    finally:
        second.stop()


def _test_runs_of(server: Server) -> list[int]:
    """Pids of the server's test runs: children of its judge fork server (`grader.judge.warm`),
    which forks each pytest run, so they carry the fork server's command line."""
    parent, judge = {}, set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            args = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        parent[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if b"grader.judge.warm" in args:
            judge.add(int(proc.name))
    servers = {pid for pid in judge if parent.get(pid) == server.proc.pid}
    return sorted(pid for pid in judge if parent.get(pid) in servers)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_stopping_the_portal_ends_its_test_runs(tmp_path):
    """SIGTERM while a long job is graded (a counter that never returns: every test runs to
    its time limit): the test run ends with the server, none grades on as an orphan, and the
    next start puts the job back in the queue."""
    passwords = make_course(tmp_path)
    stuck = FIXED.read_text().replace(
        "def parallel_count(n_threads, n_increments):",
        "def parallel_count(n_threads, n_increments):\n    import time; time.sleep(3600)",
    )
    assert "3600" in stuck
    first = Server(tmp_path, jobs=1)
    alice = sign_in(first.url, "alice", passwords["alice"])
    sid = submission_id(upload(alice, first.url, "solution.py", stuck.encode()))
    deadline = time.monotonic() + GRADING_S
    try:
        while not (runs := _test_runs_of(first)):
            assert time.monotonic() < deadline, "no test run started"
            time.sleep(0.05)
    finally:
        first.stop()
    deadline = time.monotonic() + 20
    while left := [pid for pid in runs if _running(pid)]:
        assert time.monotonic() < deadline, f"test runs left behind: {left}"
        time.sleep(0.2)
    second = Server(tmp_path, jobs=0)
    try:
        alice = sign_in(second.url, "alice", passwords["alice"])
        reply = alice.get(attempt_url(second.url, sid, api=True), timeout=60).json()
        assert reply["status"] == "queued", reply
    finally:
        second.stop()


def test_restart_after_a_kill_regrades_the_running_job_once(tmp_path):
    passwords = make_course(tmp_path)
    first = Server(tmp_path, jobs=1)
    alice = sign_in(first.url, "alice", passwords["alice"])
    sid = submission_id(upload(alice, first.url, "solution.py", FIXED.read_bytes()))
    deadline = time.monotonic() + GRADING_S
    while (
        alice.get(attempt_url(first.url, sid, api=True), timeout=60).json()["status"] != "running"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.stop(signal.SIGKILL)
    second = Server(tmp_path, jobs=1)
    try:
        alice = sign_in(second.url, "alice", passwords["alice"])
        _, reply = wait_graded(alice, second.url, sid)
        assert reply["status"] == "graded" and reply["score"] == 10.0
    finally:
        second.stop()
    from grader.store import Store, store_url

    with Store(store_url(tmp_path)) as store:
        assert len(store.history(SLUG, "alice")) == 1


def test_a_submission_reaching_for_the_grader_is_flagged_for_the_instructor(tmp_path):
    """alice's counter also walks up the call stack: graded as usual, and the dashboard and
    her page show the instructor the line that raised the flag; carol's honest counter is not
    named; the student's own page says nothing of it."""
    passwords = make_course(tmp_path)
    server = Server(tmp_path, jobs=1)
    try:
        base = server.url
        sneaky = FIXED.read_text().replace(
            "    c = SafeCounter()\n",
            "    import sys\n    sys._getframe().f_back\n    c = SafeCounter()\n",
        )
        line = sneaky.splitlines().index("    sys._getframe().f_back") + 1
        alice, carol = (sign_in(base, n, passwords[n]) for n in ("alice", "carol"))
        for who, text in ((alice, sneaky), (carol, FIXED.read_text())):
            sid = submission_id(upload(who, base, "solution.py", text.encode()))
            assert wait_graded(who, base, sid)[1]["status"] == "graded"
        prof = sign_in(base, "prof", passwords["prof"])
        page = prof.get(f"{base}/instructor/exercises/{SLUG}", timeout=60).text
        flagged = page[page.index('id="flagged"') : page.index('id="students"')]
        assert "/students/alice" in flagged and "carol" not in flagged
        student = prof.get(f"{base}/instructor/exercises/{SLUG}/students/alice", timeout=60).text
        assert 'data-flagged="alice"' in student and f"line {line}" in student
        assert "sys._getframe().f_back" in student
        assert (
            'data-flagged="'
            not in prof.get(f"{base}/instructor/exercises/{SLUG}/students/carol", timeout=60).text
        )
        assert "Flagged" not in alice.get(attempt_url(base, 1), timeout=60).text
    finally:
        server.stop()


# ---------------------------------------------------------------- no server needed


def test_three_hundred_browsers_at_once_are_served(tmp_path):
    """A class's browsers each keep a connection open: the 101st must not wait (waitress's
    default limit of 100 connections made it wait for an idle one to time out)."""
    make_course(tmp_path)
    server = Server(tmp_path, 0)
    try:
        sessions, worst = [], 0.0
        for _ in range(300):
            s = requests.Session()
            t0 = time.monotonic()
            assert s.get(server.url + "/login", timeout=30).status_code == 200
            worst = max(worst, time.monotonic() - t0)
            sessions.append(s)
        assert worst < 10, worst
    finally:
        server.stop()


def test_password_change_signs_out_the_other_browsers(tmp_path):
    passwords = make_course(tmp_path)
    server = Server(tmp_path, 0)
    try:
        here, elsewhere = (sign_in(server.url, "alice", passwords["alice"]) for _ in range(2))
        form = here.get(server.url + "/account/password", timeout=60).text
        for fields, why in (
            (("wrong-one-1", "new-secret-9", "new-secret-9"), "not right"),
            ((passwords["alice"], "new-secret-9", "new-secret-8"), "differ"),
            ((passwords["alice"], "short", "short"), "at least 8"),
        ):
            r = here.post(
                server.url + "/account/password",
                timeout=60,
                data={"csrf_token": token(form), **dict(zip(("current", "new", "repeat"), fields))},
            )
            assert r.status_code == 400 and why in r.text, why
        r = here.post(
            server.url + "/account/password",
            timeout=60,
            data={
                "csrf_token": token(form),
                "current": passwords["alice"],
                "new": "new-secret-9",
                "repeat": "new-secret-9",
            },
        )
        assert r.status_code == 200 and 'id="done"' in r.text
        assert here.get(server.url + "/", timeout=60, allow_redirects=False).status_code == 200
        assert elsewhere.get(server.url + "/", timeout=60, allow_redirects=False).status_code == 302
        sign_in(server.url, "alice", "new-secret-9")
        page = requests.get(server.url + "/login", timeout=60)
        r = requests.post(
            server.url + "/login",
            cookies=page.cookies,
            timeout=60,
            data={
                "username": "alice",
                "password": passwords["alice"],
                "csrf_token": token(page.text),
            },
        )
        assert r.status_code == 401
    finally:
        server.stop()
    from grader.store import Store, store_url

    with Store(store_url(tmp_path)) as store:
        actions = [a.action for a in store.audit_trail("", "alice")]
    assert actions[:3] == ["sign-in-failed", "signed-in", "password-changed"], actions


def test_serve_refuses_to_start_without_accounts(tmp_path):
    (tmp_path / "course.toml").write_text(COURSE)
    shutil.copytree(ROOT / "exercises" / SLUG, tmp_path / "exercises" / SLUG)
    proc = grader(tmp_path, "serve", "--port", "0", "--backend", "local", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "No portal account exists" in proc.stderr
    assert (
        "accounts import docs/example-roster.csv --passwords-out private/passwords.csv"
        in proc.stderr
    )


def test_serve_on_a_port_in_use_says_so(tmp_path):
    """A second `grader serve` on the same port: what to do, not waitress's traceback."""
    make_course(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        proc = grader(tmp_path, "serve", "--port", port, "--backend", "local", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "another port with `grader serve --port N`" in proc.stderr


def test_serve_says_it_stopped(tmp_path):
    """SIGTERM (as Ctrl-C): the portal says it stopped and what happens to the queue."""
    make_course(tmp_path)
    server = Server(tmp_path, 0)
    server.stop()
    assert server.proc.returncode == 0
    assert "portal stopped; queued jobs resume at the next start" in server.read_log()


def test_the_readme_quick_start_reaches_a_signed_in_student(tmp_path):
    """The README's portal commands as written, in a copy of the course (the venv linked where
    the README expects it; `grader serve` on a free port, grading nothing): the dates move so
    that locked_counter is open and on time today, the example roster's accounts are made
    with their passwords in `private/`, which git ignores, and `ada` signs in and hands in."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("Then the course portal")[1].split("```sh\n")[1].split("```")[0]
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.strip()]
    assert [c[:3] for c in commands] == [
        [".venv/bin/grader", "course", "dates"],
        [".venv/bin/grader", "accounts", "import"],
        [".venv/bin/grader", "serve"],
    ], commands
    for name in ("course.toml", ".gitignore", "docs/example-roster.csv"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / "exercises", tmp_path / "exercises", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for command in commands[:-1]:
        proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    ignored = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "private"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ignored.strip() == "!! private/", ignored
    passwords = dict(csv.reader((tmp_path / "private" / "passwords.csv").open()))
    server = Server(tmp_path, 0, command=commands[-1])
    try:
        ada = sign_in(server.url, "ada", passwords["ada"])
        home = ada.get(server.url + "/", timeout=60).text
        assert f'<tr data-slug="{SLUG}">' in home
        assert submission_id(upload(ada, server.url, "solution.py", RACY.read_bytes())) == 1
    finally:
        server.stop()
    from grader.store import Store, store_url

    with Store(store_url(tmp_path)) as store:
        [attempt] = store.submissions(SLUG)["ada"]
    assert attempt.late_days == 0


def test_passwords_are_never_written_where_git_would_commit_them(tmp_path):
    make_course(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "more.csv").write_text("student,name,email\ndave,Dave,d@x\n")
    proc = grader(
        tmp_path, "accounts", "import", "more.csv", "--passwords-out", "secrets.csv", check=False
    )
    assert proc.returncode == 2 and "could be committed" in proc.stderr
    assert not (tmp_path / "secrets.csv").exists()
    (tmp_path / ".gitignore").write_text("/private/\n")
    grader(tmp_path, "accounts", "import", "more.csv", "--passwords-out", "private/pw.csv")
    assert (tmp_path / "private" / "pw.csv").stat().st_mode & 0o077 == 0


def test_roster_problems_are_explained(tmp_path):
    from grader.portal.accounts import AccountError, read_roster

    cases = {
        "student,name\nalice,A\n": "missing: email",
        "student,name,email\n../etc,A,a@x\n": "login '../etc' must be",
        "student,name,email\nalice,A,a@x\nalice,B,b@x\n": "listed twice: alice",
        "student,name,email,role\nalice,A,a@x,admin\n": "role must be student or instructor",
        "student,name,email,password\nalice,A,a@x,short\n": "at least 8 characters",
    }
    for text, expected in cases.items():
        (tmp_path / "roster.csv").write_text(text)
        with pytest.raises(AccountError, match=re.escape(expected)):
            read_roster(tmp_path / "roster.csv")


def test_accounts_without_passwords_need_passwords_out(tmp_path):
    passwords = make_course(tmp_path)
    (tmp_path / "more.csv").write_text("student,name,email\ndave,Dave,d@x\n")
    proc = grader(tmp_path, "accounts", "import", str(tmp_path / "more.csv"), check=False)
    assert proc.returncode == 2 and "--passwords-out" in proc.stderr
    from grader.portal import accounts
    from grader.store import Store, store_url

    with Store(store_url(tmp_path)) as store:
        assert "dave" not in {a.login for a in accounts.accounts(store)}  # nothing imported
        assert accounts.authenticate(store, "alice", passwords["alice"]).role == "student"
        assert accounts.authenticate(store, "alice", passwords["bob"]) is None
        stored = {a.login: a.password_hash for a in accounts.accounts(store)}
    assert stored["alice"].startswith("scrypt:") and passwords["alice"] not in stored["alice"]
    grader(tmp_path, "accounts", "set-password", "alice", "--password", "a-new-password")
    with Store(store_url(tmp_path)) as store:
        assert accounts.authenticate(store, "alice", passwords["alice"]) is None
        assert accounts.authenticate(store, "alice", "a-new-password") is not None


def test_portal_settings_are_checked(tmp_path):
    from grader.course import load_course
    from grader.errors import ConfigError
    from grader.portal.settings import portal_settings

    make_course(tmp_path)
    assert portal_settings(load_course(tmp_path)).submissions_per_hour == 3
    text = (tmp_path / "course.toml").read_text()
    for bad, key in (
        ("submissions_per_hour = 0", "portal.submissions_per_hour"),
        ("max_upload_kb = 1.5", "portal.max_upload_kb"),
        ("uploads_per_day = 3", "portal.uploads_per_day"),
    ):
        (tmp_path / "course.toml").write_text(
            text.replace("submissions_per_hour = 3\nmax_upload_kb = 64", bad)
        )
        with pytest.raises(ConfigError, match=re.escape(key)):
            portal_settings(load_course(tmp_path))


def test_plots_escape_text_and_ignore_malformed_timings():
    from grader.portal import plots

    svg = plots.failures(
        [{"function": "t", "name": "<script>x</script>", "ran": 4, "failed": 1, "rate": 0.25}]
    )
    assert svg.startswith('<svg class="failures"') and "<script>" not in svg and "25%" in svg
    points = plots.speedup_points(
        {
            "timings": [
                {"workers": 4, "seconds": 1.0, "reference": 0.9},
                {"workers": 1, "seconds": 3.9, "reference": 3.8},
                {"workers": "2", "seconds": 1},
                "junk",
                {"workers": True, "seconds": 1},
            ]
        }
    )
    assert [p["workers"] for p in points] == [1, 4]
    svg = plots.speedup(points)
    assert svg.startswith('<svg class="speedup"') and svg.count("<polyline") == 2
    assert plots.speedup_points({"timings": "no"}) is None and plots.speedup_points({}) is None


def test_statement_is_rendered_markdown_with_raw_html_disarmed(tmp_path):
    import dataclasses

    from grader.course import load_course
    from grader.portal.views import statement_html

    ex = load_course(ROOT).exercise(SLUG)
    html = str(statement_html(ex))
    assert "<h2>What to write (<code>solution.py</code>)</h2>" in html
    assert '<pre><code class="language-python">class SafeCounter:' in html
    assert ex.title not in html  # the page's own heading already shows it
    (tmp_path / "README.md").write_text(
        "# Another title\n\nSee <script>alert(1)</script> and [this](javascript:alert(1)).\n"
    )
    html = str(statement_html(dataclasses.replace(ex, root=tmp_path)))
    assert "<h1>Another title</h1>" in html and "<script>" not in html
    assert "&lt;script&gt;" in html and "javascript:" not in html
    assert str(statement_html(dataclasses.replace(ex, root=tmp_path / "none"))) == ""


@pytest.mark.parametrize(
    "variant, verdict",
    [("solution.py", "passed"), ("mutants/threads_for_cpu/solution.py", "failed")],
)
def test_speedup_exercise_records_timings_for_the_plot(variant, verdict):
    """pool_speedup's CPU-bound test records wall times at 1 and 2 workers, the submission's
    and the reference's, whatever its verdict; the feedback page draws them."""
    from grader.course import load_course
    from grader.grade import grade_submission
    from grader.portal import plots

    course = load_course(ROOT)
    exercise = course.exercise("pool_speedup")
    result = grade_submission(
        course,
        exercise,
        ROOT / "solutions" / "pool_speedup" / variant,
        backend="local",
        only=["test_cpu_bound_processes_in_parallel"],
    )
    [test] = result.tests
    assert test.verdict == verdict, test.message
    points = plots.speedup_points(test.details)
    assert [p["workers"] for p in points] == [1, 2], test.details
    assert all(p["seconds"] > 0 and p["reference"] > 0 for p in points), points
    svg = plots.speedup(points)
    assert svg.count("<polyline") == 2 and "your code" in svg and "reference" in svg


def test_platform_failure_is_not_graded_then_retried_at_restart(tmp_path):
    """Hidden tests that cannot load are the platform's fault: not graded, never 0."""
    passwords = make_course(tmp_path)
    broken = tmp_path / "exercises" / SLUG / "tests" / "hidden" / "test_zz_broken.py"
    broken.write_text("import no_such_module_anywhere\n")
    first = Server(tmp_path, jobs=1)
    try:
        alice = sign_in(first.url, "alice", passwords["alice"])
        sid = submission_id(upload(alice, first.url, "solution.py", FIXED.read_bytes()))
        _, reply = wait_graded(alice, first.url, sid)
        assert reply == {"status": "not graded yet", "score": None, "max": None}
        page = alice.get(attempt_url(first.url, sid), timeout=60).text
        assert "not your code" in page and "Next try:" in page and "grader error" not in page
    finally:
        first.stop()
    from grader.store import Store, store_url

    with Store(store_url(tmp_path)) as store:
        assert store.history(SLUG, "alice") == []
    broken.unlink()  # the instructor fixes the exercise and restarts the portal
    second = Server(tmp_path, jobs=1)
    try:
        alice = sign_in(second.url, "alice", passwords["alice"])
        _, reply = wait_graded(alice, second.url, sid)
        assert reply == {"status": "graded", "score": 10.0, "max": 10.0}
    finally:
        second.stop()


def test_secure_cookie_behind_a_trusted_tls_proxy(tmp_path):
    passwords = make_course(tmp_path)
    server = Server(tmp_path, 0, "--trusted-proxy", "127.0.0.1")
    try:
        cookies = {}
        for proto in ("https", "http"):
            page = requests.get(
                server.url + "/login", headers={"X-Forwarded-Proto": proto}, timeout=60
            )
            # a Secure cookie is not sent back over this plain connection: hand it over as
            # the browser would over https
            r = requests.post(
                server.url + "/login",
                headers={"X-Forwarded-Proto": proto},
                cookies={"pgrader_login": page.cookies["pgrader_login"]},
                allow_redirects=False,
                timeout=60,
                data={
                    "username": "alice",
                    "password": passwords["alice"],
                    "csrf_token": token(page.text),
                },
            )
            assert r.status_code == 302
            cookies[proto] = r.headers["Set-Cookie"]
        assert "; Secure" in cookies["https"] and "; Secure" not in cookies["http"]
    finally:
        server.stop()
