"""Race checks the student's code cannot dodge by telling the checked request from the plain ones
(tests/attacks/pid_request_counter, inode_request_counter): where an exercise's tests use a race
check, every request carries the lockset check, a race found in any request fails every
race-check test, and the tests run in the grading seed's order, recorded in the files' order."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader.course import load_course
from grader.grade import grade_submission
from grader.judge import evidence
from grader.judge.expect_concurrency import expect_no_lost_update, expect_no_races
from grader.judge.race_watch import RaceWatch, shuffled, uses_race_checks
from grader.protocol import Outcome, Reply, TestRecord

ROOT = Path(__file__).resolve().parents[1]
RACE_EXERCISES = ("bank_transfers", "bounded_buffer", "locked_counter", "reentrant_box")

SHARED = ROOT / "tests" / "attacks" / "_shared"
# Locked everywhere but in the one call no race-check test makes: parallel_count with 8 threads
# (test_parallel_count_values). The race checks never see that request unless every request
# carries them. Built on the attack corpus's racy counter.
RACY_WHERE_UNCHECKED = """
import sometimes_locked

SafeCounter, _locked = sometimes_locked.build(True)
_racy = sometimes_locked.build(False)[1]


def parallel_count(n_threads, n_increments):
    return (_racy if n_threads == 8 else _locked)(n_threads, n_increments)
