"""The portal end to end, in a real headless Chromium against a real `grader serve`.

One server (local backend, the HTTP tests' temporary course holding `locked_counter`, whose
public tests here include a race check, as a course may choose; accounts imported from a
roster) serves one story, step by step: a student uploads a racy counter and sees the race,
its one seed and the racing line in her file appear without reloading; the replay command
copied from that page, run in the starter bundle she downloaded (the checker installed from
its wheels into a fresh venv, without network), gives the same verdict and the same lost
updates; the reference gets full marks; the racy file again (the same bytes) becomes the
attempt that counts; another student cannot name her attempts, hands in a notebook, then a
binary file renamed .py, which is refused in plain words; the instructor sees the dashboard,
downloads the gradebook, regrades (the regrade appears in the attempt's history, old and new
score), grants an extension with a comment (the student sees it); a student changes her
password. Screenshots of every page go to `$SCREENSHOTS_DIR` (default: a temporary folder;
`SCREENSHOTS_DIR=docs/screenshots` refreshes the docs).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect

from nbgrader_notebook import source_notebook, write_notebook
from test_portal import FIXED, RACY, SLUG, Server, make_course
from test_release import install_checker, offline

GRADING_MS = 300_000  # one local grading, on a machine that may be loaded 10x
PUBLIC_RACE = '''"""A public race check: this course lets students see a lost update on their machine."""

from grader.testing import expect_no_lost_update


def test_no_lost_update_public(student, seed):
    """No update is lost when threads are switched mid-statement (public check)"""
    got = student.call("parallel_count", 3, 200, checks={"schedule": {"seed": seed}})
    expect_no_lost_update(got, 600, "parallel_count(3, 200)", student.last,
                          hint="Hold the counter's lock around the whole read-modify-write.")
'''

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """`grader serve` on the HTTP tests' course (`test_portal.make_course`) with a public race
    test: URL, passwords, course folder."""
    course = tmp_path_factory.mktemp("course")
    passwords = make_course(course, {"test_public_race.py": PUBLIC_RACE})
    server = Server(course, 2)
    try:
        yield {"url": server.url, "passwords": passwords, "course": course}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def story() -> dict:
    """What one step learns and a later step checks (attempt numbers, the replay command)."""
    return {}


def sign_in(page, portal, login: str, password: str | None = None) -> None:
    page.goto(portal["url"] + "/login")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", password or portal["passwords"][login])
    page.click("button#login")
    page.wait_for_selector("button#logout")


def submit(page, portal, path: Path) -> int:
    """Upload `path` for the exercise; the new attempt's number (the page it lands on)."""
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    page.set_input_files("form#upload input[type=file][name=submission]", str(path))
    page.click("form#upload button#submit")
    page.wait_for_load_state()
    return int(re.search(rf"/exercises/{SLUG}/attempts/(\d+)$", page.url).group(1))


def watch_until(page, state: str = "graded") -> None:
    """On an attempt's page, wait for `#status` to become `state` with no navigation."""
    assert page.locator("#status").inner_text().strip() in {"queued", "running", state}
    navigations = []
    page.on(
        "framenavigated",
        lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
    )
    expect(page.locator("#status")).to_have_text(state, timeout=GRADING_MS)
    assert not navigations, f"the page reloaded: {navigations}"


def score(page) -> tuple[float, float]:
    got, out_of = (float(x) for x in re.findall(r"[\d.]+", page.locator("#score").inner_text())[:2])
    return got, out_of


