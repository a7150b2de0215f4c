"""Every exercise validates on Docker (reference full marks, skeleton 0 on hidden tests, mutants
caught), its reference and skeleton also on the local backend, and the sample class grades to
its known answers on Docker. The tables are printed (`make test` shows them with -rP), so CI
shows rows such as "not run: no GPU"."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, require_docker
from grader.course import load_course
from grader.validate import format_table, validate

COURSE = load_course(ROOT)


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(COURSE.exercises))
def test_exercise_validates_on_docker(slug):
    require_docker()
    checks = validate(COURSE, [COURSE.exercise(slug)], "docker", jobs=2)
    print(format_table(checks))
    assert all(c.ok for c in checks), "\n" + format_table(checks)


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(COURSE.exercises))
def test_reference_and_skeleton_on_the_local_backend(slug):
    checks = validate(COURSE, [COURSE.exercise(slug)], "local", jobs=2,
                      only=("reference", "skeleton"))
    print(format_table(checks))
    assert all(c.ok for c in checks), "\n" + format_table(checks)


@pytest.mark.slow
def test_demo_grades_the_sample_class_on_docker(tmp_path):
    require_docker()
    proc = subprocess.run([sys.executable, "-m", "grader", "demo", "--backend", "docker",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Every score matches" in proc.stdout
    assert (tmp_path / "locked_counter" / "gradebook.csv").exists()
