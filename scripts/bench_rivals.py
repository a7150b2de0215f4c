"""The trivial exercise of the scale benchmark, written three ways: ours, otter-grader, nbgrader.

otter-grader runs two ways: `otter run` (no Docker, one process per submission) and `otter grade`
(its Docker batch mode, as instructors grade: one container per submission, every core busy),
the latter offline through `scripts/otter_offline.py` (what it changes is in the report).

`total(xs)` returns the sum of `xs`; one public check (`total([1, 2, 3]) == 6`) and two hidden
ones (`total(range(100)) == 4950`, `total([]) == 0`), worth 3 points in otter and nbgrader and
the exercise's 10 points split over the three tests in ours. Every fifth copy is wrong (sums
only the first three items: fails `total(range(100))` alone), so each tool's scores are checked:
ours and otter give 2/3 of the points (otter credits each doctest case), nbgrader 0 (a test
cell passes or fails whole).

otter-grader and nbgrader are installed from PyPI into their own venv (`.cache/bench-venv`,
made here on first use), never into the project's. Used by `scripts/bench_scale.py` and
`scripts/bench_warm.py`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".cache" / "bench-venv"
RIVALS = ("otter-grader", "nbgrader", "ipykernel")

SLUG = "trivial_sum"
RIGHT = "def total(xs):\n    return sum(xs)\n"
WRONG = "def total(xs):\n    return sum(list(xs)[:3])\n"  # fails total(range(100)) only
PUBLIC = [("[1, 2, 3]", "6")]
HIDDEN = [("range(100)", "4950"), ("[]", "0")]

EXERCISE_TOML = """title = "A trivial sum (benchmark only)"
topic = "threads"
points = 10
files = ["solution.py"]
"""


def is_right(i: int) -> bool:
    return i % 5 != 4


def names(n: int) -> list[str]:
    return [f"s{i:03d}" for i in range(n)]


# ---------------------------------------------------------------- ours


def _test_file(doc: str, cases: list[tuple[str, str]]) -> str:
    body = [f'"""{doc}"""', "", "from grader.testing import expect_equal", ""]
    for k, (arg, want) in enumerate(cases):
        body += [
            "",
            f"def test_total_{k}(student):",
            f'    """total({arg}) is {want}"""',
            f'    expect_equal(student.call("total", list({arg})), {want}, "total({arg})")',
            "",
        ]
    return "\n".join(body)


def write_our_exercise(course: Path) -> None:
    """exercises/trivial_sum in a benchmark course folder (never in the real course)."""
    ex = course / "exercises" / SLUG
    for suite, cases in (("public", PUBLIC), ("hidden", HIDDEN)):
        (ex / "tests" / suite).mkdir(parents=True)
        (ex / "tests" / suite / f"test_{suite}.py").write_text(
            _test_file(f"{suite.title()} tests of the benchmark's trivial exercise.", cases)
        )
    (ex / "skeleton").mkdir()
    (ex / "skeleton" / "solution.py").write_text("def total(xs):\n    raise NotImplementedError\n")
    (ex / "README.md").write_text("# A trivial sum\n\n`total(xs)` returns `sum(xs)`.\n")
    (ex / "exercise.toml").write_text(EXERCISE_TOML)


def course_entry() -> str:
    return f'\n[[exercise]]\nslug = "{SLUG}"\npoints = 10\n'


def write_our_class(folder: Path, n: int) -> dict[str, float]:
    """n submissions (folders with solution.py); returns the score each must get."""
    expected = {}
    for i, name in enumerate(names(n)):
        (folder / name).mkdir(parents=True)
        (folder / name / "solution.py").write_text(RIGHT if is_right(i) else WRONG)
        expected[name] = 10.0 if is_right(i) else round(20 / 3, 4)
    return expected


# ---------------------------------------------------------------- the venv


def venv_bin(name: str) -> Path:
    return VENV / "bin" / name


def ensure_venv(log=print) -> dict[str, str]:
    """The rivals' venv (created and filled from PyPI if missing); their versions."""
    if not venv_bin("otter").exists() or not venv_bin("nbgrader").exists():
        log(f"creating {VENV} with {', '.join(RIVALS)} from PyPI")
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(venv_bin("pip")), "install", "-q", *RIVALS],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    out = subprocess.run(
        [
            str(venv_bin("python")),
            "-c",
            "import importlib.metadata as m, json; print(json.dumps("
            f"{{p: m.version(p) for p in {list(RIVALS)!r}}}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def _env() -> dict[str, str]:
    # nbgrader runs `alembic` from PATH; kernels must be the venv's Python.
    return {
        **os.environ,
        "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}",
        "VIRTUAL_ENV": str(VENV),
        "PYTHONNOUSERSITE": "1",
    }


# ---------------------------------------------------------------- otter-grader


def _otter_test() -> str:
    cases = [{"code": f">>> total({a})\n{w}", "hidden": False, "locked": False} for a, w in PUBLIC]
    cases += [{"code": f">>> total({a})\n{w}", "hidden": True, "locked": False} for a, w in HIDDEN]
    test = {
        "name": "q1",
        "points": 3,
        "suites": [
            {"cases": cases, "scored": True, "setup": "", "teardown": "", "type": "doctest"}
        ],
    }
    return f"OK_FORMAT = True\ntest = {test!r}\n"


def _otter_setup(work: Path, n: int) -> tuple[Path, Path]:
    """`otter generate`'s autograder zip and the n .py submissions (a folder): their paths."""
    (work / "tests").mkdir(parents=True)
    (work / "tests" / "q1.py").write_text(_otter_test())
    zip_path = work / "autograder.zip"
    subprocess.run(
        [
            str(venv_bin("otter")),
            "generate",
            "-t",
            str(work / "tests"),
            "-o",
            str(zip_path),
            "--no-requirements",
            "--no-environment",
            "--no-config",
        ],
        cwd=work,
        env=_env(),
        check=True,
        capture_output=True,
    )
    subs = work / "submissions"
    subs.mkdir()
    for i, name in enumerate(names(n)):
        (subs / f"{name}.py").write_text(RIGHT if is_right(i) else WRONG)
    return zip_path, subs


def run_otter(work: Path, n: int, log=print) -> dict:
    """`otter run` (no Docker) on n .py submissions, one after the other, as otter grades them."""
    zip_path, subs = _otter_setup(work, n)
    times, wrong = [], []
    t0 = time.monotonic()
    for i, name in enumerate(names(n)):
        out = work / "out" / name
        out.mkdir(parents=True)
        s = time.monotonic()
        proc = subprocess.run(
            [
                str(venv_bin("otter")),
                "run",
                "-a",
                str(zip_path),
                "-o",
                str(out),
                "--no-logo",
                str(subs / f"{name}.py"),
            ],
            cwd=work,
            env=_env(),
            capture_output=True,
            text=True,
        )
        times.append(time.monotonic() - s)
        score = _otter_score(out / "results.json")
        if proc.returncode != 0 or score != (3.0 if is_right(i) else 2.0):
            wrong.append(f"{name}: exit {proc.returncode}, score {score}")
    wall = time.monotonic() - t0
    log(f"otter run: {n} submissions in {wall:.1f} s")
    return {
        "tool": "otter-grader",
        "how": "`otter run -a autograder.zip SUB.py`, no Docker, one "
        "process per submission, one after the other",
        "n": n,
        "wall": wall,
        "per_submission": times,
        "concurrent": 1,
        "score_problems": wrong,
    }


# The grading image's name (`otter-grade:NAME`): one name, so that otter's per-run build reuses
# the layers of the last one, as an instructor's second `otter grade` of an assignment does.
OTTER_GRADE_NAME = "pgrader-bench-trivial"
OTTER_BUILT = "Notebooks to grade"  # otter logs it once its image is built


def run_otter_grade(work: Path, n: int, log=print, containers: int | None = None) -> dict:
    """`otter grade` (otter's Docker batch mode) on n .py submissions in one command,
    `containers` at once (default: every core). Its offline base image is built beforehand,
    untimed, like our sandbox image; otter's own image build over it runs on every `otter
    grade` and is inside the timed wall (`image_build_s` of it, from otter's log)."""
    import otter_offline

    version = ensure_venv(log)["otter-grader"]
    base = otter_offline.ensure_base_image(venv_bin("python"), version, log)
    zip_path, subs = _otter_setup(work, n)
    otter_offline.offline_zip(zip_path)
    env = _env()
    env["PATH"] = f"{otter_offline.docker_shim(work / 'shim')}:{env['PATH']}"
    containers = containers or os.cpu_count() or 1
    (work / "out").mkdir()
    argv = [str(venv_bin("otter")), "grade", "-n", OTTER_GRADE_NAME, "-a", str(zip_path)]
    argv += ["-o", str(work / "out"), "--ext", "py", "--containers", str(containers)]
    argv += ["--image", base, "--no-network", "-v", str(subs)]  # -v: INFO, OTTER_BUILT
    image = f"otter-grade:{OTTER_GRADE_NAME}"
    seen = subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode
    cache = "its layers cached by an earlier run" if seen == 0 else "the first build: uncached"
    lines, built = [], None
    t0 = time.monotonic()
    with subprocess.Popen(
        argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if built is None and OTTER_BUILT in line:
                built = time.monotonic() - t0
    wall = time.monotonic() - t0
    (work / "otter-grade.log").write_text("".join(lines))
    log(f"otter grade: {n} submissions in {wall:.1f} s, {containers} containers at once")
    csv_path = work / "out" / "final_grades.csv"
    scores = otter_offline.grade_scores(csv_path.read_text()) if csv_path.exists() else {}
    wrong = otter_grade_problems(scores, n)
    if proc.returncode or built is None:
        tail = "".join(lines)[-500:]
        wrong.insert(0, f"exit {proc.returncode}, image built: {built is not None}: {tail}")
    return {
        "tool": "otter-grader (otter grade)",
        "how": f"`otter grade --containers {containers} --image BASE --no-network DIR` over all "
        f"submissions in one command: a `docker build` of its grading image on every run "
        f"({built or float('nan'):.1f} s of this wall, {cache}), then a fresh container per "
        f"submission, {containers} at once",
        "n": n,
        "wall": wall,
        "image_build_s": built,
        "per_submission": [],
        "concurrent": containers,
        "score_problems": wrong,
        "changes": otter_offline.changes(),
    }


def rival_notes(rows) -> list[str]:
    """The report's note, per row, of what was changed from a rival's defaults to run here."""
    return [
        f"- {r['tool']}: changed from otter's defaults to run on this machine, offline (no "
        f"registry pulls, no TLS to PyPI from containers, no buildx): {r['changes']}."
        for r in rows
        if r.get("changes")
    ]


def otter_grade_problems(scores: dict[str, float | None], n: int) -> list[str]:
    """Submissions whose `otter grade` points are not the expected 3 (right) or 2 (wrong)."""
    return [
        f"{name}: score {scores.get(name)}"
        for i, name in enumerate(names(n))
        if scores.get(name) != (3.0 if is_right(i) else 2.0)
    ]


def _otter_score(path: Path) -> float | None:
    """Points otter gave (its "Public Tests" line carries no score)."""
    if not path.exists():
        return None
    tests = json.loads(path.read_text()).get("tests", [])
    return sum(float(t.get("score") or 0) for t in tests if t.get("name") != "Public Tests")


# ---------------------------------------------------------------- nbgrader


def _cell(source: str, nbgrader: dict) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "outputs": [],
        "source": source,
        "id": nbgrader["grade_id"].replace("_", "-"),
        "metadata": {"nbgrader": {"schema_version": 3, "task": False, **nbgrader}},
    }


def _source_notebook() -> dict:
    checks = [f"assert total({a}) == {w}" for a, w in PUBLIC]
    hidden = [f"assert total({a}) == {w}" for a, w in HIDDEN]
    tests = "\n".join(checks + ["### BEGIN HIDDEN TESTS", *hidden, "### END HIDDEN TESTS"]) + "\n"
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            _cell(
                "def total(xs):\n    ### BEGIN SOLUTION\n    return sum(xs)\n    ### END SOLUTION\n",
                {"grade": False, "grade_id": "total", "locked": False, "solution": True},
            ),
            _cell(
                tests,
                {
                    "grade": True,
                    "grade_id": "test_total",
                    "locked": True,
                    "points": 3,
                    "solution": False,
                },
            ),
        ],
    }


