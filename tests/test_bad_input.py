"""Bad input: every broken submission gets a clear reason and a 0; the batch goes on.

One batch directory holds a correct solution, a correct-but-very-loud solution and every kind
of broken hand-in; it is graded once (module-scoped fixture, local backend, 2 jobs) and then
once more after adding a new submission, to check that graded students are skipped.
"""

from __future__ import annotations

import csv
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_all
from grader.course import load_course
from grader.entries import GRADEBOOK_FIELDS

ROOT = Path(__file__).resolve().parents[1]
SLUG = "locked_counter"
REFERENCE = (ROOT / "solutions" / SLUG / "solution.py").read_text()
GRADER = ROOT / ".venv" / "bin" / "grader"

# One line of 100 bytes, 50_000 times: 5 MB on stdout at every import.
LOUD_PREFIX = (
    "import sys\nfor _i in range(50_000):\n    sys.stdout.write('spam ' * 19 + 'eggs\\n')\n"
)


def _zip(path: Path, members: dict[str, bytes | tuple[bytes, int]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o100644
            if isinstance(data, tuple):
                data, mode = data
            info.external_attr = mode << 16
            zf.writestr(info, data)


# student -> (words the reason must contain, case-insensitive)
REFUSED = {
    "missing_file": ["missing required file", "solution.py", "counter.py"],
    "misnamed_file": ["missing required file", "solution.py", "did you mean", "Solution.py"],
    "syntax_error": ["solution.py", "line 4", "expected ':'"],
    "not_utf8": ["solution.py", "not valid UTF-8", "line 2", "save the file as UTF-8"],
    "empty_dir": ["submission is empty", "contains no files"],
    "zip_dotdot": ["archive was refused", "../evil.py", "outside the submission folder"],
    "zip_absolute": ["archive was refused", "/tmp/solution.py", "outside the submission folder"],
    "zip_bomb": ["archive was refused", "zip bomb"],
    "zip_symlink": ["archive was refused", "symbolic link"],
    "symlink_outside": ["solution.py", "symbolic link", "hand in the file itself"],
}


def build_batch(folder: Path, outside: Path) -> None:
    folder.mkdir()
    # the good ones
    (folder / "correct.py").write_text(REFERENCE)
    (folder / "loud").mkdir()
    (folder / "loud" / "solution.py").write_text(LOUD_PREFIX + REFERENCE)
    # loud and broken: 5 MB of output, then the import fails: the output shows up, capped
    (folder / "loud_broken.py").write_text(LOUD_PREFIX + "raise RuntimeError('boom at import')\n")
    # the refused ones
    (folder / "missing_file").mkdir()
    (folder / "missing_file" / "counter.py").write_text(REFERENCE)
    (folder / "missing_file" / "notes.txt").write_text("my notes\n")
    (folder / "misnamed_file").mkdir()
    (folder / "misnamed_file" / "Solution.py").write_text(REFERENCE)
    (folder / "syntax_error.py").write_text(
        "import threading\n\nclass SafeCounter:\n    def increment(self, k=1)\n        pass\n"
    )
    (folder / "not_utf8.py").write_bytes(b"# compteur\n# \xe9t\xe9 2026\n" + REFERENCE.encode())
    (folder / "empty_dir").mkdir()
    _zip(folder / "zip_dotdot.zip", {"solution.py": REFERENCE.encode(), "../evil.py": b"x = 1\n"})
    _zip(folder / "zip_absolute.zip", {"/tmp/solution.py": REFERENCE.encode()})
    _zip(
        folder / "zip_bomb.zip", {"solution.py": REFERENCE.encode(), "data.txt": b"\0" * (8 << 20)}
    )
    _zip(folder / "zip_symlink.zip", {"solution.py": (b"/etc/passwd", 0o120777)})
    outside.mkdir()
    (outside / "solution.py").write_text(REFERENCE)
    (folder / "symlink_outside").mkdir()
    (folder / "symlink_outside" / "solution.py").symlink_to(outside / "solution.py")


def snapshot(out: Path) -> dict[str, dict]:
    """Per student: bytes and mtime of results.json and feedback.html."""
    snap = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir()):
        snap[d.name] = {
            name: ((d / name).read_bytes(), (d / name).stat().st_mtime_ns)
            for name in ("results.json", "feedback.html")
            if (d / name).exists()
        }
    return snap


@pytest.fixture(scope="module")
def course():
    return load_course(ROOT)


@pytest.fixture(scope="module")
def batch(tmp_path_factory, course):
    base = tmp_path_factory.mktemp("bad_input")
    subs, out = base / "submissions", base / "graded"
    build_batch(subs, base / "outside")
    exercise = course.exercise(SLUG)
    rows = grade_all(course, exercise, subs, out, backend="local", jobs=2, progress=False)
    results = {
        d.name: json.loads((d / "results.json").read_text())
        for d in out.iterdir()
        if (d / "results.json").exists()
    }
    with (out / "gradebook.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        fields, gradebook = reader.fieldnames, list(reader)
    return {
        "subs": subs,
        "out": out,
        "rows": rows,
        "results": results,
        "gradebook_fields": fields,
        "gradebook": gradebook,
        "snapshot": snapshot(out),
        "exercise": exercise,
    }


@pytest.fixture(scope="module")
def rerun(batch, course):
    """Add one new bad submission and grade the batch again, without regrade."""
    subs, out = batch["subs"], batch["out"]
    (subs / "late_comer.py").write_text(
        "def parallel_count(n_threads, n_increments)\n    return 0\n"
    )
    rows = grade_all(course, batch["exercise"], subs, out, backend="local", jobs=2, progress=False)
    return {"rows": rows, "snapshot": snapshot(out)}


ALL = {"correct", "loud", "loud_broken", *REFUSED}


def test_every_student_has_results_and_feedback(batch):
    assert {r.student for r in batch["rows"]} == ALL
    assert all(r.status == "graded" for r in batch["rows"]), [
        (r.student, r.status, r.problem) for r in batch["rows"]
    ]
    for name in ALL:
        folder = batch["out"] / name
        assert (folder / "results.json").is_file(), name
        assert (folder / "feedback.html").is_file(), name
        assert batch["results"][name]["pgrader"]["student"] == name
        assert batch["results"][name]["pgrader"]["sandbox"]["backend"] == "local"


def test_correct_solution_gets_full_marks(batch):
    res = batch["results"]["correct"]
    assert res["score"] == 10.0 and res["max_score"] == 10.0
    assert res["pgrader"]["error"] is None
    assert all(t["verdict"] == "passed" and t["status"] == "passed" for t in res["tests"])
    assert sum(t["max_score"] for t in res["tests"]) == pytest.approx(10.0)


def test_megabytes_of_output_are_graded_and_capped(batch):
    res = batch["results"]["loud"]
    assert res["score"] == 10.0, [(t["name"], t["verdict"], t["message"]) for t in res["tests"]]
    raw = (batch["out"] / "loud" / "results.json").read_bytes()
    assert len(raw) < 200_000  # nothing close to the 5 MB printed per request
    html = (batch["out"] / "loud" / "feedback.html").read_bytes()
    assert len(html) < 1_000_000


def test_megabytes_of_output_of_a_broken_import_are_capped(batch, course):
    res = batch["results"]["loud_broken"]
    assert res["score"] == 0
    limit = course.exercise(SLUG).limits.output_kb * 1024
    for t in res["tests"]:
        assert t["verdict"] == "error", t
        assert "could not be imported" in t["message"] and "boom at import" in t["message"]
        stdout = t["details"].get("stdout", "")
        assert stdout.startswith("spam spam")  # the student sees what they printed...
        assert len(stdout.encode()) <= limit  # ...but only the first output_kb of it
    size = (batch["out"] / "loud_broken" / "results.json").stat().st_size
    assert size < len(res["tests"]) * (limit + 20_000)
    assert (batch["out"] / "loud_broken" / "feedback.html").stat().st_size < 2_000_000


@pytest.mark.parametrize("student", sorted(REFUSED))
def test_refused_submission_scores_zero_with_a_reason(batch, student):
    res = batch["results"][student]
    reason = res["pgrader"]["error"]
    assert res["score"] == 0 and res["pgrader"]["raw_score"] == 0
    assert reason, f"{student}: no reason given"
    for words in REFUSED[student]:
        assert words.lower() in reason.lower(), f"{student}: {words!r} not in {reason!r}"
    assert "Traceback" not in reason
    # one test stands for the refusal; Gradescope sees it failed, with the reason as its output
    [test] = res["tests"]
    assert test["verdict"] == "error" and test["status"] == "failed"
    assert test["output"] == reason and test["score"] == 0
    assert reason in res["output"]
    html = (batch["out"] / student / "feedback.html").read_text()
    first_words = REFUSED[student][-1]
    assert first_words.lower() in html.lower().replace("&#39;", "'").replace("&#x27;", "'")


def test_gradebook_has_one_row_per_student(batch):
    assert batch["gradebook_fields"] == GRADEBOOK_FIELDS
    assert GRADEBOOK_FIELDS == [
        "student",
        "score",
        "max",
        "late_days",
        "penalty",
        "final",
        "status",
    ]
    rows = {r["student"]: r for r in batch["gradebook"]}
    assert len(batch["gradebook"]) == len(rows) == len(ALL)
    assert set(rows) == ALL
    assert rows["correct"]["score"] == "10" and rows["correct"]["final"] == "10"
    assert rows["correct"]["status"] == "graded" and rows["correct"]["max"] == "10"
    assert rows["loud"]["final"] == "10"
    for name in REFUSED:
        assert rows[name]["final"] == "0" and rows[name]["score"] == "0", rows[name]
        assert rows[name]["status"].startswith("refused: "), rows[name]
        assert rows[name]["status"] == "refused: " + batch["results"][name]["pgrader"]["error"]


def test_rerun_skips_graded_students_and_grades_the_new_one(batch, rerun):
    before, after = batch["snapshot"], rerun["snapshot"]
    assert set(after) == set(before) | {"late_comer"}
    for name, files in before.items():
        assert after[name] == files, f"{name}'s outputs changed on a rerun without --regrade"
    status = {r.student: r.status for r in rerun["rows"]}
    assert status.pop("late_comer") == "graded"
    assert set(status.values()) == {"skipped"}
    new = json.loads(after["late_comer"]["results.json"][0])
    assert new["score"] == 0 and "line 1" in new["pgrader"]["error"]
    with (batch["out"] / "gradebook.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student"] for r in rows) == sorted(ALL | {"late_comer"})
    assert {r["student"]: r["final"] for r in rows}["correct"] == "10"


@pytest.mark.parametrize("submission", ["x", "correct.py"])
def test_unknown_exercise_slug_is_a_clear_cli_error(tmp_path, submission):
    (tmp_path / "correct.py").write_text(REFERENCE)
    path = submission if submission == "x" else str(tmp_path / submission)
    proc = subprocess.run(
        [
            str(GRADER),
            "grade",
            "no_such_slug",
            path,
            "--backend",
            "local",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "no_such_slug" in proc.stderr
    assert SLUG in proc.stderr  # names the known slugs
    assert proc.stderr.startswith("grader: ") and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


FORGER = (
    REFERENCE
    + """
import os, stat
for _fd in range(3, 256):  # garbage down every socket: a frame claiming 2 GB, then junk
    try:
        if stat.S_ISSOCK(os.fstat(_fd).st_mode):
            os.write(_fd, b"R\\x7f\\xff\\xff\\xff" + b"[" * 100000)
    except OSError:
        pass
"""
)


def test_a_forged_report_is_the_students_fault_not_the_platforms(tmp_path, course):
    """Junk written into the agent's line to the supervisor (an oversized frame, unsigned
    bytes) is the student's crash, with a message that says so; never the platform's."""
    from grader.grade import grade_submission

    (tmp_path / "forger.py").write_text(FORGER)
    result = grade_submission(
        course, course.exercise(SLUG), tmp_path / "forger.py", backend="local", suites=("public",)
    )
    assert not result.platform_failed, [(t.verdict, t.message) for t in result.tests]
    assert {t.verdict for t in result.tests} == {"crashed"}, [
        (t.verdict, t.message) for t in result.tests
    ]
    assert all("could not be believed" in t.message for t in result.tests), result.tests[0].message
