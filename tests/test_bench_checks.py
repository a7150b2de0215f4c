"""The honesty rules of the planted-bug benchmark (scripts/bench_checks.py, tests/bugs/harness.py),
without a sandbox: a fake student answers each request."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bugs import harness
from bugs.catalogue import Pair, Stress
from conftest import load_module
from grader.judge.verdicts import Failed, NotRun
from grader.protocol import Reply

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return load_module("bench_checks", ROOT / "scripts" / "bench_checks.py")


def _pair(grade, invariant=lambda v: v == 1, needs="threads"):
    return Pair(
        "fake",
        "a class",
        "a check",
        ("race",),
        grade,
        Stress("run", (), invariant, "run() == 1"),
        frontrun_na="n/a",
        needs=needs,
    )


class FakeStudent:
    """Answers every request with `value` (after `seconds` of fake time)."""

    def __init__(self, value=1):
        self.value, self.calls = value, 0

    def reply(self, target, *args, **options):
        self.calls += 1
        return Reply(raw={"status": "ok", "value": self.value}, what="run()")


def _raise(exc):
    def grade(student, seed):
        raise exc

    return grade


def _outcomes(*outcomes):
    return [dataclasses.asdict(o) for o in outcomes]


def test_any_verdict_on_the_twin_is_a_false_positive_whatever_its_label(bench):
    tampering = Failed("the grader's instrumentation was switched off")
    twin = harness.check_once(_pair(_raise(tampering)), FakeStudent(), 60, variant="twin")
    assert twin.found and not twin.error and twin.verdict == "failed"
    bug = harness.check_once(_pair(_raise(tampering)), FakeStudent(), 60, variant="bug")
    assert not bug.found  # "failed" is not the verdict this pair detects with
    passed = harness.check_once(_pair(lambda s, seed: None), FakeStudent(), 61, variant="twin")
    cell = bench.cell(bench.summary(_outcomes(bug)), bench.summary(_outcomes(twin, passed)))
    assert "FP 1/2 (1 failed)" in cell
    problems = bench.misses(bench.summary(_outcomes(bug)), bench.summary(_outcomes(twin)), 1)
    assert any("twin was not passed in 1 of 1" in p for p in problems)


@pytest.mark.parametrize("variant", ["bug", "twin"])
def test_a_harness_crash_is_an_error_never_a_find(bench, variant):
    crash = harness.check_once(_pair(_raise(KeyError("seconds"))), FakeStudent(), 1, variant)
    assert crash.error and not crash.found and crash.verdict == "harness-error"
    stress = harness.stress_once(_pair(None, invariant=lambda v: {}[v]), FakeStudent(), variant)
    assert stress.error and not stress.found and "KeyError" in stress.message
    text = bench.cell(bench.summary(_outcomes(crash)), bench.summary(_outcomes(crash)))
    assert text.startswith("0/1 (1 error, not counted found)") and "FP 0/1" in text


def test_a_check_that_could_not_run_is_neither_found_nor_passed_nor_a_false_positive(bench):
    no_gpu = _raise(NotRun("not run: no GPU on this grading machine"))
    bug = harness.check_once(_pair(no_gpu), FakeStudent(), 1, "bug")
    twin = harness.check_once(_pair(no_gpu), FakeStudent(), 1, "twin")
    assert bug.not_run and twin.not_run and not (bug.found or twin.found)
    assert twin.verdict == "not-run"
    summaries = bench.summary(_outcomes(bug)), bench.summary(_outcomes(twin))
    assert bench.cell(*summaries).startswith("not run: no GPU")
    assert bench.misses(*summaries, 100) == ["not run: no GPU on this grading machine"]


def test_plain_stress_without_a_gpu_is_not_run(monkeypatch):
    monkeypatch.setattr("grader.sandbox.gpu.host_has_gpu", lambda: False)
    student = FakeStudent()
    outcome = harness.stress_once(_pair(None, needs="gpu"), student, "twin", budget=1.0)
    assert outcome.not_run and not outcome.found and student.calls == 0


def test_plain_stress_gets_the_wall_clock_budget_of_our_check():
    student = FakeStudent()
    outcome = harness.stress_once(_pair(None), student, "twin", budget=0.05)
    assert outcome.verdict == "passed" and outcome.seconds >= 0.05
    assert outcome.repeats == student.calls > 1
    wrong = harness.stress_once(_pair(None), FakeStudent(value=2), "bug", budget=10.0)
    assert wrong.found and wrong.repeats == 1  # stops at its first find


def test_frontrun_budget_raised_only_while_it_is_the_limit():
    budget, attempts = harness.FRONTRUN_BUDGET, harness.FRONTRUN_ATTEMPTS
    assert harness.budget_was_limit(None, 0, 1.0, 1)  # inconclusive
    assert harness.budget_was_limit(True, attempts, 1.0, 1)  # every attempt used
    assert harness.budget_was_limit(True, 10, budget, 1)  # out of time
    assert not harness.budget_was_limit(True, attempts, 1.0, 4)  # within the raised budget
    assert not harness.budget_was_limit(False, attempts, budget, 1)  # found: never the limit


def test_the_report_says_only_what_it_measured(bench):
    """Every number in a row comes from its outcomes; reasons that are not measured are labelled
    as the catalogue's."""
    twin = [dataclasses.asdict(harness.Outcome(False, "passed", 0.1, i)) for i in range(3)]
    bug = [dataclasses.asdict(harness.Outcome(True, "race", 0.2, i)) for i in range(3)]
    assert bench.cell(bench.summary(bug), bench.summary(twin)) == "3/3 · FP 0/3 · 0.20 s"
    assert bench.misses(bench.summary(bug), bench.summary(twin), 3) == []
    assert bench.misses(bench.summary(bug), bench.summary(twin), 1000) == [
        "twin run 3 times, fewer than the 1000 the goal asks for"
    ]


