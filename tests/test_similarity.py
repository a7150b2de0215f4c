"""`grader similarity`: copies found through renamed variables and reordered functions, honest
independent solutions and the skeleton/reference overlap not flagged, the store's records,
hostile files escaped, capped and odd submissions, and the instructor-only portal view (a real
`grader serve` in a real Chromium; a student gets 403).

Material: the sample class, the reference solutions, and `tests/similarity_class/` (honest
solutions written independently, and crafted copies; its README says who copied whom).
"""

from __future__ import annotations

import datetime as dt
import html.parser
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.course import load_course
from grader.recorded import raw_hash
from grader.similarity import compare
from grader.similarity.run import current_sources, flagged_pairs
from grader.similarity.sources import MAX_FILE, MAX_FILES, expected_overlap
from grader.store import Store
from grader.store.models import Audit, SimilarityPair, SimilarityRun

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")
MATERIAL = Path(__file__).parent / "similarity_class"
NOW = dt.datetime(2026, 9, 20, 10, tzinfo=dt.UTC)
HONEST_CEILING = 0.25  # honest pairs of this material are not flagged even at half the default
HOSTILE = (
    '"""</pre><script>window.pwned = 1</script><img src=x onerror="window.pwned=2">"""\n'
    "X = '</mark></code><script>alert(1)</script>'\n"
)
HOSTILE_NAME = "<script>alert(2)<"  # a folder name in the zip: a file's path is shown
MALLORY = """import threading
from concurrent.futures import ThreadPoolExecutor, wait


class SafeCounter:
    def __init__(self):
        self._cond = threading.Condition()
        self._amount = 0
        self._updates = 0

    def increment(self, k=1):
        with self._cond:
            self._amount = self._amount + k
            self._updates += 1
            self._cond.notify_all()

    def decrement(self, k=1):
        with self._cond:
            self._amount = self._amount - k
            self._updates += 1
            self._cond.notify_all()

    @property
    def value(self):
        with self._cond:
            return self._amount


def parallel_count(n_threads, n_increments):
    counter = SafeCounter()
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = [pool.submit(lambda: [counter.increment() for _ in range(n_increments)])
                   for _ in range(n_threads)]
        wait(futures)
    for f in futures:
        f.result()
    return counter.value
"""


def record(store: Store, slug: str, folders: list[Path]) -> None:
    for folder in folders:
        store.record_submission(
            folder.name.split(".")[0], slug, raw_hash(folder), NOW, 0, str(folder.resolve())
        )


def class_of(slug: str) -> list[Path]:
    return sorted(
        p
        for root in (ROOT / "sample_class" / slug, MATERIAL / slug)
        if root.is_dir()
        for p in root.iterdir()
        if p.is_dir()
    )


def similarity(
    store_file: Path | str, slug: str, *args: str, course: Path = ROOT
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GRADER, "--course", str(course), "similarity", slug, "--store", str(store_file), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def pairs_printed(stdout: str) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (a, b): (int(x), int(y))
        for a, b, x, y in re.findall(r"^  (\S+) & (\S+)\s+(\d+)% / (\d+)%", stdout, re.M)
    }


def all_pairs(store: Store, slug: str) -> dict[tuple[str, str], SimilarityPair]:
    run = store.similarity_run(slug)
    return {(p.student_a, p.student_b): p for p in store.similarity_pairs(run.id)}


