"""The `grader` command line: list, grade --json (Gradescope superset), late policy, seeds, check.

Everything runs the venv's `grader` in a subprocess from the repository root, on the local
backend. The two full gradings run at the same time in one module-scoped fixture.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from grader.course import LatePolicy, load_course
from grader.results import late_days

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")
SLUG = "locked_counter"
N_TESTS = sum(
    p.read_text().count("\ndef test_")
    for p in (ROOT / "exercises" / SLUG / "tests").glob("*/test_*.py")
)
REFERENCE = ROOT / "solutions" / SLUG / "solution.py"
SKELETON = ROOT / "exercises" / SLUG / "skeleton" / "solution.py"
SEED = 424242
# course.toml's, wherever `grader course dates` (the README's portal steps) has moved them
DUE = load_course(ROOT).exercise(SLUG).due or dt.datetime(2026, 9, 21, 23, 59, tzinfo=dt.UTC)
OPENS = load_course(ROOT).exercise(SLUG).opens


def after_due(days: int, hours: int, offset: str = "Z") -> str:
    """A received time `days` and `hours` past the due date (ISO 8601; `offset` "": none)."""
    return (DUE + dt.timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%S") + offset


GRADESCOPE_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def grader(*args, cwd=ROOT, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([GRADER, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _docstring_names(folder: Path) -> list[str]:
    """The first docstring line of each test function (the name students see)."""
    text = "".join(p.read_text() for p in sorted(folder.glob("test_*.py")))
    return re.findall(r'def test_\w+\([^)]*\):\n\s+"""([^\n"]+)', text)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Two gradings of the reference with the same seed: 2 days late, and 5 days late."""
    base = tmp_path_factory.mktemp("cli")
    runs = {"two_days": after_due(1, 12), "five_days": after_due(4, 8, "+00:00")}
    procs = {}
    for name, received in runs.items():
        argv = [
            GRADER,
            "grade",
            SLUG,
            str(REFERENCE),
            "--json",
            "--backend",
            "local",
            "--out",
            str(base / name),
            "--seed",
            str(SEED),
            "--received",
            received,
            "--student",
            name,
        ]
        procs[name] = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
        out[name] = {"json": json.loads(stdout), "stderr": stderr, "dir": base / name}
    return out


# ---------------------------------------------------------------- list


def test_list_shows_the_course_and_its_exercises():
    proc = grader("list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Parallel Programming in Python (Fall 2026)"
    [row] = [line for line in lines if line.split()[:1] == [SLUG]]
    assert "threads" in row and "10 pts" in row and f"due {DUE:%Y-%m-%d %H:%M}" in row
    assert "needs: -" in row
    course = load_course(ROOT)
    assert len(lines) == 1 + len(course.exercises)
    for slug in course.exercises:
        assert any(line.split()[:1] == [slug] for line in lines[1:])


# ---------------------------------------------------------------- grade --json


def test_grade_json_is_a_gradescope_superset(graded):
    res = graded["two_days"]["json"]
    # Gradescope's top level
    assert isinstance(res["score"], (int, float))
    assert isinstance(res["execution_time"], (int, float)) and res["execution_time"] > 0
    assert isinstance(res["output"], str) and res["output"]
    assert res["visibility"] in GRADESCOPE_VISIBILITY
    assert res["stdout_visibility"] in GRADESCOPE_VISIBILITY
    assert isinstance(res["tests"], list) and len(res["tests"]) == N_TESTS
    for t in res["tests"]:
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert t["status"] in {"passed", "failed"}
        assert isinstance(t["output"], str)
        assert t["visibility"] in GRADESCOPE_VISIBILITY
        # ours
        assert t["verdict"] == "passed" and t["status"] == "passed"
        assert t["points"] == t["score"] == t["max_points"] == t["max_score"]
        assert "seed" in t
    assert sum(t["max_score"] for t in res["tests"]) == pytest.approx(10.0)
    # ours, at the top
    meta = res["pgrader"]
    assert meta["grader_version"]
    assert meta["sandbox"]["backend"] == "local"
    assert meta["seed"] == SEED
    assert isinstance(meta["seeds"], dict) and meta["seeds"]
    assert meta["student"] == "two_days" and meta["exercise"] == SLUG


def test_grade_writes_the_printed_results(graded):
    for run in graded.values():
        folder = run["dir"]
        assert json.loads((folder / "results.json").read_text()) == run["json"]
        assert (folder / "feedback.html").is_file()


def test_two_days_late_loses_twenty_percent(graded):
    res = graded["two_days"]["json"]
    meta = res["pgrader"]
    assert meta["raw_score"] == 10.0
    assert meta["late_days"] == 2
    assert meta["penalty"] == pytest.approx(0.2)
    assert res["score"] == pytest.approx(8.0)  # raw * 0.8
    assert "Late by 2 day(s)" in res["output"]


def test_later_than_last_day_scores_zero(graded):
    res = graded["five_days"]["json"]
    meta = res["pgrader"]
    assert meta["raw_score"] == 10.0
    assert meta["late_days"] == 5
    assert meta["penalty"] == 1.0
    assert res["score"] == 0


def test_same_seed_gives_the_same_per_test_seeds(graded):
    a, b = graded["two_days"]["json"], graded["five_days"]["json"]
    assert a["pgrader"]["seed"] == b["pgrader"]["seed"] == SEED
    assert a["pgrader"]["seeds"] == b["pgrader"]["seeds"]
    assert [t["seed"] for t in a["tests"]] == [t["seed"] for t in b["tests"]]
    assert any(t["seed"] is not None for t in a["tests"])
    # the per-test seeds are derived from the base seed
    for t in a["tests"]:
        if t["seed"] is not None:
            assert a["pgrader"]["seeds"][t["function"]] == t["seed"]


@pytest.mark.parametrize(
    "received, days",
    [
        (DUE - dt.timedelta(days=3), 0),
        (DUE, 0),
        (DUE + dt.timedelta(seconds=1), 1),
        (DUE + dt.timedelta(days=1), 1),
        (DUE + dt.timedelta(days=1, seconds=1), 2),
        (None, 0),
    ],
)
def test_late_days_round_up(received, days):
    assert late_days(received, DUE) == days


def test_late_policy_of_the_course():
    policy = load_course(ROOT).late_policy
    assert policy == LatePolicy(penalty_per_day=0.1, last_day=3)
    assert [policy.penalty(d) for d in range(6)] == pytest.approx([0, 0.1, 0.2, 0.3, 1.0, 1.0])


def test_received_that_is_not_a_date_is_a_clear_error(tmp_path):
    proc = grader(
        "grade",
        SLUG,
        str(REFERENCE),
        "--backend",
        "local",
        "--out",
        str(tmp_path),
        "--received",
        "yesterday",
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "yesterday" in proc.stderr and "ISO 8601" in proc.stderr


NOLOCK_TYPO = "solutions/locked_counter/mutants/nolock/solution.py"  # the mutant is no_lock


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["grade", SLUG, NOLOCK_TYPO], NOLOCK_TYPO),
        (["grade-all", SLUG, "sample_class/lockedcounter"], "sample_class/lockedcounter"),
        (["check", SLUG, "no/such/solution.py"], "no/such/solution.py"),
        (["replay", SLUG, str(REFERENCE), "no/such/results.json"], "no/such/results.json"),
    ],
    ids=["grade", "grade-all", "check", "replay"],
)
def test_a_mistyped_path_is_named_and_nothing_is_written(tmp_path, argv, missing):
    """Not a refused submission written over an earlier run's results, not a traceback."""
    out = ["--out", str(tmp_path / "out")] if argv[0] in ("grade", "grade-all") else []
    backend = [] if argv[0] == "check" else ["--backend", "local"]  # check is always local
    proc = grader(*argv, *out, *backend)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{missing!r} does not exist" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_grade_all_of_a_file_asks_for_a_folder(tmp_path):
    proc = grader("grade-all", SLUG, str(REFERENCE), "--out", str(tmp_path / "out"), "--no-store")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is not a folder" in proc.stderr


def test_output_piped_to_a_reader_that_leaves_is_no_traceback():
    """`grader list | head -1`: the reader is gone before grader writes."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as usual
    proc = subprocess.Popen(
        [GRADER, "list"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 141 and b"Traceback" not in stderr, stderr


def test_a_mistyped_exercise_is_named_with_the_known_ones(tmp_path):
    proc = grader("grade", "lockedcounter", str(REFERENCE), "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("grader: unknown exercise 'lockedcounter': ")
    assert SLUG in proc.stderr


def test_received_without_a_time_zone_is_utc(tmp_path):
    # A refused submission is graded at once; the late days are recorded all the same.
    bad = tmp_path / "bad.py"
    bad.write_text("def parallel_count(n_threads, n_increments)\n")
    proc = grader(
        "grade",
        SLUG,
        str(bad),
        "--json",
        "--backend",
        "local",
        "--out",
        str(tmp_path / "out"),
        "--received",
        after_due(1, 12, ""),
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["pgrader"]["late_days"] == 2 and res["pgrader"]["penalty"] == pytest.approx(0.2)
    assert res["score"] == 0 and "line 1" in res["pgrader"]["error"]


def test_exceptions_that_ended_a_worker_thread_or_a_child_process_are_shown(tmp_path):
    """The reference, except that its first worker thread raises and it first forks a child
    that raises: the answer is only wrong, and the feedback shows both exceptions with the
    student's line (Python printed them on stderr and went on)."""
    text = (
        REFERENCE.read_text()
        .replace(
            "    def work():\n",
            "    def work():\n"
            "        if threading.current_thread() is ts[0]:\n"
            "            raise ValueError('worker 0 gave up')\n",
        )
        .replace(
            "    c = SafeCounter()\n",
            "    import multiprocessing\n"
            "    child = multiprocessing.get_context('fork').Process(target=dict().pop, args=('k',))\n"
            "    child.start(); child.join()\n    c = SafeCounter()\n",
            1,
        )
    )
    assert "gave up" in text and "fork" in text
    (tmp_path / "solution.py").write_text(text)
    proc = grader(
        "grade",
        SLUG,
        str(tmp_path / "solution.py"),
        "--backend",
        "local",
        "--out",
        str(tmp_path / "out"),
        "--seed",
        "1",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = text.splitlines().index("            raise ValueError('worker 0 gave up')") + 1
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    small = next(t for t in results["tests"] if "small input" in t["name"])
    kinds = {(u["kind"], u["type"]) for u in small["details"]["uncaught"]}
    assert kinds == {("thread", "ValueError"), ("process", "KeyError")}, kinds
    page = (tmp_path / "out" / "feedback.html").read_text()
    assert re.search(r"An exception ended a thread \(Thread-\d+ \(work\)\)", page)
    assert "An exception ended a child process (ForkProcess-1)" in page
    assert f"<td>{line}</td>" in page and "ValueError: worker 0 gave up" in page


# ---------------------------------------------------------------- check


def test_check_runs_only_public_tests_and_passes_the_reference():
    proc = grader("check", SLUG, str(REFERENCE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    public = _docstring_names(ROOT / "exercises" / SLUG / "tests" / "public")
    hidden = _docstring_names(ROOT / "exercises" / SLUG / "tests" / "hidden")
    assert public and hidden
    for name in public:
        assert name in proc.stdout
    for name in hidden:
        assert name not in proc.stdout
    assert f"{len(public)} of {len(public)} tests passed" in proc.stdout


def test_check_fails_the_skeleton():
    proc = grader("check", SLUG, str(SKELETON))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "NotImplementedError" in proc.stdout
    assert "0 of 2 tests passed" in proc.stdout


# ---------------------------------------------------------------- course dates


def test_course_dates_move_by_days_or_to_a_start_keeping_the_file_as_written(tmp_path):
    import shutil

    shutil.copy(ROOT / "course.toml", tmp_path / "course.toml")
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    before = (tmp_path / "course.toml").read_text()
    proc = grader("--course", str(tmp_path), "course", "dates", "--shift", "7")
    assert proc.returncode == 0, proc.stderr
    after = (tmp_path / "course.toml").read_text()
    week = dt.timedelta(days=7)
    assert f"due = {DUE + week:%Y-%m-%dT%H:%M:%SZ}" in after
    assert OPENS is not None and f"opens = {OPENS + week:%Y-%m-%dT%H:%M:%SZ}" in after
    assert [line for line in before.splitlines() if "=" not in line or "#" in line] == [
        line for line in after.splitlines() if "=" not in line or "#" in line
    ]  # comments, layout kept
    assert load_course(tmp_path).exercise(SLUG).due == DUE + dt.timedelta(days=7)
    today = dt.datetime.now(dt.UTC).date()
    proc = grader("--course", str(tmp_path), "course", "dates", "--start", "today-7")
    assert proc.returncode == 0, proc.stderr
    course = load_course(tmp_path)
    first = min(ex.opens for ex in course.exercises.values())
    assert first.date() == today - dt.timedelta(days=7)
    lines = proc.stdout.splitlines()
    assert any(line.split()[0] == SLUG and line.endswith(" open") for line in lines[2:]), lines
    for bad in (["--start", "next week"], ["--shift", "x"]):
        proc = grader("--course", str(tmp_path), "course", "dates", *bad)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert load_course(tmp_path).exercise(SLUG).due == course.exercise(SLUG).due


def test_course_time_zone_applies_to_dates_without_an_offset(tmp_path):
    import shutil

    shutil.copytree(ROOT / "exercises" / SLUG, tmp_path / "exercises" / SLUG)
    (tmp_path / "course.toml").write_text(
        '[course]\nname = "C"\ntimezone = "Europe/Berlin"\n\n[[exercise]]\n'
        f'slug = "{SLUG}"\ndue = 2026-09-21T23:59:00\n'
    )
    course = load_course(tmp_path)
    assert course.exercise(SLUG).due == dt.datetime(2026, 9, 21, 21, 59, tzinfo=dt.UTC)
    proc = grader("--course", str(tmp_path), "list")
    assert "due 2026-09-21 23:59 CEST" in proc.stdout
    (tmp_path / "course.toml").write_text('[course]\nname = "C"\ntimezone = "Mars/Olympus"\n')
    proc = grader("--course", str(tmp_path), "list")
    assert proc.returncode == 2 and "course.timezone" in proc.stderr and "IANA" in proc.stderr


def test_the_parser_is_built_from_the_command_table():
    """Every command of `grader.cli.COMMANDS` is a sub-command with its handler and its
    arguments; one added to the table needs nothing else."""
    from grader import cli

    parser = cli.build_parser()
    help_text = parser.format_help()
    for command in cli.COMMANDS:
        assert command.name in help_text and command.help.split()[0] in help_text
    args = parser.parse_args(["validate", "a", "b", "--only", "reference", "-j", "3"])
    assert (args.func, args.slugs, args.only, args.jobs) == (
        cli.cmd_validate,
        ["a", "b"],
        "reference",
        3,
    )
    args = parser.parse_args(["accounts", "set-password", "ann", "--store", "x.db"])
    assert (args.func, args.action, args.login, args.store) == (
        cli.cmd_accounts,
        "set-password",
        "ann",
        "x.db",
    )
    with pytest.raises(SystemExit):  # --shift and --start exclude each other
        parser.parse_args(["course", "dates", "--shift", "1", "--start", "today"])
    extra = cli.Command("hello", "say hello", cli.cmd_list, (cli.arg("--to", default="you"),))
    cli._add_command(parser._subparsers._group_actions[0], extra)
    assert parser.parse_args(["hello", "--to", "me"]).to == "me"