def run_nbgrader(work: Path, n: int, log=print) -> dict:
    """`nbgrader autograde` of n submitted notebooks (the released notebook, solution filled in)."""
    (work / "source" / SLUG).mkdir(parents=True)
    (work / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(work)!r}\n"
        "c.CourseDirectory.course_id = 'bench'\n"
    )
    (work / "source" / SLUG / f"{SLUG}.ipynb").write_text(json.dumps(_source_notebook(), indent=1))
    nbgrader = str(venv_bin("nbgrader"))
    subprocess.run(
        [nbgrader, "generate_assignment", SLUG, "--force"],
        cwd=work,
        env=_env(),
        check=True,
        capture_output=True,
    )
    released = json.loads((work / "release" / SLUG / f"{SLUG}.ipynb").read_text())
    for i, name in enumerate(names(n)):
        released["cells"][0]["source"] = RIGHT if is_right(i) else WRONG
        folder = work / "submitted" / name / SLUG
        folder.mkdir(parents=True)
        (folder / f"{SLUG}.ipynb").write_text(json.dumps(released))
    t0 = time.monotonic()
    proc = subprocess.run(
        [nbgrader, "autograde", SLUG], cwd=work, env=_env(), capture_output=True, text=True
    )
    wall = time.monotonic() - t0
    log(f"nbgrader autograde: {n} submissions in {wall:.1f} s (exit {proc.returncode})")
    wrong = [] if proc.returncode == 0 else [f"exit {proc.returncode}: {proc.stderr[-500:]}"]
    scores = _nbgrader_scores(work / "gradebook.db")
    for i, name in enumerate(names(n)):
        if scores.get(name) != (3.0 if is_right(i) else 0.0):
            wrong.append(f"{name}: score {scores.get(name)}")
    return {
        "tool": "nbgrader",
        "how": "`nbgrader autograde ASSIGNMENT` over all submitted "
        "notebooks in one command (one kernel per notebook, one after the other)",
        "n": n,
        "wall": wall,
        "per_submission": [],
        "concurrent": 1,
        "score_problems": wrong,
    }


def _nbgrader_scores(db: Path) -> dict[str, float]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT s.student_id, SUM(g.auto_score) FROM grade g "
            "JOIN submitted_notebook n ON g.notebook_id = n.id "
            "JOIN submitted_assignment s ON n.assignment_id = s.id GROUP BY s.student_id"
        ).fetchall()
    return {student: float(score) for student, score in rows}
