"""`grader demo`: grade the bundled sample class and compare with its known answers.

`sample_class/<slug>/` holds one submission per student (and `received.csv` for
the late ones, handed in against the due dates of `sample_class/schedule.csv`, which the
demo grades against wherever `grader course dates` has moved course.toml's);
`sample_class/expected.csv` lists `exercise,student,final` with the score each must get, and
`race_may_show`: the value tests of a racy submission whose race may really show on the
machine (updates lost under its own scheduling), each of which then costs exactly its
points, as a plain wrong value. The demo grades every exercise found there (recorded in the
store as one regrade request per exercise when a store is given), prints where the
gradebooks and feedback pages are, and fails if any score differs.

The exercises are graded at the same time, `jobs` submissions at once across all of
them (one exercise's slow last submission does not leave a core idle while the next
exercise waits); the sandbox's core locks keep timed and MPI requests to themselves.
"""

from __future__ import annotations

import csv
import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from grader.batch import grade_all
from grader.course import Course, Exercise
from grader.judge import runner
from grader.protocol import Outcome

TOLERANCE = 0.01


def expected_scores(sample: Path) -> dict[tuple[str, str], float]:
    with (sample / "expected.csv").open(newline="") as f:
        return {(r["exercise"], r["student"]): float(r["final"]) for r in csv.DictReader(f)}


def races_may_show(sample: Path) -> dict[tuple[str, str], frozenset[str]]:
    """(exercise, student) -> the test functions in which that racy submission may lose updates."""
    with (sample / "expected.csv").open(newline="") as f:
        return {
            (r["exercise"], r["student"]): frozenset((r.get("race_may_show") or "").split())
            for r in csv.DictReader(f)
        }


def as_handed_in(course: Course, sample: Path, slug: str) -> Exercise:
    """`slug`'s exercise with the due date the sample class handed in against (`schedule.csv`),
    wherever `grader course dates` has moved course.toml's: the known answers' late days hold."""
    exercise = course.exercise(slug)
    with (sample / "schedule.csv").open(newline="") as f:
        dues = {r["exercise"]: r["due"] for r in csv.DictReader(f)}
    if slug not in dues:
        return exercise
    return replace(exercise, due=dt.datetime.fromisoformat(dues[slug].replace("Z", "+00:00")))


def expected_now(want: float, tests, may_show: frozenset[str], penalty: float = 0.0) -> float:
    """`want` less exactly the points of the tests in `may_show` that failed with a plain wrong
    value (verdict `failed`: the race the submission has really showed there); `tests` are
    (function, verdict, max_points) triples."""
    lost = sum(m for f, v, m in tests if f in may_show and v == Outcome.FAILED)
    return round(want - lost * (1 - penalty), 4)


def run_demo(
    course: Course, backend: str, sandbox_info: dict, out: Path, jobs: int = 2, store=None
) -> int:
    sample = course.root / "sample_class"
    expected, may_show = expected_scores(sample), races_may_show(sample)
    t0 = time.monotonic()
    mismatches, graded = [], 0
    slugs = sorted({e for e, _ in expected})
    slots = threading.Semaphore(max(1, jobs))
    print(f"Grading {len(expected)} submissions of {len(slugs)} exercises, {jobs} at a time ...")

    def batch(slug: str):
        return grade_all(
            course,
            as_handed_in(course, sample, slug),
            sample / slug,
            out / slug,
            backend=backend,
            regrade=True,
            jobs=jobs,
            progress=False,
            sandbox_info=sandbox_info,
            store=store,
            slots=slots,
        )

    with ThreadPoolExecutor(max_workers=len(slugs) or 1) as pool:
        futures = {slug: pool.submit(batch, slug) for slug in slugs}
        try:
            for future in futures.values():
                future.exception()  # wait for each (Ctrl-C reaches this thread)
        except BaseException:
            runner.terminate_all()  # the runs in progress end now, none starts
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    for slug in slugs:
        exercise = course.exercise(slug)
        print(f"\n== {slug}: {exercise.title}")
        rows = futures[slug].result()
        for row in rows:
            graded += 1
            want = declared = expected.get((slug, row.student))
            got = row.result.score if row.result else None
            if want is not None and row.result is not None:
                want = expected_now(
                    want,
                    [(t.function, t.verdict, t.max_points) for t in row.result.tests],
                    may_show.get((slug, row.student), frozenset()),
                    row.result.penalty,
                )
            ok = got is not None and want is not None and abs(got - want) <= TOLERANCE
            if not ok:
                mismatches.append(f"{slug}/{row.student}: got {got}, expected {want}")
            verdicts = (
                ", ".join(sorted({t.verdict for t in row.result.tests} - {Outcome.PASSED}))
                if row.result
                else row.problem
            )
            shown = f"{want}" if want == declared else f"{want} ({declared}, less the race shown)"
            print(
                f"  {row.student:<10} {got if got is not None else '-':>6} / {exercise.points:g}"
                f"  expected {shown}  {'ok' if ok else 'MISMATCH'}  {verdicts}"
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
