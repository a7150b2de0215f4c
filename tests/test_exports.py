"""Exports from the store: gradebook CSV, Canvas CSV, nbgrader gradebook, Gradescope
results.json per student, and the instructor's HTML report (escaped, with inline SVG)."""

from __future__ import annotations

import csv
import json
import re

import pytest

import grader.grade
from grader.course import load_course
from grader.entries import entries_in
from grader.errors import GraderError
from grader.export import export
from grader.recorded import grade_recorded, regrade
from grader.store import open_store
from store_class import fake_run_tests, make_class, make_course

ON_TIME = "2026-09-20T10:00:00Z"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def graded(tmp_path, monkeypatch):
    """alice right, bob wrong, carol right but 2 days late, dave refused; then a regrade."""
    make_course(tmp_path)
    make_class(
        tmp_path / "subs",
        {"alice": "good", "bob": "bad", "carol": "good", "dave": "def add(:"},
        received={
            "alice": ON_TIME,
            "bob": ON_TIME,
            "carol": "2026-09-23T10:00:00Z",
            "dave": ON_TIME,
        },
    )
    course = load_course(tmp_path)
    exercise = course.exercise("tiny")
    monkeypatch.setattr(grader.grade, "run_tests", fake_run_tests())
    store = open_store(course)
    grade_recorded(
        course,
        exercise,
        entries_in(tmp_path / "subs"),
        tmp_path / "out",
        store,
        backend="local",
        progress=False,
    )
    regrade(course, exercise, store, backend="local", progress=False)
    yield course, exercise, store
    store.close()


def test_gradebook_csv_lists_current_grades(graded, tmp_path):
    course, exercise, store = graded
    export("gradebook", course, exercise, store, tmp_path / "gb.csv")
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "gb.csv").open())}
    assert [rows[n]["final"] for n in ("alice", "bob", "carol")] == ["10", "6.6667", "8"]
    assert rows["carol"]["late_days"] == "2" and rows["carol"]["penalty"] == "0.2"
    assert rows["dave"]["final"] == "0" and rows["dave"]["status"].startswith("refused: ")


def test_canvas_csv_has_the_import_layout(graded, tmp_path):
    course, exercise, store = graded
    export("canvas", course, exercise, store, tmp_path / "canvas.csv")
    rows = list(csv.reader((tmp_path / "canvas.csv").open()))
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Adding numbers (tiny)",
    ]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2:] == [
        ["alice", "", "", "alice", "", "10"],
        ["bob", "", "", "bob", "", "6.6667"],
        ["carol", "", "", "carol", "", "8"],
        ["dave", "", "", "dave", "", "0"],
    ]


def test_gradescope_results_per_student(graded, tmp_path):
    course, exercise, store = graded
    export("gradescope", course, exercise, store, tmp_path / "gs")
    data = json.loads((tmp_path / "gs" / "bob" / "results.json").read_text())
    assert data["score"] == 6.6667 and data["max_score"] == 10
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "passed"]
    assert {p.name for p in (tmp_path / "gs").iterdir()} == {"alice", "bob", "carol", "dave"}


def test_nbgrader_gradebook(graded, tmp_path):
    api = pytest.importorskip("nbgrader.api")
    course, exercise, store = graded
    db = tmp_path / "gradebook.db"
    export("nbgrader", course, exercise, store, db)
    export("nbgrader", course, exercise, store, db)  # again: replaced, not added twice
    with api.Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_assignment("tiny").max_score == pytest.approx(10)
        scores = {
            s.student.id: (s.score, s.late_submission_penalty)
            for s in gb.assignment_submissions("tiny")
        }
    assert scores["alice"] == (pytest.approx(10), 0)
    assert scores["bob"][0] == pytest.approx(6.6667, abs=1e-3)
    assert scores["carol"] == (
        pytest.approx(10),
        pytest.approx(2),
    )  # 10 points, 2 taken for lateness
    assert scores["dave"][0] == 0


