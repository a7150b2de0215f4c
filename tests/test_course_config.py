"""Malformed course.toml / exercise.toml: a ConfigError naming the file, the key and what was
expected; the CLI prints it as one line and exits with code 2."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from grader.course import Limits, load_course, load_exercise
from grader.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")

COURSE = """\
[course]
name = "Test course"
term = "Spring"
backend = "local"

[late_policy]
penalty_per_day = 0.1
last_day = 3

[limits]
wall_seconds = 5

[[exercise]]
slug = "counter"
due = 2026-09-21T23:59:00Z
"""

EXERCISE = """\
title = "A counter"
topic = "threads"
points = 10
files = ["solution.py"]

[runtime]
mpi = { ranks = [1, 2] }

[limits]
wall_seconds = 15

[weights]
test_a = 2
"""


def make_course(root: Path, course: str = COURSE, exercise: str = EXERCISE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "course.toml").write_text(course)
    ex = root / "exercises" / "counter"
    ex.mkdir(parents=True, exist_ok=True)
    (ex / "exercise.toml").write_text(exercise)
    return root


def config_error(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_course(root)
    return info.value


def test_the_valid_course_loads(tmp_path):
    course = load_course(make_course(tmp_path))
    assert course.name == "Test course" and course.backend == "local"
    ex = course.exercise("counter")
    assert ex.limits.wall_seconds == 15 and course.limits.wall_seconds == 5
    assert ex.runtime.mpi_ranks == (1, 2) and ex.weight("test_a") == 2.0
    assert ex.due is not None and ex.due.tzinfo is not None


# (what is broken, course.toml, exercise.toml, file, key, words of "expected")
CASES = {
    "missing course.name": (
        COURSE.replace('name = "Test course"\n', ""),
        EXERCISE,
        "course.toml",
        "course.name",
        ["string", "missing"],
    ),
    "missing [course]": (
        COURSE.replace('[course]\nname = "Test course"\nterm = "Spring"\nbackend = "local"\n', ""),
        EXERCISE,
        "course.toml",
        "course",
        ["table", "missing"],
    ),
    "backend not docker/local/auto": (
        COURSE.replace('backend = "local"', 'backend = "podman"'),
        EXERCISE,
        "course.toml",
        "course.backend",
        ["one of", "auto", "docker", "local"],
    ),
    "negative limit": (
        COURSE.replace("wall_seconds = 5", "wall_seconds = -5"),
        EXERCISE,
        "course.toml",
        "limits.wall_seconds",
        ["positive number"],
    ),
    "zero limit": (
        COURSE.replace("wall_seconds = 5", "memory_mb = 0"),
        EXERCISE,
        "course.toml",
        "limits.memory_mb",
        ["positive number"],
    ),
    "limit that is not a number": (
        COURSE.replace("wall_seconds = 5", 'wall_seconds = "5s"'),
        EXERCISE,
        "course.toml",
        "limits.wall_seconds",
        ["positive number"],
    ),
    "unknown limit key": (
        COURSE.replace("wall_seconds = 5", "wall_secs = 5"),
        EXERCISE,
        "course.toml",
        "limits.wall_secs",
        ["one of", "wall_seconds", "memory_mb"],
    ),
    "penalty over 1": (
        COURSE.replace("penalty_per_day = 0.1", "penalty_per_day = 10"),
        EXERCISE,
        "course.toml",
        "late_policy.penalty_per_day",
        ["from 0 to 1"],
    ),
    "exercise slug without a folder": (
        COURSE.replace('slug = "counter"', 'slug = "ghost"'),
        EXERCISE,
        "course.toml",
        "exercise[0].slug",
        ["exercises/ghost/", "exercise.toml"],
    ),
    "exercise listed twice": (
        COURSE + '\n[[exercise]]\nslug = "counter"\n',
        EXERCISE,
        "course.toml",
        "exercise[1].slug",
        ["listed once"],
    ),
    "due that is not a date": (
        COURSE.replace("due = 2026-09-21T23:59:00Z", 'due = "next monday"'),
        EXERCISE,
        "course.toml",
        "exercise[0].due",
        ["datetime"],
    ),
    "invalid TOML in course.toml": (
        COURSE.replace('name = "Test course"', 'name = "Test course'),
        EXERCISE,
        "course.toml",
        "-",
        ["valid TOML"],
    ),
    "unknown topic": (
        COURSE,
        EXERCISE.replace('topic = "threads"', 'topic = "quantum"'),
        "exercise.toml",
        "topic",
        ["one of", "threads", "processes", "mpi", "gpu"],
    ),
    "files not a list": (
        COURSE,
        EXERCISE.replace('files = ["solution.py"]', 'files = "solution.py"'),
        "exercise.toml",
        "files",
        ["array"],
    ),
    "files with a path": (
        COURSE,
        EXERCISE.replace('files = ["solution.py"]', 'files = ["../solution.py"]'),
        "exercise.toml",
        "files",
        ["plain file names"],
    ),
    "mpi ranks not integers": (
        COURSE,
        EXERCISE.replace("ranks = [1, 2]", 'ranks = ["two", 4]'),
        "exercise.toml",
        "runtime.mpi.ranks",
        ["integers"],
    ),
    "mpi ranks not a list": (
        COURSE,
        EXERCISE.replace("ranks = [1, 2]", "ranks = 4"),
        "exercise.toml",
        "runtime.mpi.ranks",
        ["array"],
    ),
    "negative limit in exercise.toml": (
        COURSE,
        EXERCISE.replace("wall_seconds = 15", "wall_seconds = -1"),
        "exercise.toml",
        "limits.wall_seconds",
        ["positive number"],
    ),
    "unknown limit key in exercise.toml": (
        COURSE,
        EXERCISE.replace("wall_seconds = 15", "timeout = 15"),
        "exercise.toml",
        "limits.timeout",
        ["one of", "wall_seconds"],
    ),
    "negative weight": (
        COURSE,
        EXERCISE.replace("test_a = 2", "test_a = -2"),
        "exercise.toml",
        "weights.test_a",
        [">= 0"],
    ),
    "missing title": (
        COURSE,
        EXERCISE.replace('title = "A counter"\n', ""),
        "exercise.toml",
        "title",
        ["string", "missing"],
    ),
    "invalid TOML in exercise.toml": (
        COURSE,
        EXERCISE.replace("[weights]", "[weights"),
        "exercise.toml",
        "-",
        ["valid TOML"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_config_names_file_key_and_expectation(tmp_path, case):
    course, exercise, filename, key, words = CASES[case]
    root = make_course(tmp_path / "course", course, exercise)
    err = config_error(root)
    expected_path = (
        root.resolve() / "course.toml"
        if filename == "course.toml"
        else root.resolve() / "exercises" / "counter" / "exercise.toml"
    )
    assert Path(err.path) == expected_path
    assert err.key == key
    for word in words:
        assert word in err.expected, f"{word!r} not in {err.expected!r}"
    text = str(err)
    where = "" if key == "-" else f" key '{key}':"  # no key to name when the whole file is wrong
    assert text.startswith(f"{expected_path}:{where} expected {err.expected}")


def test_missing_course_toml(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_course(tmp_path)
    assert Path(info.value.path) == tmp_path.resolve() / "course.toml"
    assert "exist" in info.value.expected


def test_exercise_toml_is_checked_on_its_own(tmp_path):
    ex = tmp_path / "counter"
    ex.mkdir()
    (ex / "exercise.toml").write_text(EXERCISE.replace("ranks = [1, 2]", "ranks = [1.5]"))
    with pytest.raises(ConfigError) as info:
        load_exercise(ex, Limits())
    assert info.value.key == "runtime.mpi.ranks" and info.value.got == [1.5]
    assert "runtime.mpi.ranks" in str(info.value) and "[1.5]" in str(info.value)


def test_unknown_exercise_names_the_known_ones(tmp_path):
    course = load_course(make_course(tmp_path))
    with pytest.raises(ConfigError) as info:
        course.exercise("nope")
    assert "counter" in info.value.expected and info.value.got == "nope"
    # A mistyped slug is the caller's mistake: the message says so, not "course.toml has a bad key".
    assert str(info.value).startswith("unknown exercise 'nope': ") and "counter" in str(info.value)


LINE = re.compile(r"^grader: (?P<path>/\S+):( key '(?P<key>[^']+)':)? expected .+$")


@pytest.mark.parametrize(
    "case",
    [
        "backend not docker/local/auto",
        "unknown topic",
        "invalid TOML in course.toml",
        "mpi ranks not integers",
    ],
)
def test_cli_prints_one_line_and_exits_2(tmp_path, case):
    course, exercise, filename, key, _ = CASES[case]
    root = make_course(tmp_path / "course", course, exercise)
    proc = subprocess.run(
        [GRADER, "--course", str(root), "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    match = LINE.match(lines[0])
    assert match, lines[0]
    assert match["path"].endswith(filename) and (match["key"] or "-") == key


def test_cli_finds_the_course_in_a_parent_folder(tmp_path):
    root = make_course(tmp_path / "course", COURSE.replace('backend = "local"', 'backend = "x"'))
    sub = root / "exercises" / "counter"
    proc = subprocess.run([GRADER, "list"], cwd=sub, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert LINE.match(proc.stderr.strip())
    assert str(root.resolve() / "course.toml") in proc.stderr


def test_cli_outside_a_course_says_how_to_name_one(tmp_path):
    proc = subprocess.run(
        [GRADER, "list"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"grader: {tmp_path.resolve() / 'course.toml'}: expected ")
    assert "key '-'" not in proc.stderr and "grader --course DIR" in proc.stderr
