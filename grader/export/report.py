"""The instructor's report: one self-contained HTML file with inline SVG plots.

Score distribution (histogram of final scores), per-test failure rates, the most common
failure messages (first line, with how many students got each), and the regrade history.
Every text from a submission is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from grader.course import format_time
from grader.judge import suspicion
from grader.protocol import Outcome

BINS = 10
TOP_MESSAGES = 10


def histogram(finals: list[float], max_score: float, bins: int = BINS) -> list[dict]:
    """`bins` equal bins over 0..max_score (the last one closed), each with its count."""
    width = (max_score or 1) / bins
    counts = [0] * bins
    for v in finals:
        counts[min(bins - 1, max(0, int(v / width)))] += 1
    return [{"low": i * width, "high": (i + 1) * width, "count": n} for i, n in enumerate(counts)]


def failure_rates(results) -> list[dict]:
    """Per test: how many students ran it and how many did not pass, worst first."""
    ran: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    names: dict[str, str] = {}
    for r in results:
        for t in r.tests:
            if t.verdict == Outcome.NOT_RUN:
                continue
            ran[t.function] += 1
            failed[t.function] += not t.passed
            names[t.function] = t.name
    rows = [
        {
            "function": f,
            "name": names[f],
            "ran": ran[f],
            "failed": failed[f],
            "rate": failed[f] / ran[f],
        }
        for f in ran
    ]
    return sorted(rows, key=lambda r: (-r["rate"], r["function"]))


def common_messages(results, top: int = TOP_MESSAGES) -> list[dict]:
    """The first lines of failure messages, by how many students saw them."""
    seen: Counter[str] = Counter()
    verdicts = {}
    for r in results:
        lines = {
            (t.verdict, (t.message or t.verdict).strip().splitlines()[0][:300])
            for t in r.tests
            if not t.passed and t.verdict != Outcome.NOT_RUN
        }
        for verdict, line in lines:
            seen[line] += 1
            verdicts[line] = verdict
    return [{"message": m, "count": n, "verdict": verdicts[m]} for m, n in seen.most_common(top)]


def report(course, exercise, current, history, out: Path, why: dict[str, str] | None = None) -> str:
    results = [c.result() for c in current if c.grading is not None]
    finals = [r.score for r in results]
    env = Environment(
        loader=PackageLoader("grader", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    regrades = sum(not g.is_current for _, g in history)
    html = env.get_template("report.html.j2").render(
        course=course,
        exercise=exercise,
        students=len(current),
        graded=len(results),
        not_graded=[
            f"{c.student} ({(why or {}).get(c.student) or 'no grading recorded'})"
            for c in current
            if c.grading is None
        ],
        mean=sum(finals) / len(finals) if finals else 0.0,
        median=sorted(finals)[len(finals) // 2] if finals else 0.0,
        bins=histogram(finals, exercise.points),
        tests=failure_rates(results),
        messages=common_messages(results),
        superseded=regrades,
        flagged=suspicion.flagged(results),
        generated=format_time(dt.datetime.now(dt.UTC), course.timezone),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return str(out)