def test_report_is_self_contained_and_escaped(graded, tmp_path, monkeypatch):
    course, exercise, store = graded
    monkeypatch.setattr(grader.grade, "run_tests", fake_run_tests(fail_all=True))
    make_class(
        course.root / "subs",
        {"erin": f"# {HOSTILE}\ndef add(a, b):\n    return a - b\n"},
        received={"erin": ON_TIME},
    )
    grade_recorded(
        course,
        exercise,
        entries_in(course.root / "subs"),
        course.root / "out",
        store,
        backend="local",
        progress=False,
    )
    export("report", course, exercise, store, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert html.count("<rect x=") == 10  # ten histogram bins
    assert "5 of 5 students graded" in html
    slow = re.search(
        r"test_slow_add <span.*?</td>\s*<td class=\"num\">(\d+) / (\d+)</td>", html, re.S
    )
    assert slow.groups() == ("1", "4")  # erin failed it; dave's refused submission never ran it
    assert "test_add_negative: add(-4, 1) returned 5, expected -3" in html
    assert "4 earlier grading(s) kept in the history" in html  # the regrade superseded 4


def test_export_of_an_empty_exercise_says_what_to_do(tmp_path):
    make_course(tmp_path)
    course = load_course(tmp_path)
    with open_store(course) as store, pytest.raises(GraderError, match="grade-all tiny"):
        export("gradebook", course, course.exercise("tiny"), store, tmp_path / "x.csv")


def test_canvas_and_gradebook_list_every_roster_student_with_names_and_ids(graded, tmp_path):
    """A roster imported: every student has a row, with the name and the school's ids; work
    never handed in is 0 once the exercise is closed for that student (not before), and an
    override counts instead of the attempts."""
    import datetime as dt

    from grader.portal.accounts import import_roster
    from grader.standing import standings

    course, exercise, store = graded
    roster = [
        {
            "login": n,
            "name": name,
            "email": f"{n}@x",
            "role": "student",
            "password": "p" * 8,
            "sis_id": sis,
            "section": sec,
        }
        for n, name, sis, sec in [
            ("alice", "Alice Archer", "S1", "A"),
            ("bob", "Bob Baker", "S2", "A"),
            ("erin", "Erin Early", "S5", "B"),
            ("fred", "Fred Far", "S6", "B"),
        ]
    ]
    import_roster(store, roster)
    store.set_extension("tiny", "fred", dt.datetime(2099, 1, 1, tzinfo=dt.UTC), "abroad", "prof")
    store.set_override("tiny", "bob", 7.5, "oral exam", "prof")
    export("canvas", course, exercise, store, tmp_path / "canvas.csv")
    rows = {r[3]: r for r in list(csv.reader((tmp_path / "canvas.csv").open()))[2:]}
    assert rows["alice"] == ["Alice Archer", "", "S1", "alice", "A", "10"]
    assert rows["bob"] == ["Bob Baker", "", "S2", "bob", "A", "7.5"]
    assert rows["erin"] == ["Erin Early", "", "S5", "erin", "B", "0"]  # closed: missing
    assert rows["fred"] == ["Fred Far", "", "S6", "fred", "B", ""]  # his due date is to come
    assert rows["dave"] == ["dave", "", "", "dave", "", "0"]  # not on the roster, refused
    export("gradebook", course, exercise, store, tmp_path / "gb.csv")
    book = {r["student"]: r for r in csv.DictReader((tmp_path / "gb.csv").open())}
    assert book["alice"]["name"] == "Alice Archer" and book["alice"]["attempt"] == "1"
    assert book["bob"]["status"] == "override: oral exam" and book["bob"]["final"] == "7.5"
    assert book["erin"]["status"] == "missing" and book["erin"]["attempts"] == "0"
    assert book["fred"]["status"] == "not handed in yet" and book["fred"]["final"] == ""
    early = standings(course, exercise, store, now=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    assert {r.student: r.state for r in early}["erin"] == "not handed in yet"


def test_report_lists_the_submissions_flagged_for_review(graded, tmp_path):
    """A submission whose code reaches for the grader keeps its score, and the report names it
    with the line that raised the flag; honest students are not named."""
    course, exercise, store = graded
    make_class(
        course.root / "subs2",
        {"mallory": "import sys\ndef add(a, b):\n    sys._getframe().f_back\n    return a + b\n"},
        received={"mallory": ON_TIME},
    )
    grade_recorded(
        course,
        exercise,
        entries_in(course.root / "subs2"),
        course.root / "out",
        store,
        backend="local",
        progress=False,
    )
    export("report", course, exercise, store, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    flagged = html[html.index("<h2>Flagged for review</h2>") : html.index("<h2>Most common")]
    assert 'id="flag-mallory"' in flagged and "takes a frame" in flagged
    assert "sys._getframe().f_back" in flagged and "line 3" in flagged
    assert "alice" not in flagged and "bob" not in flagged
    current = {c.student: c.result() for c in store.counted(exercise)}
    assert current["mallory"].score == 10 and current["mallory"].suspicion["flagged"]
    assert current["alice"].suspicion == {}