def test_a_merged_report_says_when_where_and_at_which_commit_each_kept_pair_was_measured(bench):
    """Batches merged into one table: each kept pair's own date, commit and backend are named,
    and a record from before pairs carried them says so instead of borrowing this run's."""

    class Args:
        merge, only = Path("old.json"), ["now"]

    results = [
        {"name": "now", "measured": "2026-12-07T10:00:00", "commit": "abc", "backend": "docker"},
        {"name": "old", "measured": "2026-12-06T16:49:00", "backend": "local"},
        {"name": "mid", "measured": "2026-12-07T09:00:00", "commit": "def", "backend": "docker"},
    ]
    (note,) = [line for line in bench.merged_note(results, Args) if line]
    assert "Measured in this run: `now`." in note
    assert "1 on 2026-12-06 (commit not recorded, local backend)" in note
    assert "1 on 2026-12-07 (commit def, docker backend)" in note
    assert "abc" not in note


def test_a_pairs_run_counts_follow_the_pair_not_the_load(bench, monkeypatch):
    """A cheap pair whose runs are slowed by a loaded machine still gets the cheap pair's twin
    runs and goal; a pair slow by design (MPI) gets the slow counts however fast it ran."""
    import contextlib

    monkeypatch.setattr(bench, "open_student", lambda *a: contextlib.nullcontext(FakeStudent()))
    monkeypatch.setattr(
        bench, "check_once", lambda pair, s, seed, v: harness.Outcome(v == "bug", "race", 5.0, seed)
    )
    monkeypatch.setattr(
        bench, "stress_once", lambda pair, s, v, budget: harness.Outcome(False, "passed", budget)
    )
    kw = dict(runs=4, slow_runs=2, twin_runs=6, slow_twin_runs=3, frontrun_runs_n=0, base_seed=0)
    cheap = _pair(lambda student, seed: None)
    result = bench.measure(cheap, backend="local", log=lambda text: None, **kw)
    assert (result["runs"], len(result["checks"]["twin"])) == (4, 6)
    assert bench.twin_goal(cheap) == bench.GOAL["cheap_twin_runs"]
    mpi = dataclasses.replace(cheap, needs="mpi")
    monkeypatch.setattr(
        bench,
        "check_once",
        lambda pair, s, seed, v: harness.Outcome(v == "bug", "race", 0.01, seed),
    )
    result = bench.measure(mpi, backend="local", log=lambda text: None, **kw)
    assert (result["runs"], len(result["checks"]["twin"])) == (2, 3)
    assert bench.twin_goal(mpi) == bench.GOAL["twin_runs"]


def test_pairs_of_the_catalogue_missing_from_the_table_are_named(bench):
    """A table of merged batches that has not reached every pair says which it lacks."""

    class Args:
        argv, seed, runs, slow_runs, twin_runs, slow_twin_runs = [], 0, 1, 1, 1, 1
        stress_twin_runs = frontrun_twin_runs = merge = None
        backend, out = "local", Path("bench.md")

    first = bench.PAIRS[0]
    text = bench.render([_record(first)], Args, "now", 60.0, "0 0 0")
    others = len(bench.PAIRS) - 1
    assert f"**{others} of the catalogue's {len(bench.PAIRS)} pairs are not in this table**" in text
    assert f"`{bench.PAIRS[1].name}`" in text.split("not in this table**")[1]
    assert f"`{first.name}`" not in text.split("not in this table**")[1].split("\n")[0]


def _record(pair) -> dict:
    run = [dataclasses.asdict(harness.Outcome(True, pair.detects[0], 0.1, 0))]
    twin = [dataclasses.asdict(harness.Outcome(False, "passed", 0.1, 0))]
    return {
        "name": pair.name,
        "runs": 1,
        "twin_runs": 1,
        "measured": "2026-12-07T11:00:00",
        "checks": {"bug": run, "twin": twin},
        "stress": {"bug": twin, "twin": twin},
        "frontrun": {},
    }
