"""The test count that sizes a run's time budget (grader/judge/counting.py) is pytest's own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from grader.judge.counting import count_in_source, count_tests
from grader.judge.runner import time_budget

MODULE = """
import pytest

def test_plain(): pass

async def test_coroutine(): pass

def helper(): pass

def testing_prefix_only(): pass

@pytest.mark.parametrize("n", [1, 2, 3])
def test_three_cases(n): pass

@pytest.mark.parametrize("a", (1, 2))
@pytest.mark.parametrize(argnames="b", argvalues=[1, 2, 3])
def test_six_cases(a, b): pass

@pytest.mark.parametrize("n", range(4))
def test_computed_cases_count_once(n): pass

class TestGroup:
    def test_one(self): pass
    async def test_two(self): pass
    def not_a_test(self): pass

class TestWithInit:
    def __init__(self): pass
    def test_never_collected(self): pass

class Helper:
    def test_not_in_a_test_class(self): pass
"""


def test_async_class_based_and_parametrized_tests_are_counted():
    # plain, coroutine, testing_prefix_only, 3 + 6 cases, computed 1, TestGroup 2
    assert count_in_source(textwrap.dedent(MODULE)) == 1 + 1 + 1 + 3 + 6 + 1 + 2


def test_unparsable_tests_count_as_none():
    assert count_in_source("def test_broken(:\n") == 0


def test_counts_agree_with_pytest_collection(tmp_path):
    """The same files collected by pytest itself (the async test needs no plugin to be
    collected: pytest collects it and skips it)."""
    (tmp_path / "test_mod.py").write_text(
        textwrap.dedent(MODULE).replace("range(4)", "[0]")
    )  # (a computed parameter list is where the two may differ)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other_test.py").write_text("def test_a(): pass\ndef test_b(): pass\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(collected) == count_tests([tmp_path]) == 15 + 2, done.stdout


def test_the_budget_grows_with_async_and_class_tests(tmp_path):
    from grader.course import Limits

    (tmp_path / "test_x.py").write_text(
        "async def test_a(): pass\nclass TestB:\n    def test_c(self): pass\n"
    )
    assert time_budget(Limits(wall_seconds=5), [tmp_path]) == 60 + 5 * 4 * 2