def test_wrong_password_shows_an_error(new_page, portal):
    page = new_page()
    page.goto(portal["url"] + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not-her-password")
    page.click("button#login")
    assert page.locator("#error").is_visible()
    assert page.locator("button#logout").count() == 0


def test_student_sees_the_race_its_seed_and_the_racing_line(new_page, portal, shots, story):
    page = new_page()
    sign_in(page, portal, "alice")
    row = page.locator(f"table#exercises tr[data-slug={SLUG}]")
    assert row.count() == 1 and "2099" in row.inner_text()
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    statement = page.locator("div.markdown")  # the README rendered, its code as code
    assert statement.locator("h2").count() >= 2 and statement.locator("pre code").count() >= 1

    story["racy"] = submit(page, portal, RACY)
    assert story["racy"] == 1  # her own numbering
    watch_until(page)
    races = page.locator("tr.test[data-verdict=race]")
    assert races.count() >= 2
    public = page.locator("tr.test[data-verdict=race][data-suite=public]")
    assert public.count() == 1
    story["portal_message"] = public.locator(".msg").inner_text()
    assert page.locator(".seed").count() == 1  # one seed on the page: the run's
    seed = page.locator(".seed").inner_text()
    command = page.locator("#replay-command").inner_text()
    assert command == f"grader check {SLUG} --seed {seed}", command
    story["command"] = command
    # backticks as code, never raw; the racing line highlighted in her own file, linked
    assert page.locator("ol.interleaving code").first.inner_text() == "self._value += k"
    assert "`" not in page.locator("ol.interleaving").first.inner_text()
    racing = page.locator("div.source tr.race")
    assert racing.count() >= 1 and "self._value += k" in racing.first.inner_text()
    link = page.locator("tr.test[data-verdict=race] a[href^='#f0-L']").first
    link.click()
    assert page.evaluate("location.hash") == link.get_attribute("href")
    got, out_of = score(page)
    assert out_of == 10 and got < 10
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "feedback-race.png"), full_page=True)


