"""Every exercise validates on Docker (reference and correct alternatives full marks, skeleton 0
on hidden tests, mutants caught, every requirement proven by a mutant that fails one of its
tests), its reference and skeleton also on the local backend, and the sample class grades to
its known answers on Docker. The tables are printed (`make test` shows them with -rP), so CI
shows rows such as "not run: no GPU" and the requirements waiting for grader machinery."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, require_docker
from grader.course import load_course
from grader.validate import coverage, format_coverage, format_table, validate

COURSE = load_course(ROOT)


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(COURSE.exercises))
def test_exercise_validates_on_docker(slug):
    require_docker()
    exercise = COURSE.exercise(slug)
    checks = validate(COURSE, [exercise], "docker", jobs=2)
    proofs, problems = coverage(COURSE, [exercise], checks)
    print(format_table(checks))
    print(format_coverage(proofs, problems))
    assert all(c.ok for c in checks), "\n" + format_table(checks)
    assert all(p.ok for p in proofs) and not problems, "\n" + format_coverage(proofs, problems)


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(COURSE.exercises))
def test_reference_and_skeleton_on_the_local_backend(slug):
    checks = validate(
        COURSE, [COURSE.exercise(slug)], "local", jobs=2, only=("reference", "skeleton", "correct")
    )
    print(format_table(checks))
    assert all(c.ok for c in checks), "\n" + format_table(checks)


@pytest.mark.slow
def test_demo_grades_the_sample_class_on_docker(tmp_path):
    require_docker()
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "demo", "--backend", "docker", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Every score matches" in proc.stdout
    assert (tmp_path / "locked_counter" / "gradebook.csv").exists()


def test_demo_known_answers_hold_after_the_dates_move(tmp_path):
    """The README's order: `make demo`, then `grader course dates --start today-7` for the
    portal; `make demo` again still matches (carol, 2 days late, keeps 8, not 10), with and
    without the store, where her attempt is recorded from the first run."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "exercises" / "locked_counter", course / "exercises" / "locked_counter")
    toml = (ROOT / "course.toml").read_text().split("[[exercise]]")
    (course / "course.toml").write_text("[[exercise]]".join(toml[:2]))  # locked_counter only
    sample = course / "sample_class"
    (sample / "locked_counter" / "carol").mkdir(parents=True)
    for name in ("locked_counter/carol/solution.py", "locked_counter/received.csv", "schedule.csv"):
        shutil.copy(ROOT / "sample_class" / name, sample / name)
    rows = (ROOT / "sample_class" / "expected.csv").read_text().splitlines()
    carol = [r for r in rows if r.startswith("locked_counter,carol,")]
    (sample / "expected.csv").write_text("\n".join([rows[0], *carol]) + "\n")
    grader = [sys.executable, "-m", "grader", "--course", str(course)]

    def demo(*store: str) -> str:
        out = ["--out", str(tmp_path / "out")]
        proc = subprocess.run(
            [*grader, "demo", "--backend", "local", *out, *store],
            cwd=course,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        return proc.stdout

    demo()  # recorded in the course's store with the dates as committed
    subprocess.run([*grader, "course", "dates", "--shift", "90"], check=True, capture_output=True)
    for store in ([], ["--no-store"]):
        out = demo(*store)
        assert re.search(r"carol +8\.0 / 10 +expected 8\.0 +ok", out), out


@pytest.mark.slow
def test_gpu_check_script_dry_run():
    """scripts/gpu_check.sh without a GPU: every step runs, the kernel requirements are
    unproven (never proven) and the sanitizer tests on real kernels are skipped (never
    passed); the table comes out."""
    proc = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run", "--budget", "900"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1000,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    assert "ALL OK" in out.splitlines()[0]
    for step in (
        "grader validate pycuda_reduction",
        "grader validate pycuda_vector_ops",
        "compute-sanitizer on real kernels",
    ):
        assert any(line.startswith(step) and " ok " in line for line in out.splitlines()), out


def test_a_racy_sample_student_may_lose_exactly_its_value_tests_points():
    """`grader demo`'s known answers: a racy submission whose race really shows in a value test
    (updates lost under the machine's own scheduling) is expected to lose exactly that test's
    points, as a plain wrong value; nothing else moves its expected score."""
    from grader.demo import expected_now, races_may_show

    may = races_may_show(ROOT / "sample_class")
    assert may[("locked_counter", "frank")] == {
        "test_parallel_count_values",
        "test_mixed_increment_decrement",
    }
    assert may[("locked_counter", "alice")] == frozenset()
    values = may[("locked_counter", "bob")]
    seen = [("test_parallel_count_values", "failed", 0.5), ("test_sequential_use", "passed", 0.5)]
    assert expected_now(6.0, seen, values) == 5.5
    assert expected_now(6.0, seen, values, penalty=0.2) == 5.6
    assert expected_now(6.0, [("test_parallel_count_values", "error", 0.5)], values) == 6.0
    assert expected_now(6.0, [("test_sequential_use", "failed", 0.5)], values) == 6.0
    assert expected_now(10.0, seen, may[("locked_counter", "alice")]) == 10.0
