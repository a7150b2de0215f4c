"""One similarity run: every student's current submission of an exercise compared with every
other's, the skeleton and the reference solution as expected overlap, recorded in the store.

A student's current submission is the attempt that counts (`Store.counted`: the exercise's
rule, or the newest while none is graded); a student with only an instructor's override has
none and is left out.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from pathlib import Path

from grader.course import Course, Exercise
from grader.errors import GraderError
from grader.similarity import compare
from grader.similarity.sources import (
    MAX_FILE,
    MAX_FILES,
    MAX_TEXT,
    Source,
    expected_overlap,
    read_source,
)
from grader.store import Store
from grader.store.models import SimilarityPair, SimilarityRun


class TooFewSubmissions(GraderError):
    """Fewer than two submissions to compare; nothing was recorded."""


@dataclass
class Submitted:
    student: str
    submission_id: int
    attempt: int
    source: Source


def current_sources(exercise: Exercise, store: Store) -> list[Submitted]:
    """The compared text of each student's current submission."""
    out = []
    for cur in store.counted(exercise, results=False):
        if cur.submission is None:
            continue
        sub = cur.submission
        out.append(
            Submitted(cur.student, sub.id, sub.attempt, read_source(Path(sub.path), exercise.files))
        )
    return out


def run_similarity(
    course: Course,
    exercise: Exercise,
    store: Store,
    threshold: float = compare.THRESHOLD,
    actor: str = "",
) -> SimilarityRun:
    """Compare every pair of current submissions of `exercise`; record and return the run
    (`actor`: who asked, default the store's process)."""
    if not 0 < threshold <= 1:
        raise GraderError(
            f"The threshold must be a share between 0 and 1 (e.g. 0.5 for 50%), not {threshold:g}."
        )
    submitted = current_sources(exercise, store)
    if len(submitted) < 2:
        raise TooFewSubmissions(
            f"{exercise.slug} has {len(submitted)} submission(s) in the store "
            f"({store.engine.url.render_as_string()}): a similarity report needs at least two. "
            "Grade the class first (`grader grade-all`) or wait for uploads in the portal."
        )
    expected = expected_overlap([exercise.skeleton, exercise.solution_dir(course.root)])
    boilerplate = compare.boilerplate_hashes(expected)
    prints = {s.student: compare.fingerprints(s.source, boilerplate) for s in submitted}
    run = SimilarityRun(
        id=str(uuid.uuid4()),
        exercise=exercise.slug,
        actor=actor,
        threshold=threshold,
        settings={
            "noise": compare.NOISE,
            "guarantee": compare.GUARANTEE,
            "min_tokens": compare.MIN_TOKENS,
            "max_file": MAX_FILE,
            "max_text": MAX_TEXT,
            "max_files": MAX_FILES,
            "expected_overlap": sorted(expected.files),
        },
        sources={
            s.student: {"submission": s.submission_id, "attempt": s.attempt, **s.source.to_json()}
            for s in submitted
        },
    )
    pairs = []
    for a, b in itertools.combinations(sorted(submitted, key=lambda s: s.student), 2):
        m = compare.compare(prints[a.student], prints[b.student])
        pairs.append(
            SimilarityPair(
                run_id=run.id,
                exercise=exercise.slug,
                student_a=a.student,
                student_b=b.student,
                submission_a=a.submission_id,
                submission_b=b.submission_id,
                score_a=m.score_a,
                score_b=m.score_b,
                tokens_a=m.tokens_a,
                tokens_b=m.tokens_b,
                spans=m.spans,
            )
        )
    store.record_similarity(run, pairs, sum(compare.flagged(p, threshold) for p in pairs))
    return run


def flagged_pairs(
    store: Store, run: SimilarityRun, threshold: float | None = None
) -> list[SimilarityPair]:
    """The pairs of `run` flagged at `threshold` (default: the run's), highest first."""
    threshold = run.threshold if threshold is None else threshold
    return store.similarity_pairs(
        run.id, threshold, run.settings.get("min_tokens", compare.MIN_TOKENS)
    )
