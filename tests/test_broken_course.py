"""A course whose tests are broken is the platform's fault: the submission is not graded, never
"0 of 0 tests passed" (a hidden test file that fails to import once scored every student 0/10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.course import load_course
from grader.grade import GradingFailed, grade_submission
from store_class import GOOD, make_class, make_course

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def course_root(tmp_path):
    return make_course(tmp_path / "course")


def _grade(root: Path, tmp_path: Path, **kw):
    course = load_course(root)
    src = tmp_path / "alice.py"
    src.write_text(GOOD.format(slow=0))
    return grade_submission(course, course.exercise("tiny"), src, backend="local", **kw)


def test_the_tiny_course_grades_normally(course_root, tmp_path):
    result = _grade(course_root, tmp_path)
    assert [t.verdict for t in result.tests] == ["passed"] * 3


def test_hidden_tests_that_fail_to_import_are_not_graded(course_root, tmp_path):
    hidden = course_root / "exercises" / "tiny" / "tests" / "hidden"
    (hidden / "test_broken.py").write_text(
        "import no_such_helper_module\n\ndef test_x(student):\n    pass\n"
    )
    with pytest.raises(GradingFailed) as info:
        _grade(course_root, tmp_path)
    text = str(info.value)
    assert text.startswith("alice: ")
    assert "could not be loaded" in text and "not in the submission" in text
    assert "test_broken.py" in text and "no_such_helper_module" in text


def test_an_exercise_without_any_test_is_not_graded(course_root, tmp_path):
    tests = course_root / "exercises" / "tiny" / "tests"
    for f in tests.rglob("test_*.py"):
        f.write_text("# tests to be written\n")
    with pytest.raises(GradingFailed, match="no tests were found"):
        _grade(course_root, tmp_path)


def test_replaying_a_test_that_does_not_exist_is_not_graded(course_root, tmp_path):
    with pytest.raises(GradingFailed, match="no tests named test_gone were found"):
        _grade(course_root, tmp_path, only=["test_gone"])


def test_grade_all_reports_not_graded_and_writes_no_score(course_root, tmp_path):
    hidden = course_root / "exercises" / "tiny" / "tests" / "hidden"
    (hidden / "test_hidden.py").write_text("from grader.testing import no_such_name\n")
    subs = make_class(tmp_path / "subs", {"alice": "good", "bob": "bad"})
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "--course",
            str(course_root),
            "grade-all",
            "tiny",
            str(subs),
            "--backend",
            "local",
            "--out",
            str(out),
            "--no-store",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "Traceback" not in text
    assert "could not be loaded" in text, text
    assert "0/10" not in text and "0 of 0" not in text, text
    assert not list(out.rglob("results.json")), "no result may be written for a platform failure"


def test_grade_says_not_graded_and_writes_nothing(course_root, tmp_path):
    hidden = course_root / "exercises" / "tiny" / "tests" / "hidden"
    (hidden / "test_hidden.py").write_text("def test_oops(student:\n    pass\n")
    (tmp_path / "alice.py").write_text(GOOD.format(slow=0))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "--course",
            str(course_root),
            "grade",
            "tiny",
            str(tmp_path / "alice.py"),
            "--backend",
            "local",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("grader: not graded yet, nothing written: alice: "), proc.stderr
    assert "test_hidden.py" in proc.stderr and "SyntaxError" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
