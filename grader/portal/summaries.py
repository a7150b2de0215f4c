"""Per-test verdicts and the suspicion block of gradings, for the dashboard's failure-rate plot
and the submissions flagged for review, without reading every results.json at every page view.

A grading never changes once written (a regrade writes a new one), so the verdicts of each are
read from the store once and kept in memory by grading id (at most MAX_KEPT).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select

from grader.store.models import Grading

MAX_KEPT = 50_000
_kept: OrderedDict[int, Summary] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class TestLine:
    function: str
    name: str
    verdict: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclass(frozen=True)
class Summary:
    student: str
    tests: tuple[TestLine, ...]
    suspicion: dict  # grader.judge.suspicion's block: read by suspicion.flagged


def test_summaries(store, counted) -> list[Summary]:
    """The summary of each counted grading (`Current`s with a grading)."""
    students = {c.grading.id: c.student for c in counted}
    ids = list(students)
    with _lock:
        missing = [i for i in ids if i not in _kept]
    if missing:
        read = {}
        with store._read() as s:
            for gid, results in s.execute(
                select(Grading.id, Grading.results).where(Grading.id.in_(missing))
            ):
                meta = results.get("pgrader") or {}
                read[gid] = Summary(
                    students[gid],
                    tuple(
                        TestLine(
                            str(t.get("function", "")),
                            str(t.get("name", "")),
                            str(t.get("verdict", "")),
                            str(t.get("message", ""))[:300],
                        )
                        for t in results.get("tests", [])
                        if isinstance(t, dict)
                    ),
                    meta.get("suspicion") or {},
                )
        with _lock:
            _kept.update(read)
            while len(_kept) > MAX_KEPT:
                _kept.popitem(last=False)
    with _lock:
        return [_kept[i] for i in ids if i in _kept]
