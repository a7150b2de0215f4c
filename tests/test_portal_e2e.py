"""The portal end to end, in a real headless Chromium against a real `grader serve`.

One server (local backend, the HTTP tests' temporary course holding `locked_counter`, accounts
imported from a roster) serves one story, step by step: a student uploads a racy counter and
sees the race verdict and its seed appear without reloading, then the reference and full
marks; another student forging her submission id gets 404 and hands in an nbgrader notebook;
the instructor sees the dashboard and downloads the gradebook. Screenshots of the exercise
page, the feedback pages and the dashboard go to `$SCREENSHOTS_DIR` (default: a temporary folder;
`SCREENSHOTS_DIR=docs/screenshots` refreshes the docs).
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect

from nbgrader_notebook import source_notebook, write_notebook
from test_portal import FIXED, RACY, SLUG, Server, make_course

GRADING_MS = 300_000              # one local grading, on a machine that may be loaded 10x

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """`grader serve` on the HTTP tests' course (`test_portal.make_course`): URL, passwords."""
    course = tmp_path_factory.mktemp("course")
    passwords = make_course(course)
    server = Server(course, 2)
    try:
        yield {"url": server.url, "passwords": passwords}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def story() -> dict:
    """What one step learns and a later step checks (submission ids, scores)."""
    return {}


def sign_in(page, portal, login: str) -> None:
    page.goto(portal["url"] + "/login")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", portal["passwords"][login])
    page.click("button#login")
    page.wait_for_selector("button#logout")


def submit(page, portal, path: Path) -> str:
    """Upload `path` for the exercise; the new submission's id (from the history table)."""
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    before = set(page.locator("table#history tr[data-submission]").evaluate_all(
        "rows => rows.map(r => r.dataset.submission)"))
    page.set_input_files("form#upload input[type=file][name=submission]", str(path))
    page.click("form#upload button#submit")
    page.wait_for_load_state()
    match = re.search(r"/submissions/([^/?#]+)", page.url)
    if match:
        return match.group(1)
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    ids = page.locator("table#history tr[data-submission]").evaluate_all(
        "rows => rows.map(r => r.dataset.submission)")
    new = [i for i in ids if i not in before]
    assert len(new) == 1, (before, ids)
    return new[0]


def watch_until_graded(page, portal, submission: str) -> None:
    """Open the feedback page and wait for `#status` to become `graded` with no navigation."""
    page.goto(f"{portal['url']}/submissions/{submission}")
    assert page.locator("#status").inner_text().strip() in {"queued", "running", "graded"}
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url)
            if frame == page.main_frame else None)
    expect(page.locator("#status")).to_have_text("graded", timeout=GRADING_MS)
    assert not navigations, f"the page reloaded: {navigations}"
    expect(page.locator("#score")).to_be_visible()


def assert_full_marks(page) -> None:
    score = page.locator("#score").inner_text().strip()
    assert re.fullmatch(r"10(\.0+)?\s*/\s*10(\.0+)?", score), score
    verdicts = page.locator("tr.test").evaluate_all("rows => rows.map(r => r.dataset.verdict)")
    assert verdicts and set(verdicts) == {"passed"}, verdicts


def test_wrong_password_shows_an_error(new_page, portal):
    page = new_page()
    page.goto(portal["url"] + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not-her-password")
    page.click("button#login")
    assert page.locator("#error").is_visible()
    assert page.locator("button#logout").count() == 0


def test_student_sees_the_race_with_its_seed(new_page, portal, shots, story):
    page = new_page()
    sign_in(page, portal, "alice")
    row = page.locator(f"table#exercises tr[data-slug={SLUG}]")
    assert row.count() == 1 and "2099" in row.inner_text()
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    bundle = page.request.get(urljoin(page.url, page.locator("a#bundle").get_attribute("href")))
    assert bundle.status == 200
    names = zipfile.ZipFile(io.BytesIO(bundle.body())).namelist()
    assert any(n.endswith("solution.py") for n in names)
    assert not any("hidden" in n for n in names), names
    statement = page.locator("div.markdown")  # the README rendered, its code as code
    assert statement.locator("h2").count() >= 2 and statement.locator("pre code").count() >= 1
    page.screenshot(path=str(shots / "exercise.png"), full_page=True)

    story["racy"] = submit(page, portal, RACY)
    watch_until_graded(page, portal, story["racy"])
    races = page.locator("tr.test[data-verdict=race]")
    assert races.count() >= 1
    assert len(races.first.inner_text().strip()) > 20, "a race verdict without its message"
    seed = page.locator("tr.test[data-verdict=race] .seed").first.inner_text()
    assert re.search(r"\d{3,}", seed), seed
    score = page.locator("#score").inner_text()
    got, out_of = (float(x) for x in re.findall(r"[\d.]+", score)[:2])
    assert out_of == 10 and got < 10, score
    page.screenshot(path=str(shots / "feedback-race.png"), full_page=True)


def test_fixed_counter_gets_full_marks(new_page, portal, shots, story):
    page = new_page()
    sign_in(page, portal, "alice")
    story["fixed"] = submit(page, portal, FIXED)
    watch_until_graded(page, portal, story["fixed"])
    assert_full_marks(page)
    page.screenshot(path=str(shots / "feedback-passed.png"), full_page=True)
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    history = page.locator("table#history tr[data-submission]").evaluate_all(
        "rows => rows.map(r => r.dataset.submission)")
    assert history[:2] == [story["fixed"], story["racy"]]                 # newest first
    page.goto(portal["url"] + "/")
    assert "10" in page.locator(f"tr[data-slug={SLUG}] td.score").inner_text()


def test_another_student_cannot_see_it_and_hands_in_a_notebook(new_page, portal, story,
                                                               tmp_path):
    page = new_page()
    sign_in(page, portal, "bob")
    for path in (f"/submissions/{story['racy']}", f"/api/submissions/{story['racy']}"):
        response = page.goto(portal["url"] + path)
        assert response.status == 404, path
        assert "SafeCounter" not in page.content() and "alice" not in page.content()
    page.goto(f"{portal['url']}/exercises/{SLUG}")
    assert page.locator("table#history tr[data-submission]").count() == 0

    notebook = write_notebook(source_notebook(), tmp_path / "counter.ipynb")
    story["notebook"] = submit(page, portal, notebook)
    watch_until_graded(page, portal, story["notebook"])
    assert_full_marks(page)


def test_instructor_dashboard_and_gradebook(new_page, portal, shots, story):
    page = new_page()
    sign_in(page, portal, "prof")
    page.goto(portal["url"] + "/instructor")
    assert page.locator("#queue").count() == 1
    page.goto(f"{portal['url']}/instructor/exercises/{SLUG}")
    for hook in ("svg.distribution", "svg.failures", "table#students", "button#regrade"):
        assert page.locator(hook).count() == 1, hook
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

    with page.expect_download() as info:
        page.click("a.export[data-format=gradebook]")
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(Path(info.value.path()).read_text()))}
    assert float(rows["alice"]["final"]) == 10 and float(rows["bob"]["final"]) == 10, rows

    page.locator("table#students a", has_text="alice").first.click()
    page.wait_for_load_state()
    for submission in (story["racy"], story["fixed"]):
        assert page.locator(f"a[href$='/submissions/{submission}']").count() >= 1, submission
    response = page.goto(f"{portal['url']}/submissions/{story['racy']}")
    assert response.status == 200
    assert page.locator("tr.test[data-verdict=race]").count() >= 1
