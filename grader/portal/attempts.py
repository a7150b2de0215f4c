"""A student's attempts at one exercise as the pages show them: numbered per student, each
with its state in the one vocabulary (`grader.states`), its score, whether it is the one that
counts, and its grading history (graded, regraded, late penalty re-applied), old and new score.

Built from three queries whatever the number of attempts: the attempts with their gradings
(`Store.attempts`), their jobs, and what counts (`Store.counted`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from grader.course import Exercise
from grader.portal.models import NOT_GRADED, QUEUED, RUNNING, Job
from grader.states import GRADED, NEEDS_GPU, NOT_GRADED_YET, REFUSED
from grader.store import Current, Store
from grader.store.models import Grading, Submission

KIND_WORDS = {
    "grade-all": "graded",
    "portal": "graded",
    "regrade": "regraded",
    "rescore": "late penalty re-applied",
}


@dataclass
class Step:
    """One grading in an attempt's history."""

    what: str  # graded, refused, regraded, late penalty re-applied
    at: dt.datetime
    score: str
    was: str | None  # the score before it, when it changed
    current: bool


@dataclass
class AttemptView:
    number: int
    submission: Submission
    state: str  # queued, running, graded, refused, not graded yet
    grading: Grading | None  # the current grading (its results not loaded)
    counted: bool = False
    regrading: bool = False  # graded, and a regrade of it is queued or running
    retry_at: dt.datetime | None = None
    problem: str = ""  # why not graded yet (for instructors)
    history: list[Step] = field(default_factory=list)
    waiting: str = ""  # queued for a machine of a kind: "waiting for a GPU worker"

    @property
    def score(self) -> str:
        return score_text(self.grading) if self.grading and self.state in (GRADED, REFUSED) else ""

    @property
    def needs_gpu(self) -> bool:
        """Not graded yet because its tests need a GPU the grading machine lacks (never a
        number; shown to the student with its reason)."""
        return self.state == NOT_GRADED_YET and self.problem == NEEDS_GPU


def score_text(grading: Grading | None) -> str:
    return f"{grading.final:g} / {grading.max_score:g}" if grading else ""


def state_of(grading: Grading | None, jobs: list[Job]) -> tuple[str, bool, Job | None]:
    """(state, a regrade pending, the job that last failed) from an attempt's rows."""
    pending = next((j for j in reversed(jobs) if j.status in (QUEUED, RUNNING)), None)
    if grading is not None:
        return (REFUSED if grading.status == REFUSED else GRADED), pending is not None, None
    if pending is not None:
        return pending.status, False, None
    failed = next((j for j in reversed(jobs) if j.status == NOT_GRADED), None)
    return NOT_GRADED_YET, False, failed


def attempt_views(
    store: Store, jobs, exercise: Exercise, student: str, distributed: bool = False
) -> list[AttemptView]:
    """The student's attempts, newest first. With a broker (`distributed`), an attempt at a GPU
    exercise that is queued or running waits for a GPU worker, and says so."""
    waiting = "waiting for a GPU worker" if distributed and exercise.runtime.gpu else ""
    attempts = store.attempts(exercise.slug, student)
    by_sub = jobs.of_submissions([a.submission.id for a in attempts])
    counted = counted_of(store, exercise, student)
    views = []
    for a in attempts:
        grading = a.grading
        state, regrading, failed = state_of(grading, by_sub.get(a.submission.id, []))
        view = AttemptView(
            a.submission.attempt,
            a.submission,
            state,
            grading,
            counted=counted is not None
            and counted.grading is not None
            and counted.submission is not None
            and counted.submission.id == a.submission.id,
            regrading=regrading,
            retry_at=failed.retry_at if failed else None,
            problem=failed.problem if failed else "",
            waiting=waiting if state in (QUEUED, RUNNING) else "",
        )
        before = None
        for g, kind in a.gradings:
            what = (
                REFUSED
                if g.status == REFUSED and kind in ("portal", "grade-all")
                else KIND_WORDS.get(kind, kind)
            )
            now = score_text(g)
            view.history.append(
                Step(
                    what,
                    g.created_at,
                    now,
                    before if before is not None and before != now else None,
                    g.is_current,
                )
            )
            before = now
        views.append(view)
    return views[::-1]


def counted_of(store: Store, exercise: Exercise, student: str) -> Current | None:
    found = store.counted(exercise, [student], results=False)
    return found[0] if found else None
