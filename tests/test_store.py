"""The store: migrations, exactly-once recording, regrade history and diffs, and faults
(a grader killed mid-batch and rerun, a second grader on the same exercise, a locked file).

The judge is replaced by `store_class.fake_run_tests` (intake, scoring and the late policy
stay real); one test grades for real on the local backend. The key cases run on SQLite and on
a private PostgreSQL cluster (tests/postgres.py): `course` parametrised with the store's kind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy

import grader.grade
import store_class
from grader.course import load_course
from grader.entries import entries_in
from grader.recorded import format_changes, grade_recorded, regrade
from grader.store import Store, StoreBusy, open_store, store_url
from store_class import fake_run_tests, make_class, make_course

HERE = Path(__file__).parent
ROOT = HERE.parent
ON_TIME = "2026-09-20T10:00:00Z"
CLASS = {"alice": "good", "bob": "bad", "carol": "good", "dave": "def add(:"}
RECEIVED = {"alice": ON_TIME, "bob": ON_TIME, "carol": "2026-09-23T10:00:00Z", "dave": ON_TIME}
BOTH = pytest.mark.parametrize("course", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def course(tmp_path, request):
    """The tiny course; its store is grader.db, or (param "postgresql") a fresh PostgreSQL database."""
    make_course(tmp_path)
    make_class(tmp_path / "subs", CLASS, received=RECEIVED)
    if getattr(request, "param", "sqlite") == "postgresql":
        url = request.getfixturevalue("postgres_url")
        with (tmp_path / "course.toml").open("a") as f:
            f.write(f'\n[store]\nurl = "{url}"\n')
    return load_course(tmp_path)


@pytest.fixture
def fake(monkeypatch):
    calls = []

    def use(**kw):
        real = fake_run_tests(**kw)

        def counted(exercise, submission, *a, **k):
            calls.append(submission)
            return real(exercise, submission, *a, **k)

        monkeypatch.setattr(grader.grade, "run_tests", counted)
        return calls

    return use


def _grade(course, store, kind="grade-all"):
    ex = course.exercise("tiny")
    return grade_recorded(
        course,
        ex,
        entries_in(course.root / "subs"),
        course.root / "out",
        store,
        kind=kind,
        backend="local",
        jobs=2,
        progress=False,
    )


def _sql(course, query: str) -> list[tuple]:
    """Rows of `query` on the course's store (SQLite or PostgreSQL), read outside the Store API."""
    engine = sqlalchemy.create_engine(store_url(course.root, course.store_url))
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sqlalchemy.text(query))]
    finally:
        engine.dispose()


def _gradings(course) -> list[tuple]:
    return _sql(
        course,
        "select st.name, g.final, g.is_current, g.request_id from gradings g "
        "join submissions s on s.id = g.submission_id "
        "join students st on st.id = s.student_id order by g.id",
    )


