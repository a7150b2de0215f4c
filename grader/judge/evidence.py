"""The evidence of the test now running in the judge's pytest run, attached to its record
whatever its verdict (`grader.judge.plugin` starts and collects it; tests, the `expect_*`
helpers and `grader.judge.uncaught` add to it)."""

from __future__ import annotations

_current: dict = {}  # {"nodeid": ..., "evidence": {...}} of the running test
_race_checks: set[str] = set()  # node ids of the tests that judged races (grader.judge.race_watch)


def start(nodeid: str) -> None:
    _current.clear()
    _current.update(nodeid=nodeid, evidence={})


def record_evidence(**details) -> None:
    """Attach `details` to the current test's record, whatever its verdict (a verdict's own
    details win on a clash). `timings=[{"workers": n, "seconds": s, "reference": r}, ...]`
    becomes the portal's plot of time against workers."""
    if _current:
        _current["evidence"].update(details)


def collected() -> dict:
    """The evidence recorded so far for the current test."""
    return dict(_current.get("evidence") or {})


def current_test() -> str:
    """The node id of the test now running ('?' between tests)."""
    return _current.get("nodeid", "?")


def note_race_check() -> None:
    """The current test judges races (`expect_no_races`, `expect_no_lost_update`)."""
    _race_checks.add(current_test())


def race_check_tests() -> set[str]:
    """The node ids of the tests that judged races so far."""
    return set(_race_checks)