def test_the_replay_command_from_the_bundle_gives_the_same_verdict(
    new_page, portal, story, tmp_path
):
    """The starter bundle downloaded from the portal, the checker installed from its wheels
    into a fresh venv without network, the command copied from the feedback page: the same
    race, the same value returned (the same interleaving)."""
    page = new_page()
    sign_in(page, portal, "alice")
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    bundle = page.request.get(
        urljoin(page.url, page.locator("a#bundle").get_attribute("href")), timeout=300_000
    )
    assert bundle.status == 200
    archive = zipfile.ZipFile(io.BytesIO(bundle.body()))
    assert not any("hidden" in n for n in archive.namelist())
    assert any(n.endswith(".whl") and "/wheels/pgrader-" in n for n in archive.namelist())
    archive.extractall(tmp_path)
    folder = tmp_path / SLUG
    venv = install_checker(folder, tmp_path / "venv")
    shutil.copy(RACY, folder / "solution.py")
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}  # activated
    proc = subprocess.run(
        offline(shlex.split(story["command"])),
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 1 and "Traceback" not in out + proc.stderr, out + proc.stderr
    [line] = [i for i, text in enumerate(out.splitlines()) if "(public check)" in text]
    assert "[    RACE]" in out.splitlines()[line], out
    portal_got = re.search(r"returned (\d+), expected 600", story["portal_message"]).group(1)
    assert f"parallel_count(3, 200) returned {portal_got}, expected 600" in out, (out, portal_got)


def test_fixed_counter_gets_full_marks(new_page, portal, shots, story):
    page = new_page()
    sign_in(page, portal, "alice")
    story["fixed"] = submit(page, portal, FIXED)
    watch_until(page)
    assert score(page) == (10, 10)
    verdicts = page.locator("tr.test").evaluate_all("rows => rows.map(r => r.dataset.verdict)")
    assert verdicts and set(verdicts) == {"passed"}, verdicts
    assert page.locator("#replay-command").count() == 0  # nothing failed: nothing to replay
    page.screenshot(path=str(shots / "feedback-passed.png"), full_page=True)


def test_the_same_file_again_becomes_the_attempt_that_counts(new_page, portal, shots, story):
    """The racy file once more, byte for byte: a new attempt, graded, and (latest counts) the
    one that counts, though an earlier attempt scored more."""
    page = new_page()
    sign_in(page, portal, "alice")
    story["again"] = submit(page, portal, RACY)
    assert story["again"] == 3
    watch_until(page)
    expect(page.locator("h1 .counts")).to_have_text("counts")
    again = score(page)
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    rows = page.locator("table#attempts tr[data-attempt]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.attempt)") == ["3", "2", "1"]
    counted = page.locator("table#attempts tr.counted")
    assert counted.count() == 1 and counted.get_attribute("data-attempt") == "3"
    times = rows.evaluate_all("rows => rows.map(r => r.cells[1].textContent)")
    assert len(set(times)) == 3, times  # each its own received time, to the second
    assert "from attempt 3" in page.locator("#standing").inner_text()
    page.goto(portal["url"] + "/")
    assert page.locator(f"tr[data-slug={SLUG}] td.score").inner_text() == f"{again[0]:g} / 10"
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    page.screenshot(path=str(shots / "exercise.png"), full_page=True)


def test_another_student_cannot_name_her_attempts_and_a_binary_file_is_refused(
    new_page, portal, shots, tmp_path
):
    page = new_page()
    sign_in(page, portal, "bob")
    for path in (
        f"/exercises/{SLUG}/attempts/1",
        f"/api/exercises/{SLUG}/attempts/1",
        f"/instructor/exercises/{SLUG}/students/alice/attempts/1",
    ):
        response = page.goto(portal["url"] + path)
        assert response.status in (403, 404), path
        assert "SafeCounter" not in page.content() and "Alice" not in page.content()
    notebook = write_notebook(source_notebook(), tmp_path / "counter.ipynb")
    assert submit(page, portal, notebook) == 1
    watch_until(page)
    assert score(page) == (10, 10)

    binary = tmp_path / "solution.py"  # a zip renamed .py
    with zipfile.ZipFile(binary, "w") as z:
        z.writestr("solution.py", FIXED.read_text())
    assert submit(page, portal, binary) == 2
    watch_until(page, "refused")
    box = page.locator("#refused")
    assert "Refused" in box.inner_text() and "solution.py is not a text file" in box.inner_text()
    assert "Hand in the Python source file" in box.inner_text() and "UTF-8" not in box.inner_text()
    text = page.locator("main").inner_text()
    assert page.locator("#status").inner_text() == "refused" and "State: refused" in text
    assert page.locator(".status.graded").count() == 0  # never called graded
    assert "does not count: your latest graded attempt, attempt 1, does" in text
    for wrong in ("Not graded", "Submission accepted", "Error"):
        assert wrong not in text, wrong
    assert page.locator("#tests").count() == 0 and score(page) == (0, 10)
    page.screenshot(path=str(shots / "refused.png"), full_page=True)


def test_instructor_dashboard_gradebook_and_regrade_in_the_history(new_page, portal, shots, story):
    page = new_page()
    sign_in(page, portal, "prof")
    page.goto(portal["url"] + "/instructor")
    assert page.locator("#queue").count() == 1
    page.goto(f"{portal['url']}/instructor/exercises/{SLUG}")
    for hook in ("svg.distribution", "svg.failures", "table#students", "button#regrade"):
        assert page.locator(hook).count() == 1, hook
    assert re.search(r"\d+% \(\d+ of \d+\)", page.locator("svg.failures").inner_html())
    assert re.search(r"2 of 3 students graded \(67%\)", page.locator("#summary").inner_text())
    with page.expect_download() as info:
        page.click("a.export[data-format=gradebook]")
    rows = {
        r["student"]: r for r in csv.DictReader(io.StringIO(Path(info.value.path()).read_text()))
    }
    assert rows["alice"]["attempt"] == "3" and rows["alice"]["name"] == "Alice Archer"
    assert rows["carol"]["status"] == "not handed in yet"

    page.click("button#regrade")
    page.wait_for_load_state()
    assert "queued for regrading" in page.locator(".notice").inner_text()
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    page.goto(
        f"{portal['url']}/instructor/exercises/{SLUG}/students/alice/attempts/{story['again']}"
    )
    expect(page.locator("#history tr[data-what=regraded]")).to_have_count(1, timeout=GRADING_MS)
    history = page.locator("#history tbody tr")
    assert history.count() == 2
    assert history.nth(1).get_attribute("class") == "current"
    first = history.nth(0).locator("td").nth(2).inner_text()
    second = history.nth(1).locator("td").nth(2).inner_text()
    assert re.fullmatch(r"[\d.]+ / 10", first) and second.endswith(" / 10")
    assert second == first or second.startswith(first + " → "), (first, second)
    page.screenshot(path=str(shots / "attempt-history.png"), full_page=True)


def test_extension_with_a_comment_shown_to_the_student(new_page, portal, shots):
    page = new_page()
    sign_in(page, portal, "prof")
    page.goto(f"{portal['url']}/instructor/exercises/{SLUG}/students/bob")
    form = page.locator("#extension form").first
    form.locator("input[name=due]").fill("2100-01-15T12:00")
    form.locator("input[name=comment]").fill("Hospital stay, certificate seen")
    form.locator("button#grant").click()
    page.wait_for_load_state()
    assert "2100-01-15 12:00 UTC" in page.locator("#extension").inner_text()
    assert page.locator("#trail tr[data-action=extension-set]").count() == 1
    page.screenshot(path=str(shots / "student.png"), full_page=True)

    bob = new_page()
    sign_in(bob, portal, "bob")
    row = bob.locator(f"tr[data-slug={SLUG}] td.due")
    assert "2100-01-15 12:00 UTC" in row.inner_text() and "your extension" in row.inner_text()
    bob.goto(f"{portal['url']}/exercises/{SLUG}")
    assert "(your extension: Hospital stay, certificate seen)" in bob.locator("main").inner_text()


def test_password_change(new_page, portal, shots):
    page = new_page()
    sign_in(page, portal, "carol")
    page.click("a#account")
    page.fill("input[name=current]", portal["passwords"]["carol"])
    page.fill("input[name=new]", "carol-new-pass-2")
    page.fill("input[name=repeat]", "carol-new-pass-2")
    page.click("button#change")
    expect(page.locator("#done")).to_be_visible()
    page.screenshot(path=str(shots / "password.png"), full_page=True)
    page.click("button#logout")
    other = new_page()
    other.goto(portal["url"] + "/login")
    other.fill("input[name=username]", "carol")
    other.fill("input[name=password]", portal["passwords"]["carol"])
    other.click("button#login")
    assert other.locator("#error").is_visible()
    sign_in(other, portal, "carol", "carol-new-pass-2")


def test_a_waiting_attempt_is_polled_less_and_less_often_in_the_courses_time_zone(
    new_page, tmp_path
):
    """With no grading thread (a deadline's queue), the attempt page asks for its state after
    1 s, then less and less often (x1.25 each time, up to 5 s) instead of every second, and
    never reloads; its time is the attempt list's, in the course's time zone."""
    passwords = make_course(tmp_path)
    toml = tmp_path / "course.toml"
    toml.write_text(
        toml.read_text().replace(
            'backend = "local"\n', 'backend = "local"\ntimezone = "America/New_York"\n'
        )
    )
    server = Server(tmp_path, 0)
    try:
        portal = {"url": server.url, "passwords": passwords}
        page = new_page()
        sign_in(page, portal, "alice")
        polls: list[float] = []
        page.on(
            "request",
            lambda r: (
                polls.append(time.monotonic())
                if f"/api/exercises/{SLUG}/attempts/" in r.url
                else None
            ),
        )
        number = submit(page, portal, FIXED)
        navigations = []
        page.on(
            "framenavigated",
            lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
        )
        page.wait_for_timeout(16_000)
        assert page.locator("#status").inner_text().strip() == "queued" and not navigations
        gaps = [round(b - a, 2) for a, b in zip(polls, polls[1:])]
        assert 4 <= len(polls) <= 8, gaps  # every second would be 15
        assert all(b > a - 0.3 for a, b in zip(gaps, gaps[1:])), gaps
        assert gaps[0] < 2 and gaps[-1] > 2.5, gaps
        received = page.locator("#received").inner_text()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? E[SD]T", received), received
        page.goto(f"{server.url}/exercises/{SLUG}")
        assert received in page.locator(f"tr[data-attempt='{number}']").inner_text()
    finally:
        server.stop()