@BOTH
def test_store_opens_with_migrations_and_default_url(course):
    assert store_url(course.root) == f"sqlite:///{course.root / 'grader.db'}"
    assert store_url(course.root, "other.db") == f"sqlite:///{course.root / 'other.db'}"
    assert store_url(course.root, "postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with open_store(course) as store:
        assert store.engine.dialect.name == (course.store_url or "sqlite").split("+")[0]
    with open_store(course):  # a second open finds the schema at head and changes nothing
        pass
    from alembic.script import ScriptDirectory

    from grader.store.engine import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head and _sql(course, "select version_num from alembic_version") == [(head,)]
    engine = sqlalchemy.create_engine(store_url(course.root, course.store_url))
    tables = set(sqlalchemy.inspect(engine).get_table_names())
    engine.dispose()
    assert {"students", "submissions", "gradings", "audit", "requests", "leases"} <= tables
    if not course.store_url:
        with sqlite3.connect(course.root / "grader.db") as c:
            assert c.execute("pragma journal_mode").fetchone() == ("wal",)


def test_store_url_from_course_toml(course):
    text = (course.root / "course.toml").read_text()
    (course.root / "course.toml").write_text(text + '\n[store]\nurl = "data/marks.db"\n')
    (course.root / "data").mkdir()
    again = load_course(course.root)
    assert again.store_url == "data/marks.db"
    with open_store(again) as store:
        assert store.url == f"sqlite:///{course.root / 'data' / 'marks.db'}"


@BOTH
def test_grade_all_records_each_submission_once_with_late_policy(course, fake):
    calls = fake()
    with open_store(course) as store:
        first = _grade(course, store)
        assert len(calls) == 3  # dave's syntax error is refused at intake
        second = _grade(course, store)
        assert len(calls) == 3  # nothing graded twice
    finals = {r.student: r.result.score for r in first.rows}
    assert finals == {"alice": 10, "bob": 6.6667, "carol": 8, "dave": 0}
    assert [r.status for r in second.rows] == ["skipped"] * 4
    assert format_changes(second, "tiny")[-1].startswith("tiny: 0 graded in this request")
    rows = _gradings(course)
    assert sorted(r[0] for r in rows) == sorted(CLASS) and all(r[2] for r in rows)
    late = dict(
        _sql(
            course,
            "select st.name, s.late_days from submissions s join students st "
            "on st.id = s.student_id",
        )
    )
    refused = _sql(
        course,
        "select status from gradings g join submissions s on s.id = "
        "g.submission_id join students st on st.id = s.student_id "
        "where st.name = 'dave'",
    )
    actions = {r[0] for r in _sql(course, "select action from audit")}
    assert late == {"alice": 0, "bob": 0, "carol": 2, "dave": 0}
    assert refused == [("refused",)]
    assert {"submission-received", "graded", "request-opened"} <= actions
    assert (course.root / "out" / "carol" / "feedback.html").exists()


@BOTH
def test_resubmission_is_a_new_submission_graded_alone(course, fake):
    calls = fake()
    with open_store(course) as store:
        _grade(course, store)
        make_class(course.root / "subs", {"bob": "good"})
        outcome = _grade(course, store)
    assert len(calls) == 4
    assert [(c.student, c.before, c.after) for c in outcome.changes] == [("bob", 6.6667, 10)]


@BOTH
def test_regrade_keeps_history_and_prints_score_changes(course, fake):
    fake()
    with open_store(course) as store:
        _grade(course, store)
        fake(fail_all=True)  # the tests changed: now nothing passes
        outcome = regrade(
            course, course.exercise("tiny"), store, backend="local", jobs=2, progress=False
        )
        history = store.history("tiny", "alice")
    lines = format_changes(outcome, "tiny")
    assert "  alice                10 -> 0 (-10)" in lines
    assert "  carol                8 -> 0 (-8)" in lines
    assert not any(line.lstrip().startswith("dave") for line in lines)  # refused both times
    assert (
        lines[-1]
        == "tiny: 4 graded in this request (new): 0 up, 3 down, 0 new, 1 unchanged; 0 not graded yet."
    )
    assert [(g.final, g.is_current) for _, g in history] == [(10, False), (0, True)]
    rows = _gradings(course)
    assert len(rows) == 8 and sum(r[2] for r in rows) == 4


def test_platform_failure_is_not_recorded_and_retried(course, fake):
    fake(broken=("a - b",))  # bob's grading fails on the platform's side
    with open_store(course) as store:
        first = _grade(course, store)
        assert {r.student: r.status for r in first.rows}["bob"] == "not-graded"
        assert "bob" not in {r[0] for r in _gradings(course)}
        before = len(fake())
        calls = fake()
        _grade(course, store)
    assert len(calls) - before == 1  # only bob, and never scored 0 in between
    assert sorted(r[0] for r in _gradings(course)) == sorted(CLASS)


def _driver(course, *args, delay=0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "store_driver.py"),
            str(delay),
            "--course",
            str(course.root),
            *args,
        ],
        cwd=course.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_gradings(course, n: int, proc: subprocess.Popen, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if len(_gradings(course)) >= n:
                return
        except sqlalchemy.exc.DBAPIError:
            pass  # no schema yet
        time.sleep(0.05)
    raise AssertionError("the grader recorded nothing in time")


@BOTH
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_grader_killed_mid_batch_then_rerun_loses_and_doubles_nothing(course, sig):
    make_class(
        course.root / "subs",
        {f"s{i:02}": "good" for i in range(8)},
        received={f"s{i:02}": ON_TIME for i in range(8)} | RECEIVED,
    )
    db = course
    proc = _driver(course, "grade-all", "tiny", "subs", "--out", "out", "-j", "1", delay=0.3)
    _wait_for_gradings(db, 2, proc)
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    done = len(_gradings(db))
    assert 2 <= done < 12
    rerun = _driver(course, "grade-all", "tiny", "subs", "--out", "out", "-j", "2")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    rows = _gradings(db)
    names = [r[0] for r in rows]
    assert sorted(names) == sorted(set(names)) and len(names) == 12  # none lost, none twice
    assert f"{12 - done} graded in this request" in out or f"{12 - done - 1} graded" in out


@BOTH
def test_interrupted_regrade_resumes_its_request(course):
    db = course
    first = _driver(course, "grade-all", "tiny", "subs", "--out", "out")
    assert first.wait(timeout=60) == 0
    proc = _driver(course, "regrade", "tiny", "-j", "1", delay=0.5)
    _wait_for_gradings(db, 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    again = _driver(course, "regrade", "tiny", "-j", "2")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "(resumed)" in out
    rows = _gradings(db)
    regrade_ids = {r[3] for r in rows[4:]}
    assert len(rows) == 8 and len(regrade_ids) == 1  # one request, each submission once
    assert sum(r[2] for r in rows) == 4 and not any(r[2] for r in rows[:4])


@BOTH
def test_second_grader_on_the_same_exercise_is_refused_clearly(course):
    db = course
    first = _driver(course, "grade-all", "tiny", "subs", "--out", "out", "-j", "1", delay=2.0)
    _wait_for_gradings(db, 1, first)
    second = _driver(course, "grade-all", "tiny", "subs", "--out", "out2")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2
    assert "Another grader is already grading tiny in this store" in err
    assert first.wait(timeout=60) == 0
    assert sorted(r[0] for r in _gradings(db)) == sorted(CLASS)


def test_locked_store_file_makes_the_grader_wait_not_fail(course, fake):
    fake(delay=0.05)
    with open_store(course):
        pass
    holder = sqlite3.connect(
        course.root / "grader.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.5, holder.execute, args=("COMMIT",))
    release.start()
    t0 = time.monotonic()
    with open_store(course) as store:
        outcome = _grade(course, store)
    release.join()
    assert time.monotonic() - t0 >= 1.4
    assert [r.status for r in outcome.rows] == ["graded"] * 4
    assert len(_gradings(course)) == 4


def test_store_locked_too_long_fails_with_a_clear_message(course, monkeypatch):
    import grader.store.engine as engine

    monkeypatch.setattr(engine, "BUSY_SECONDS", 0.2)
    with open_store(course):
        pass
    holder = sqlite3.connect(
        course.root / "grader.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreBusy, match="stayed locked by another process"):
            Store(store_url(course.root)).audit("probe")
    finally:
        holder.execute("ROLLBACK")


def test_grade_all_and_regrade_on_the_local_backend(tmp_path):
    """A real grading (sandbox and judge) through the command line, twice."""
    make_course(tmp_path)
    make_class(
        tmp_path / "subs", {"ann": "good", "ben": "bad"}, received={"ann": ON_TIME, "ben": ON_TIME}
    )
    grader_bin = str(ROOT / ".venv" / "bin" / "grader")
    run = subprocess.run(
        [grader_bin, "grade-all", "tiny", "subs", "--out", "out", "-j", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    assert "ben                  new: 3.3333" in run.stdout
    again = subprocess.run(
        [grader_bin, "regrade", "tiny", "--students", "ben"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("0 up, 0 down, 0 new, 1 unchanged; 0 not graded yet.")


# ---------------------------------------------------------------- attempts and what counts


def _counted(course, store) -> dict[str, tuple]:
    """student -> (counted attempt, final) under the exercise's rule."""
    return {
        c.student: (c.submission.attempt if c.grading else None, c.final)
        for c in store.counted(course.exercise("tiny"))
    }


@BOTH
def test_a_folder_back_to_an_earlier_version_is_a_new_attempt_that_counts(course, fake):
    """v1 (bad), v2 (good), v1 again: three attempts, each with its own received time, and the
    latest counts, although its bytes repeat the first (and it scores less than v2)."""
    calls = fake()
    with open_store(course) as store:
        _grade(course, store)
        for i, kind in enumerate(["good", "bad"]):
            make_class(
                course.root / "subs",
                {"bob": kind},
                received={"bob": f"2026-09-21T1{i}:00:00Z"}
                | {n: t for n, t in RECEIVED.items() if n != "bob"},
            )
            _grade(course, store)
        assert _counted(course, store)["bob"] == (3, 6.6667)
        bob = store.submissions("tiny", ["bob"])["bob"]
        again = _grade(course, store)  # the folder as it is: nothing new, nothing graded
        make_class(course.root / "subs", {"bob": "def add(:"})
        _grade(course, store)  # refused: attempt 4 scores 0 but does not replace attempt 3
        assert _counted(course, store)["bob"] == (3, 6.6667)
        assert _counted(course, store)["dave"] == (1, 0)  # refused, and nothing else
    assert [s.attempt for s in bob] == [1, 2, 3]
    assert bob[0].content_hash == bob[2].content_hash and len({s.received_at for s in bob}) == 3
    assert len(calls) == 3 + 2  # the class once, then bob twice; the last run grades nothing
    assert {r.student: r.status for r in again.rows}["bob"] == "skipped"


@BOTH
def test_every_upload_is_a_new_attempt_and_best_can_count_instead(course, fake):
    """The portal's path: identical bytes uploaded twice are two attempts; `latest` counts the
    newest graded one, `best` the highest score, and a regrade under `best` grades them all."""
    import csv

    from grader.export import export
    from grader.recorded import regrade
    from grader.results import SubmissionResult, TestResult

    def result(points: float) -> SubmissionResult:
        return SubmissionResult(
            "ann",
            "tiny",
            [TestResult("t", "t", "public", "passed" if points else "failed", points, 10.0)],
            10.0,
        )

    fake()
    t0 = dt.datetime(2026, 9, 20, 10, tzinfo=dt.UTC)
    with open_store(course) as store:
        subs = []
        for i, (content, points) in enumerate([("A", 10.0), ("B", 4.0), ("A", 7.0)]):
            path = course.root / "subs" / f"ann-{i}.py"
            path.write_text(f"# {content}\n" + store_class.GOOD.format(slow=0))
            sub = store.record_submission(
                "ann", "tiny", content, t0 + dt.timedelta(hours=i), 0, str(path)
            )
            request, _ = store.open_request("tiny", "portal", ["ann"], resume=False)
            assert store.record_grading(sub, request, result(points))
            subs.append(sub)
        assert [s.attempt for s in subs] == [1, 2, 3] and subs[0].id != subs[2].id
        assert _counted(course, store)["ann"] == (3, 7)
        best = dataclasses.replace(course.exercise("tiny"), counted_attempt="best")
        [c] = store.counted(best, ["ann"])
        assert (c.submission.attempt, c.final, c.attempts, c.pending) == (1, 10, 3, 0)
        for rule, attempt, final in ((course.exercise("tiny"), "3", "7"), (best, "1", "10")):
            export("gradebook", course, rule, store, course.root / "book.csv")
            [row] = csv.DictReader((course.root / "book.csv").open())
            assert (row["student"], row["attempt"], row["final"]) == ("ann", attempt, final)
        fresh = store.record_submission(
            "ann", "tiny", "A", t0 + dt.timedelta(hours=5), 0, str(subs[0].path)
        )
        assert store.counted(best, ["ann"])[0].pending == 1  # counted stays until it is graded
        outcome = regrade(course, best, store, backend="local", progress=False, students=["ann"])
    assert len(outcome.changes) + outcome.unchanged == 4  # every attempt, once
    assert {c.attempt for c in outcome.changes} <= {1, 2, 3, fresh.attempt}
    assert any("(attempt " in line for line in format_changes(outcome, "tiny"))


@BOTH
def test_an_extension_reapplies_the_late_policy_and_an_override_wins(course, fake):
    from grader.recorded import rescore_late

    fake()
    ex = course.exercise("tiny")
    with open_store(course) as store:
        _grade(course, store)
        assert _counted(course, store)["carol"] == (1, 8)  # 2 days late
        store.set_extension(
            "tiny", "carol", dt.datetime(2026, 9, 24, tzinfo=dt.UTC), "doctor's note", "prof"
        )
        assert rescore_late(course, ex, store, "carol") == 1
        assert rescore_late(course, ex, store, "carol") == 0  # nothing changes twice
        assert _counted(course, store)["carol"] == (1, 10)
        [attempt] = store.attempts("tiny", "carol")
        assert [(g.final, kind) for g, kind in attempt.gradings] == [
            (8, "grade-all"),
            (10, "rescore"),
        ]
        store.set_override("tiny", "bob", 9.5, "oral exam instead", "prof")
        assert _counted(course, store)["bob"] == (1, 9.5)
        store.set_override("tiny", "bob", None, "exam cancelled", "prof")
        assert _counted(course, store)["bob"] == (1, 6.6667)
        trail = [(a.action, a.detail) for a in store.audit_trail("tiny", "bob")]
        # a student whose due date moves has late days counted from it by the next grade-all
        make_class(
            course.root / "subs", {"carol": "bad"}, received={"carol": "2026-09-23T12:00:00Z"}
        )
        _grade(course, store)
        [late] = [a for a in store.attempts("tiny", "carol") if a.submission.attempt == 2]
    assert trail[0] == ("override-removed", "attempts count again by prof: exam cancelled")
    assert trail[1] == ("override-set", "score 9.5 by prof: oral exam instead")
    assert late.submission.late_days == 0 and late.grading.late_days == 0


@BOTH
def test_migration_numbers_the_attempts_of_an_older_store(course):
    """A store made by 0002 (one submission per content) upgrades: attempts numbered per
    student in the order received, the old uniqueness gone, gradings and jobs kept."""
    from alembic import command
    from alembic.config import Config

    from grader.store.engine import MIGRATIONS, make_engine

    url = store_url(course.root, course.store_url)
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_portal")
        now = "'2026-09-20 10:00:00+00:00'"
        conn.exec_driver_sql(
            f"INSERT INTO students (id, name, created_at) VALUES "
            f"(1, 'ann', {now}), (2, 'ben', {now})"
        )
        conn.exec_driver_sql(
            f"INSERT INTO requests (id, exercise, kind, students, out_dir, "
            f"actor, created_at) VALUES ('r1', 'tiny', 'grade-all', NULL, '', "
            f"'t', {now})"
        )
        for sid, student, h in [(1, 1, "x"), (2, 2, "x"), (3, 1, "y"), (4, 2, "z"), (5, 1, "z")]:
            conn.exec_driver_sql(
                f"INSERT INTO submissions (id, student_id, exercise, content_hash, received_at, "
                f"late_days, path, created_at) VALUES ({sid}, {student}, 'tiny', '{h}', {now}, "
                f"0, '/p', {now})"
            )
        conn.exec_driver_sql(
            f"INSERT INTO gradings (id, submission_id, request_id, grader_version, image_id, "
            f"seed, seeds, score, max_score, late_days, penalty, final, status, results, "
            f"created_at, is_current) VALUES (1, 3, 'r1', 'v', '', 1, '{{}}', 5, 10, 0, 0, 5, "
            f"'graded', '{{}}', {now}, true)"
        )
        if conn.dialect.name == "postgresql":  # rows inserted with their ids: move the counters
            for table in ("students", "submissions", "gradings"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    engine.dispose()
    with Store(url) as store:
        assert [(s.id, s.attempt) for s in store.submissions("tiny")["ann"]] == [
            (1, 1),
            (3, 2),
            (5, 3),
        ]
        assert [s.attempt for s in store.submissions("tiny")["ben"]] == [1, 2]
        again = store.record_submission("ann", "tiny", "x", dt.datetime.now(dt.UTC), 0, "/p")
        assert again.attempt == 4  # the same bytes again: a new attempt
        assert [g.id for g, _ in store.attempts("tiny", "ann")[1].gradings] == [1]
