"""`grader similarity SLUG`: run, print the flagged pairs, write the standalone report."""

from __future__ import annotations

from pathlib import Path

from grader.course import Course, Exercise
from grader.similarity.compare import THRESHOLD
from grader.similarity.report import MAX_SIDE_BY_SIDE, write_report
from grader.similarity.run import flagged_pairs, run_similarity
from grader.store import Store


def similarity(
    course: Course, exercise: Exercise, store: Store, threshold: float | None, out: Path
) -> int:
    threshold = THRESHOLD if threshold is None else threshold
    run = run_similarity(course, exercise, store, threshold)
    pairs = flagged_pairs(store, run)
    full = [
        pair
        for p in pairs[:MAX_SIDE_BY_SIDE]
        if (pair := store.similarity_pair(exercise.slug, p.id)) is not None
    ]
    report = write_report(exercise, run, pairs, full, out)
    compared = len(run.sources)
    print(
        f"Similarity of {exercise.slug}: {compared} current submissions, "
        f"{compared * (compared - 1) // 2} pairs compared (run {run.id}); the skeleton and "
        "the reference solution are expected overlap."
    )
    for student, source in sorted(run.sources.items()):
        for why in source["skipped"]:
            print(f"  {student}: {why}")
    if not pairs:
        print(f"No pair reaches {threshold:.0%}.")
    else:
        print(
            f"{len(pairs)} pair(s) at or above {threshold:.0%} (share of each found in the "
            "other, matched tokens):"
        )
        width = max(len(f"{p.student_a} & {p.student_b}") for p in pairs)
        for p in pairs:
            print(
                f"  {p.student_a + ' & ' + p.student_b:<{width}}  {p.score_a:4.0%} / "
                f"{p.score_b:<4.0%}  {p.tokens_a} / {p.tokens_b}"
            )
    print(f"Wrote {report}")
    return 0
