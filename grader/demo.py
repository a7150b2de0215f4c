"""`grader demo`: grade the bundled sample class and compare with its known answers.

`sample_class/<slug>/` holds one submission per student (and `received.csv` for
the late ones); `sample_class/expected.csv` lists `exercise,student,final` with
the score each must get. The demo grades every exercise found there (recorded in
the store as one regrade request per exercise when a store is given), prints
where the gradebooks and feedback pages are, and fails if any score differs.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from grader.batch import grade_all
from grader.course import Course
from grader.protocol import Outcome

TOLERANCE = 0.01


def expected_scores(sample: Path) -> dict[tuple[str, str], float]:
    with (sample / "expected.csv").open(newline="") as f:
        return {(r["exercise"], r["student"]): float(r["final"]) for r in csv.DictReader(f)}


def run_demo(
    course: Course, backend: str, sandbox_info: dict, out: Path, jobs: int = 2, store=None
) -> int:
    sample = course.root / "sample_class"
    expected = expected_scores(sample)
    t0 = time.monotonic()
    mismatches, graded = [], 0
    for slug in sorted({e for e, _ in expected}):
        exercise = course.exercise(slug)
        print(f"\n== {slug}: {exercise.title}")
        rows = grade_all(
            course,
            exercise,
            sample / slug,
            out / slug,
            backend=backend,
            regrade=True,
            jobs=jobs,
            sandbox_info=sandbox_info,
            store=store,
        )
        for row in rows:
            graded += 1
            want = expected.get((slug, row.student))
            got = row.result.score if row.result else None
            ok = got is not None and want is not None and abs(got - want) <= TOLERANCE
            if not ok:
                mismatches.append(f"{slug}/{row.student}: got {got}, expected {want}")
            verdicts = (
                ", ".join(sorted({t.verdict for t in row.result.tests} - {Outcome.PASSED}))
                if row.result
                else row.problem
            )
            print(
                f"  {row.student:<10} {got if got is not None else '-':>6} / {exercise.points:g}"
                f"  expected {want}  {'ok' if ok else 'MISMATCH'}  {verdicts}"
            )
    took = time.monotonic() - t0
    print(f"\nGraded {graded} submissions on the {backend} backend in {took:.0f} s.")
    print(f"Gradebooks: {out}/<exercise>/gradebook.csv")
    print(f"Feedback:   {out}/<exercise>/<student>/feedback.html")
    if mismatches:
        print("Scores that differ from the sample class's known answers:")
        for m in mismatches:
            print("  " + m)
        return 1
    print("Every score matches the sample class's known answers.")
    return 0