@pytest.mark.parametrize(
    "slug, copied", [("mp_queue_fibonacci", ("olga", "pete")), ("locked_counter", ("vic", "wes"))]
)
def test_a_renamed_reordered_copy_is_flagged_and_honest_solutions_are_not(tmp_path, slug, copied):
    db = tmp_path / "grader.db"
    with Store(f"sqlite:///{db}") as store:
        record(store, slug, class_of(slug))
    out = tmp_path / "report.html"
    done = similarity(db, slug, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert pairs_printed(done.stdout).keys() == {copied}, done.stdout
    assert min(pairs_printed(done.stdout)[copied]) >= 70  # measured: 100/99 and 86/77
    n = len(class_of(slug))
    assert f"{n} current submissions, {n * (n - 1) // 2} pairs compared" in done.stdout
    with Store(f"sqlite:///{db}") as store:
        pairs = all_pairs(store, slug)
        assert len(pairs) == n * (n - 1) // 2
        for key, p in pairs.items():
            if key != copied:
                assert not compare.flagged(p, HONEST_CEILING), (key, p.score_a, p.score_b)
        p = pairs[copied]
        assert p.tokens_a >= compare.MIN_TOKENS and p.tokens_b >= compare.MIN_TOKENS
    page = out.read_text()
    assert f"{copied[0]} &amp; {copied[1]}" in page and "<mark>" in page


def test_the_skeleton_and_the_reference_do_not_flag_everyone(tmp_path):
    """The sample class derives from the reference, tara handed the reference in and uma the
    skeleton: with the expected overlap taken out no pair is even near; without it (the same
    fingerprints, no boilerplate) at least half the pairs would be flagged."""
    course = load_course(ROOT)
    for slug in ("locked_counter", "mp_queue_fibonacci"):
        ex = course.exercise(slug)
        with Store(f"sqlite:///{tmp_path / slug}.db") as store:
            record(store, slug, class_of(slug))
            subs = {s.student: s.source for s in current_sources(ex, store)}
        boilerplate = compare.boilerplate_hashes(
            expected_overlap([ex.skeleton, ex.solution_dir(course.root)])
        )
        derived = [
            s
            for s in subs
            if s not in {"olga", "pete", "quinn", "rosa", "sven", "vic", "wes", "xena", "ned"}
        ]  # ned: Latin-1 text
        assert len(derived) >= 4

        def matches(bp, subs=subs, derived=derived):
            prints = {s: compare.fingerprints(subs[s], bp) for s in derived}
            return [
                compare.compare(prints[a], prints[b]) for a in derived for b in derived if a < b
            ]

        assert not any(compare.flagged(m, HONEST_CEILING) for m in matches(boilerplate))
        without = matches(compare.boilerplate_hashes(expected_overlap([])))
        assert sum(compare.flagged(m, compare.THRESHOLD) for m in without) >= len(without) / 2


@pytest.mark.parametrize("how_many", [0, 1])
def test_fewer_than_two_submissions_is_a_clear_message_and_records_nothing(tmp_path, how_many):
    db = tmp_path / "grader.db"
    with Store(f"sqlite:///{db}") as store:
        record(store, "locked_counter", class_of("locked_counter")[:how_many])
    done = similarity(db, "locked_counter")
    assert done.returncode == 2
    assert f"locked_counter has {how_many} submission(s) in the store" in done.stderr
    assert "needs at least two" in done.stderr and "Traceback" not in done.stderr
    with Store(f"sqlite:///{db}") as store:
        assert store.similarity_run("locked_counter") is None


def test_a_bad_threshold_is_refused(tmp_path):
    done = similarity(tmp_path / "grader.db", "locked_counter", "--threshold", "50")
    assert done.returncode == 2 and "between 0 and 1" in done.stderr


class _Elements(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def hostile_class(folder: Path) -> list[Path]:
    """Mallory's own solution with hostile text, in a zip whose folder name is markup, and
    trent's copy of it: the pair is flagged and its files shown."""
    folder.mkdir()
    mallory = folder / "mallory.zip"
    with zipfile.ZipFile(mallory, "w") as z:
        z.writestr("solution.py", HOSTILE + MALLORY)
        z.writestr(f"{HOSTILE_NAME}/helper.py", HOSTILE + "def helper():\n    return 1\n")
    trent = folder / "trent"
    trent.mkdir()
    (trent / "solution.py").write_text(MALLORY.replace("_amount", "_sum") + HOSTILE)
    return [mallory, trent, MATERIAL / "locked_counter" / "xena"]


def assert_inert(page: str) -> None:
    """No element or handler from the students' text: all of it shown as text."""
    found = _Elements()
    found.feed(page)
    assert "script" not in found.tags and "img" not in found.tags and not found.handlers
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    assert "&lt;/mark&gt;&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(2)&lt;/helper.py" in page


def test_a_hostile_file_and_file_name_are_escaped_in_the_report(tmp_path):
    db = tmp_path / "grader.db"
    with Store(f"sqlite:///{db}") as store:
        record(store, "locked_counter", hostile_class(tmp_path / "class"))
    out = tmp_path / "report.html"
    done = similarity(db, "locked_counter", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert ("mallory", "trent") in pairs_printed(done.stdout)
    page = out.read_text()
    assert_inert(page)
    assert "Content-Security-Policy" in page and "script-src" not in page
    assert '"Segoe UI"' in page  # the inlined stylesheet (ours) is not escaped


def test_binary_huge_notebook_and_many_file_submissions(tmp_path):
    """A binary file is left out and a huge one cut, both named; a notebook's code cells are
    compared (a notebook copy of olga's code is flagged); a submission of many files is
    compared up to the cap (the required file first), the rest named; an unsafe zip and a
    deleted folder are not read, and said so."""
    olga = (MATERIAL / "mp_queue_fibonacci" / "olga" / "solution.py").read_text()
    subs = tmp_path / "class"
    (subs / "bin").mkdir(parents=True)
    (subs / "bin" / "solution.py").write_bytes(bytes(range(256)) * 64)
    (subs / "huge").mkdir()
    (subs / "huge" / "solution.py").write_text("x = 1\n" * (MAX_FILE // 3))
    (subs / "many").mkdir()
    for i in range(MAX_FILES + 20):
        (subs / "many" / f"part_{i:03}.py").write_text(f"def part_{i}():\n    return {i} * {i}\n")
    (subs / "many" / "solution.py").write_text(
        (MATERIAL / "mp_queue_fibonacci" / "sven" / "solution.py").read_text()
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("My answer"),
        nbformat.v4.new_code_cell(olga),
        nbformat.v4.new_code_cell("%timeit parallel_fib(range(20), 2)"),
    ]
    nbformat.write(nb, subs / "nora.ipynb")
    folders = [
        subs / "bin",
        subs / "huge",
        subs / "many",
        subs / "nora.ipynb",
        MATERIAL / "mp_queue_fibonacci" / "olga",
    ]
    with zipfile.ZipFile(subs / "zed.zip", "w") as z:  # zip slip: not read, and said so
        z.writestr("../../solution.py", olga)
    folders.append(subs / "zed.zip")
    db = tmp_path / "grader.db"
    with Store(f"sqlite:///{db}") as store:
        record(store, "mp_queue_fibonacci", folders)
        store.record_submission(
            "gone", "mp_queue_fibonacci", "0" * 64, NOW, 0, str(tmp_path / "deleted-since")
        )
    done = similarity(db, "mp_queue_fibonacci", "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    assert pairs_printed(done.stdout).keys() == {("nora", "olga")}, done.stdout
    assert "gone: not read: Nothing was handed in: deleted-since does not exist." in done.stdout
    assert "zed: not read: The archive was refused: member '../../solution.py'" in done.stdout
    assert "bin: solution.py: binary data, not compared" in done.stdout
    assert f"huge: solution.py: only its first {MAX_FILE:,} of" in done.stdout
    assert "many: part_119.py: over the limit of" in done.stdout  # solution.py first
    with Store(f"sqlite:///{db}") as store:
        run = store.similarity_run("mp_queue_fibonacci")
        assert len(run.sources["many"]["files"]) == MAX_FILES
        assert "solution.py" in run.sources["many"]["files"]
        assert len(run.sources["many"]["skipped"]) == 21
        assert len(run.sources["huge"]["files"]["solution.py"]) == MAX_FILE
        assert run.sources["bin"]["files"] == {}
        assert "parallel_fib" in run.sources["nora"]["files"]["nora.ipynb"]


def test_on_a_postgresql_store(tmp_path, postgres_url):
    """The migration and the run on PostgreSQL: the same pairs flagged."""
    with Store(postgres_url) as store:
        record(store, "mp_queue_fibonacci", class_of("mp_queue_fibonacci"))
    done = similarity(postgres_url, "mp_queue_fibonacci", "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    assert pairs_printed(done.stdout).keys() == {("olga", "pete")}
    with Store(postgres_url) as store:
        run = store.similarity_run("mp_queue_fibonacci")
        assert len(run.sources) == len(class_of("mp_queue_fibonacci"))
        assert [(p.student_a, p.student_b) for p in flagged_pairs(store, run)] == [("olga", "pete")]


def test_runs_and_pairs_are_kept_in_the_store(tmp_path):
    """Each run is kept (the newest shown), with both shares and token counts per pair, the
    same in every run (each CLI run is its own process), and audited."""
    db = tmp_path / "grader.db"
    slug = "locked_counter"
    with Store(f"sqlite:///{db}") as store:
        record(store, slug, class_of(slug))
    for threshold in ("0.5", "0.3"):
        done = similarity(db, slug, "--threshold", threshold, "--out", str(tmp_path / "r.html"))
        assert done.returncode == 0, done.stderr
    with Store(f"sqlite:///{db}") as store, Session(store.engine) as s:
        runs = list(s.scalars(select(SimilarityRun).order_by(SimilarityRun.created_at)))
        assert [r.threshold for r in runs] == [0.5, 0.3]
        assert store.similarity_run(slug).id == runs[1].id
        n = len(class_of(slug))
        for run in runs:
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(SimilarityPair)
                    .where(SimilarityPair.run_id == run.id)
                )
                == n * (n - 1) // 2
            )
        assert [(p.student_a, p.student_b) for p in flagged_pairs(store, runs[1])] == [
            ("vic", "wes")
        ]
        shares = [
            {
                (p.student_a, p.student_b): (p.score_a, p.score_b, p.tokens_a, p.tokens_b)
                for p in store.similarity_pairs(run.id)
            }
            for run in runs
        ]
        assert shares[0] == shares[1]  # stable hashes: two processes, the same shares
        trail = [a.detail for a in s.scalars(select(Audit).where(Audit.action == "similarity-run"))]
        assert len(trail) == 2 and "1 pair(s) at or above 30%" in trail[1]


# ---------------------------------------------------------------- the portal, end to end


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """`grader serve` on the portal tests' course (locked_counter, with its reference), a class
    recorded in its store with a flagged hostile pair, and a similarity run made by the CLI."""
    from test_portal import Server, make_course

    course = tmp_path_factory.mktemp("course")
    passwords = make_course(course)
    shutil.copytree(ROOT / "solutions" / "locked_counter", course / "solutions" / "locked_counter")
    folders = class_of("locked_counter") + hostile_class(course / "hostile")[:2]
    with Store(f"sqlite:///{course / 'grader.db'}") as store:
        record(store, "locked_counter", folders)
    done = similarity(
        course / "grader.db", "locked_counter", "--out", str(course / "report.html"), course=course
    )
    assert done.returncode == 0, done.stderr
    server = Server(course, 1)
    try:
        yield {"url": server.url, "passwords": passwords, "course": course}
    finally:
        server.stop()


def _sign_in(page, portal, login: str) -> None:
    page.goto(portal["url"] + "/login")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", portal["passwords"][login])
    page.click("button#login")
    page.wait_for_selector("button#logout")


@pytest.mark.slow
def test_instructor_sees_the_pairs_and_the_side_by_side_view(new_page, portal):
    shots = Path(os.environ.get("SCREENSHOTS_DIR") or portal["course"])
    shots.mkdir(parents=True, exist_ok=True)
    page = new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, portal, "prof")
    page.goto(f"{portal['url']}/instructor/exercises/locked_counter")
    page.click("a#similarity")
    rows = page.locator("table#similar-pairs tbody tr")
    assert [rows.nth(i).get_attribute("data-pair") for i in range(rows.count())] == [
        "mallory/trent",
        "vic/wes",
    ]
    page.screenshot(path=str(shots / "similarity-pairs.png"), full_page=True)

    page.fill("input#threshold", "10")  # a lower threshold: still no honest pair
    page.click("button#show")
    assert page.locator("table#similar-pairs tbody tr").count() == 2

    page.locator("tr[data-pair='vic/wes'] a.side-by-side").click()
    sides = page.locator("section.similar-side")
    assert sides.count() == 2 and sides.nth(0).get_attribute("data-student") == "vic"
    assert page.locator("pre.similar-code mark").count() >= 4
    assert "_Incrementer" in " ".join(sides.nth(0).locator("mark").all_inner_texts())
    page.screenshot(path=str(shots / "similarity-side-by-side.png"), full_page=True)

    page.go_back()
    page.locator("tr[data-pair='mallory/trent'] a.side-by-side").click()
    code = page.locator("section.similar-side[data-student=mallory] pre.similar-code").first
    assert "<script>window.pwned = 1</script>" in code.inner_text()
    assert page.evaluate(
        "() => window.pwned === undefined && "
        "document.querySelectorAll('main script, main img').length === 0"
    )
    assert_inert(page.inner_html("main"))  # the page's own script is in <head>
    assert not dialogs

    page.goto(f"{portal['url']}/instructor/exercises/locked_counter/similarity")
    page.click("button#run-similarity")  # a new run from the portal: the same pairs
    page.wait_for_selector("table#similar-pairs")
    assert page.locator("table#similar-pairs tbody tr").count() == 2
    with Store(f"sqlite:///{portal['course'] / 'grader.db'}") as store, Session(store.engine) as s:
        assert s.scalar(select(func.count()).select_from(SimilarityRun)) == 2
        assert store.similarity_run("locked_counter").actor == "prof (portal)"


@pytest.mark.slow
def test_a_student_never_sees_any_of_it(portal):
    from test_portal import sign_in, token

    base = portal["url"]
    alice = sign_in(base, "alice", portal["passwords"]["alice"])
    with Store(f"sqlite:///{portal['course'] / 'grader.db'}") as store:
        run = store.similarity_run("locked_counter")
        pair = store.similarity_pairs(run.id)[0]
    prefix = f"{base}/instructor/exercises/locked_counter/similarity"
    for url in (
        prefix,
        f"{prefix}?threshold=1",
        f"{prefix}/pairs/{pair.id}",
        f"{base}/instructor/exercises/nope/similarity/pairs/{pair.id}",
    ):
        r = alice.get(url, timeout=60)
        assert r.status_code == 403 and "for instructors" in r.text, url
        assert "similar-code" not in r.text and "mallory" not in r.text
    page = alice.get(f"{base}/exercises/locked_counter", timeout=60).text
    r = alice.post(prefix, data={"csrf_token": token(page)}, timeout=60)
    assert r.status_code == 403
    for path in ("/", "/exercises/locked_counter"):
        assert "similarity" not in alice.get(base + path, timeout=60).text.lower()
    anonymous = requests.get(f"{prefix}/pairs/{pair.id}", timeout=60, allow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    prof = sign_in(base, "prof", portal["passwords"]["prof"])
    assert prof.get(f"{prefix}/pairs/999999", timeout=60).status_code == 404
