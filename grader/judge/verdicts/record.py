"""How a test ended becomes its record's outcome: a verdict raised, a plain assert, a skip, a
test that could not start or check; and the rule for points (only `PASSED` earns any)."""

from __future__ import annotations

import json

from grader.agent import untrusted
from grader.judge.verdicts.kinds import SandboxFault, Verdict
from grader.protocol import Outcome

MAX_DETAIL_TEXT = 20_000
MAX_DETAIL_ITEMS = 200
MAX_DETAIL_DEPTH = 30


def classify(report, excinfo) -> tuple[Outcome, str, dict]:
    """(outcome, message for the student, evidence) of one test from pytest's `report` of the
    phase that decided it (setup if it failed or skipped, else call) and its `excinfo`."""
    if report is None:
        return Outcome.GRADER_ERROR, "the test did not run", {}
    if report.passed:
        return Outcome.PASSED, "", {}
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return Outcome.NOT_RUN, reason.removeprefix("Skipped: "), {}
    exc = excinfo.value if excinfo else None
    if isinstance(exc, Verdict):
        return Outcome(exc.status), exc.message[:MAX_DETAIL_TEXT], jsonable(exc.details)
    if isinstance(exc, SandboxFault):
        return (
            Outcome.GRADER_ERROR,
            f"the grading platform failed ({exc}); this is not your fault",
            {},
        )
    if isinstance(exc, AssertionError):
        return Outcome.FAILED, _first_line(exc) or "a check failed", {}
    if report.when == "setup":
        return (Outcome.GRADER_ERROR, f"the test could not start: {type(exc).__name__}: {exc}", {})
    return (
        Outcome.FAILED,
        f"the result could not be checked ({type(exc).__name__}: {_first_line(exc)})",
        {"test_error": True},
    )


def earns_points(outcome: str) -> bool:
    """Whether a test with this outcome earns its points: only a pass does."""
    return outcome == Outcome.PASSED


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else ""


def jsonable(details: dict) -> dict:
    """Evidence as JSON data, cut to a size and depth a results.json can carry (the evidence
    came from the student's side: it is cleaned without unbounded recursion first)."""
    plain = untrusted.clean(
        details,
        max_depth=MAX_DETAIL_DEPTH,
        max_items=20_000,
        max_len=MAX_DETAIL_ITEMS,
        max_str=MAX_DETAIL_TEXT,
    )
    return json.loads(json.dumps(plain, default=repr))