"""


def _race_reply(what="parallel_count(8, 500)") -> Reply:
    race = {
        "variable": "SafeCounter._value",
        "writes": [
            {"thread": "Thread-1", "file": "solution.py", "line": 13, "code": "x", "locks": []},
            {"thread": "Thread-2", "file": "solution.py", "line": 13, "code": "x", "locks": []},
        ],
    }
    return Reply({"status": "ok", "checks": {"lockset": {"races": [race], "intact": True}}}, what)


def _clean_reply(more: dict | None = None) -> Reply:
    checks = {"lockset": {"races": [], "intact": True}, **(more or {})}
    return Reply({"status": "ok", "checks": checks}, "a call")


def _record(nodeid: str) -> TestRecord:
    name = nodeid.rsplit("::", 1)[-1]
    return TestRecord(nodeid, name, name, "hidden", Outcome.PASSED, "", {}, 0.0, None)


@pytest.mark.parametrize("slug", RACE_EXERCISES)
def test_the_race_check_exercises_are_recognised(slug):
    assert uses_race_checks((ROOT / "exercises" / slug / "tests").rglob("test_*.py"))


def test_exercises_without_race_checks_are_left_alone():
    files = list((ROOT / "exercises" / "shared_state" / "tests").rglob("test_*.py"))
    files += (ROOT / "exercises" / "reentrant_box" / "tests" / "public").glob("test_*.py")
    assert files and not uses_race_checks(files)  # lockorder alone is not a race check


def test_a_race_check_asked_for_with_dict_keywords_is_recognised(tmp_path):
    test = tmp_path / "test_x.py"
    test.write_text("def test_a(student):\n    student.run(f, checks=dict(preempt={}))\n")
    assert uses_race_checks([test])
    test.write_text("def test_a(student):\n    student.run(f, checks={'lockorder': {}})\n")
    assert not uses_race_checks([test])


def test_every_request_carries_the_lockset_check_where_race_checks_are_used():
    watch = RaceWatch(enabled=True)
    assert watch.checks_for({}) == {"lockset": {}}
    assert watch.checks_for({"schedule": {"seed": 3}}) == {"lockset": {}, "schedule": {"seed": 3}}
    assert watch.checks_for({"lockset": {"x": 1}}) == {"lockset": {"x": 1}}
    assert RaceWatch().checks_for({}) == {}  # elsewhere nothing is added


def test_a_race_in_a_plain_request_fails_every_race_check_test():
    watch = RaceWatch(enabled=True)
    evidence.start("t.py::test_values")
    watch.saw(_race_reply())  # a request that asked for no check
    evidence.start("t.py::test_lockset")
    watch.saw(_clean_reply())  # the checked request is clean
    expect_no_races(_clean_reply(), "a counter")
    evidence.start("t.py::test_switches")
    watch.saw(_clean_reply())
    expect_no_lost_update(2000, 2000, "a count", _clean_reply({"schedule": {"switches": 9}}))
    evidence.start("t.py::test_threads")
    watch.saw(_clean_reply())  # asked for lockset to count writes, judges no race
    names = ("t.py::test_values", "t.py::test_lockset", "t.py::test_switches", "t.py::test_threads")
    records = [_record(n) for n in names]
    watch.settle(records)
    assert [r.status for r in records] == [
        Outcome.PASSED,
        Outcome.RACE,
        Outcome.RACE,
        Outcome.PASSED,
    ]
    for record in records[1:3]:
        assert "Data race" in record.message and "SafeCounter._value" in record.message
        assert "parallel_count(8, 500)" in record.message and "test_values" in record.message
        assert record.details["race_found_in"] == {
            "test": "t.py::test_values",
            "request": "parallel_count(8, 500)",
        }


def test_no_race_anywhere_changes_nothing():
    watch = RaceWatch(enabled=True)
    evidence.start("t.py::test_lockset2")
    watch.saw(_clean_reply())
    expect_no_races(_clean_reply(), "a counter")
    records = [_record("t.py::test_lockset2")]
    watch.settle(records)
    assert records[0].status == Outcome.PASSED and records[0].message == ""


def test_a_reply_without_a_report_is_left_to_its_own_test():
    watch = RaceWatch(enabled=True)
    watch.saw(Reply({"status": "timeout"}, "a call"))
    assert watch.found is None


def test_the_order_is_the_seeds():
    items = list(range(20))
    assert shuffled(items, 7) == shuffled(items, 7)
    assert shuffled(items, 7) != shuffled(items, 8)
    assert sorted(shuffled(items, 7)) == items


def _file_order(slug: str) -> list[str]:
    names = []
    for suite in ("public", "hidden"):
        for path in sorted((ROOT / "exercises" / slug / "tests" / suite).glob("test_*.py")):
            tree = ast.parse(path.read_text())
            names += [
                n.name
                for n in tree.body
                if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
            ]
    return names


def _grade(tmp_path, source: str, seed: int = 11):
    course = load_course(ROOT)
    src = tmp_path / "submission"
    src.mkdir(exist_ok=True)
    (src / "solution.py").write_text(source)
    for helper in ("racy.py", "sometimes_locked.py"):
        (src / helper).write_text((SHARED / helper).read_text())
    return grade_submission(
        course, course.exercise("locked_counter"), src, backend="local", seed=seed
    )


def test_code_racy_only_where_no_race_check_looks_fails_the_race_checks(tmp_path):
    result = _grade(tmp_path, RACY_WHERE_UNCHECKED)
    verdicts = {t.function: t.verdict for t in result.tests}
    # test_parallel_count_values judges the value only (it may lose updates); the race checks
    # never asked for parallel_count(8, ...), yet they saw it
    for name in ("test_no_races_under_lockset", "test_no_lost_updates_under_forced_switches"):
        assert verdicts[name] == "race", (name, verdicts)
        message = next(t.message for t in result.tests if t.function == name)
        assert "Data race" in message and "test_parallel_count_values" in message
    assert verdicts["test_parallel_count_uses_threads"] == "passed"  # counts writes, judges no race
    assert [t.function for t in result.tests] == _file_order("locked_counter")


def test_the_reference_keeps_full_marks_in_any_order(tmp_path):
    reference = (ROOT / "solutions" / "locked_counter" / "solution.py").read_text()
    for seed in (1, 2):
        result = _grade(tmp_path, reference, seed=seed)
        assert result.score == result.max_score, [(t.function, t.message) for t in result.tests]
        assert [t.function for t in result.tests] == _file_order("locked_counter")


def test_the_plugin_runs_race_check_tests_in_the_seeds_order_and_records_the_files(
    tmp_path, monkeypatch
):
    from types import SimpleNamespace

    from grader.judge import plugin

    tests = ROOT / "exercises" / "locked_counter" / "tests" / "hidden" / "test_hidden.py"
    items = [
        SimpleNamespace(nodeid=f"{tests.name}::{name}", fspath=tests, name=name)
        for name in _file_order("locked_counter")
    ]
    job = SimpleNamespace(only=None, seed=5, report=str(tmp_path / "report.json"))
    monkeypatch.setattr(plugin, "_STATE", {**plugin._STATE, "job": job, "records": []})
    ran = list(items)
    plugin.pytest_collection_modifyitems(None, ran)
    assert ran == shuffled(items, 5) and ran != items  # the seed's order
    assert plugin._STATE["races"].enabled
    assert plugin._STATE["collected"] == [i.nodeid for i in items]
    plugin._STATE["records"] = [_record(i.nodeid) for i in ran]
    plugin.pytest_sessionfinish(None, 0)
    assert [r.nodeid for r in plugin._STATE["records"]] == [i.nodeid for i in items]


# Watching every request must not change a value a test sees: no callback of the lockset check
# may run between the read and the write of `self.n += 1` (the interpreter could switch threads
# there and lose updates that the same code never loses unwatched).

X = 0


def test_the_lockset_check_traces_only_code_that_writes_globals_or_items(monkeypatch):
    from grader.checks import lockset, tracing

    def bump(self):
        self.n += 1

    def put(d, k):
        d[k] += 1

    def set_global():
        global X
        X = 1

    monkeypatch.setattr(tracing, "_every_opcode", False)
    monkeypatch.setattr(tracing, "_needs", set(lockset.WRITE_OPCODES))
    monkeypatch.setattr(tracing, "_traced_code", {})
    assert not tracing._traced(bump.__code__)
    assert tracing._traced(put.__code__) and tracing._traced(set_global.__code__)
    monkeypatch.setattr(tracing, "_every_opcode", True)  # forced switches, the scheduler
    assert tracing._traced(bump.__code__)


def test_a_check_that_names_its_opcodes_is_called_only_in_frames_that_hold_one(monkeypatch):
    """Under a check that needs every instruction (the scheduler, the forced switches), the
    lockset check, which needs only writes of globals and items, is not called in the frames of
    code that has none (each call costs CPU at every instruction); in the others both are."""
    from grader.checks import lockset, tracing

    def bump(self):
        self.n += 1

    def put(d, k):
        d[k] += 1

    every, some = [], []
    monkeypatch.setattr(tracing, "_every_opcode", True)
    monkeypatch.setattr(tracing, "_needs", set(lockset.WRITE_OPCODES))
    saved = tracing._callbacks[:], tracing._every_callbacks[:]
    tracing._callbacks[:] = [every.append, some.append]
    tracing._every_callbacks[:] = [every.append]
    try:
        for fn in (bump, put):
            tracing._decide(fn.__code__)(fn, "opcode", None)
    finally:
        tracing._callbacks[:], tracing._every_callbacks[:] = saved
    assert every == [bump, put]
    assert some == [put]


def test_an_attribute_write_is_recorded_after_it_is_made(monkeypatch):
    from grader.checks import lockset

    class Box:
        def __init__(self):
            self.n = 0

    seen = []

    class Check:
        vars: dict = {}
        keep: list = []

        def write(self, key, label, frame):
            seen.append((label, box.n))

    lockset._watch_class(Box)
    box = Box.__new__(Box)
    monkeypatch.setattr(lockset, "_CHECK", Check())
    box.n = 3
    box.n += 5
    assert seen == [("Box.n", 3), ("Box.n", 8)]
