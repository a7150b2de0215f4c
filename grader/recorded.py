"""Grade-all and regrade recorded in the store: exactly once per request, with a score diff.

`grade_recorded` records each submission (content hash, received time, late days) and
grades those the request has not graded yet: a plain grade-all grades submissions without
a current grading, a regrade every submission once under its own request (resumed when an
earlier run was interrupted). Each grading is written to the store before the student's
folder outputs, so a run killed at any point loses nothing and counts nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.batch import Entry, Row, grade_entries, write_gradebook
from grader.course import Course, Exercise
from grader.intake import content_hash
from grader.results import SubmissionResult, late_days
from grader.store import Store
from grader.store.models import Request, Submission


@dataclass
class Change:
    student: str
    before: float | None  # None: first grading
    after: float


@dataclass
class Outcome:
    rows: list[Row]
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    resumed: bool = False
    request_id: str = ""


def raw_hash(path: Path) -> str:
    """sha256 of what was handed in: a file's bytes, or a folder's files (intake.content_hash)."""
    if path.is_dir():
        return content_hash(path)
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def grade_recorded(course: Course, exercise: Exercise, entries: list[Entry], out: Path,
                   store: Store, *, kind: str = "grade-all", students: list[str] | None = None,
                   backend: str, jobs: int | None = None, seed: int | None = None,
                   progress: bool = True, sandbox_info: dict | None = None,
                   grade_with: Callable[[Request], Callable] | None = None) -> Outcome:
    """Record `entries` and grade those `kind` still has to; `grade_with(request)` gives the
    grading step (default `grade_entries`; `grader.distributed.submit` sends jobs to workers)."""
    out.mkdir(parents=True, exist_ok=True)
    image_id = (sandbox_info or {}).get("image_id", "")
    with store.lease(exercise.slug):
        request, resumed = store.open_request(exercise.slug, kind, students, str(out.resolve()),
                                              resume=kind == "regrade")
        subs: dict[str, Submission] = {}
        for entry in entries:
            received = entry.received or dt.datetime.now(dt.timezone.utc)
            subs[entry.student] = store.record_submission(
                entry.student, exercise.slug, raw_hash(entry.path), received,
                late_days(received, exercise.due), str(entry.path.resolve()))
        pending = {s.id for s in store.pending(request, list(subs.values()))}
        # the late policy uses the stored received time, whatever received.csv says now
        todo = [Entry(e.student, e.path, subs[e.student].received_at) for e in entries
                if subs[e.student].id in pending]

        def record(entry: Entry, result: SubmissionResult) -> None:
            store.record_grading(subs[entry.student], request, result, exercise.hidden_visibility,
                                 image_id or result.sandbox.get("image_id", ""))

        grade = grade_with(request) if grade_with else grade_entries
        rows = grade(course, exercise, todo, out, backend=backend, jobs=jobs, seed=seed,
                     progress=progress, sandbox_info=sandbox_info, record=record)
        for row in rows.values():
            if row.status == "not-graded":
                store.audit("not-graded", exercise.slug, row.student, row.problem[:1000])
        for cur in store.current(exercise.slug, [e.student for e in entries]):
            if cur.student not in rows:
                rows[cur.student] = _kept(cur.result(), cur.student, exercise, out)
        if all(r.status != "not-graded" for r in rows.values()):
            store.finish_request(request.id)
    ordered = [rows[n] for n in sorted(rows)]
    write_gradebook(out / "gradebook.csv", ordered, exercise)
    outcome = Outcome(ordered, resumed=resumed, request_id=request.id)
    for grading in store.gradings_of(request.id):
        before = store.previous(grading)
        student = grading.results["pgrader"]["student"]
        if before is None or abs(before.final - grading.final) > 1e-9:
            outcome.changes.append(Change(student, before.final if before else None, grading.final))
        else:
            outcome.unchanged += 1
    outcome.changes.sort(key=lambda c: c.student)
    return outcome


def _kept(result: SubmissionResult | None, student: str, exercise: Exercise, out: Path) -> Row:
    """A student this request did not grade: their current grading, outputs rewritten if lost."""
    if result is None:
        return Row(student, None, "not-graded", "no grading recorded yet")
    if not (out / student / "results.json").exists():
        from grader.grade import write_outputs

        write_outputs(result, exercise, out / student)
    return Row(student, result, "skipped")


def regrade(course: Course, exercise: Exercise, store: Store, out: Path | None = None, *,
            students: list[str] | None = None, **options) -> Outcome:
    """Grade again every student's latest recorded submission of `exercise` (or `students`)."""
    current = store.current(exercise.slug, students)
    if students and (missing := sorted(set(students) - {c.student for c in current})):
        from grader.errors import GraderError

        raise GraderError(f"No submission of {exercise.slug} is recorded for: {', '.join(missing)}")
    entries = [Entry(c.student, Path(c.submission.path), c.submission.received_at) for c in current]
    gone = [e for e in entries if not e.path.exists()]
    if gone:
        from grader.errors import GraderError

        raise GraderError("These recorded submissions are no longer on disk, so they cannot be "
                          "regraded (their gradings are kept): "
                          + ", ".join(f"{e.student} ({e.path})" for e in gone))
    out = out or Path(store.last_out_dir(exercise.slug) or Path("graded") / exercise.slug)
    return grade_recorded(course, exercise, entries, out, store, kind="regrade",
                          students=students, **options)


def format_changes(outcome: Outcome, slug: str) -> list[str]:
    """Per-student score changes and a summary line."""
    lines = []
    for c in outcome.changes:
        if c.before is None:
            lines.append(f"  {c.student:<20} new: {c.after:g}")
        else:
            lines.append(f"  {c.student:<20} {c.before:g} -> {c.after:g} ({c.after - c.before:+g})")
    up = sum(c.before is not None and c.after > c.before for c in outcome.changes)
    down = sum(c.before is not None and c.after < c.before for c in outcome.changes)
    new = sum(c.before is None for c in outcome.changes)
    failed = sum(r.status == "not-graded" for r in outcome.rows)
    lines.append(f"{slug}: {len(outcome.changes) + outcome.unchanged} graded in this request "
                 f"({'resumed' if outcome.resumed else 'new'}): {up} up, {down} down, {new} new, "
                 f"{outcome.unchanged} unchanged; {failed} not graded.")
    return lines
