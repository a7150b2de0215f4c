"""Race checks the student's code cannot dodge by telling the checked request from the others.

A request's number is readable from counters every request of a container shares (pid numbers,
tmpfs inode numbers, time since the files were written), so code that takes its lock only in the
request that checks for races would pass a run whose other requests are plain. Where the tests
of a run use a race check (`RACE_CHECKS`), every request of that run therefore carries the
lockset check (`UNIFORM`: the Eraser lockset and its tracer, the same in every request),
and a race the lockset check finds in *any* request fails every test that judges races
(`expect_no_races`, `expect_no_lost_update`), with the usual message and the request it was
found in. Unlocked code then meets the check in whichever request it runs unlocked. The run's
tests also run in an order shuffled by the grading's seed (`shuffled`; replayable, records
sorted back to the files' order), so no request number names a test where a check other than
lockset (forced switches, the controlled scheduler) is the only one to see a bug.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.judge import evidence
from grader.judge.expect_concurrency import raise_for_races
from grader.judge.verdicts.kinds import SandboxFault, Verdict
from grader.judge.verdicts.record import jsonable
from grader.protocol import Outcome, Reply

RACE_CHECKS = ("lockset", "schedule", "preempt")
UNIFORM: dict[str, dict] = {"lockset": {}}  # what every request of a run with race checks carries


def uses_race_checks(paths: Iterable[Path]) -> bool:
    """Whether any of these test files asks for a race check: a dict key (`checks={"lockset":
    {}}`) or a `dict(...)` keyword naming one. The course's own files, parsed, never run."""
    for path in paths:
        try:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, ValueError):
            continue  # a broken test file is reported by the collection itself
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value in RACE_CHECKS for k in node.keys
            ):
                return True
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "dict"
                and any(kw.arg in RACE_CHECKS for kw in node.keywords)
            ):
                return True
    return False


def shuffled(items: list, seed) -> list:
    """`items` in the order the grading's `seed` draws (the same seed, the same order)."""
    order = list(items)
    random.Random(f"test-order:{seed}").shuffle(order)
    return order


@dataclass
class RaceWatch:
    """One run's race checks across its requests (`enabled` where its tests use race checks)."""

    enabled: bool = False
    found: tuple[Verdict, str, str] | None = None  # (verdict, request, test) of the first race

    def checks_for(self, asked: dict) -> dict:
        """The checks a request carries: the ones its test asked for, over `UNIFORM`."""
        if not self.enabled:
            return dict(asked)
        return {**UNIFORM, **asked}

    def saw(self, reply: Reply) -> None:
        """Note the first race (or the lockset check taken apart) that any request showed."""
        if not self.enabled or self.found is not None or "lockset" not in reply.checks:
            return  # a reply with no report (a crash, a timeout) is its own test's verdict
        try:
            raise_for_races(reply, reply.what)
        except Verdict as verdict:
            self.found = (verdict, reply.what, evidence.current_test())
        except SandboxFault:
            pass  # the platform's failure, never charged to the student

    def settle(self, records: list) -> None:
        """Fail every test that judged races (`expect_no_races`, `expect_no_lost_update`) and
        passed when any request of the run found a race."""
        if self.found is None:
            return
        verdict, what, test = self.found
        name = test.rsplit("::", 1)[-1]
        judged = evidence.race_check_tests()
        for record in records:
            if record.nodeid in judged and record.status == Outcome.PASSED:
                record.status = Outcome(verdict.status)
                record.message = (
                    f"{verdict.message} (Found while {what} ran, in {name}: every request of "
                    "this exercise runs under the lockset check, and a race in any of them "
                    "fails each test of its race checks.)"
                )
                record.details = {
                    **record.details,
                    **jsonable(verdict.details),
                    "race_found_in": {"test": test, "request": what},
                }
