"""Grade-all and regrade recorded in the store: exactly once per request, with a score diff.

`grade_recorded` records each submission as the student's newest attempt (content hash,
received time, late days from the student's own due date) and grades those the request has
not graded yet: a plain grade-all grades attempts without a current grading, a regrade the
attempts that can count under the exercise's rule, once each, under its own request (resumed
when an earlier run was interrupted). Each grading is written to the store before the
student's folder outputs, so a run killed at any point loses nothing and counts nothing twice.
`rescore_late` applies the late policy again after an extension, without running tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import Course, Exercise
from grader.entries import Entry, Row, grade_entries, write_gradebook
from grader.errors import GraderError
from grader.grade import write_outputs
from grader.intake import content_hash
from grader.results import SubmissionResult, apply_late_policy, late_days
from grader.store import Store
from grader.store.models import Request, Submission


@dataclass
class Change:
    student: str
    before: float | None  # None: first grading
    after: float
    attempt: int | None = None  # named when the request graded several attempts of the student


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
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grade_recorded(
    course: Course,
    exercise: Exercise,
    entries: list[Entry],
    out: Path,
    store: Store,
    *,
    kind: str = "grade-all",
    students: list[str] | None = None,
    backend: str,
    jobs: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    sandbox_info: dict | None = None,
    grade_with: Callable[[Request], Callable] | None = None,
    attempts: dict[str, Submission] | None = None,
    slots=None,
) -> Outcome:
    """Record `entries` and grade those `kind` still has to; `grade_with(request)` gives the
    grading step (default `grade_entries`; `grader.distributed.submit` sends jobs to workers).

    Each entry is recorded as the student's newest attempt unless that one holds the same
    content (a folder graded again); `attempts` (by entry key) gives recorded attempts
    instead (a regrade). Late days count from each student's own due date (extensions)."""
    out.mkdir(parents=True, exist_ok=True)
    image_id = (sandbox_info or {}).get("image_id", "")
    with store.lease(exercise.slug):
        request, resumed = store.open_request(
            exercise.slug, kind, students, str(out.resolve()), resume=kind == "regrade"
        )
        extended = {name: e.due for name, e in store.extensions(exercise.slug).items()}
        subs: dict[str, Submission] = dict(attempts or {})
        for entry in entries:
            if entry.key in subs:
                continue
            received = entry.received or dt.datetime.now(dt.UTC)
            subs[entry.key] = store.record_submission(
                entry.student,
                exercise.slug,
                raw_hash(entry.path),
                received,
                late_days(received, extended.get(entry.student, exercise.due)),
                str(entry.path.resolve()),
                new_attempt=False,
            )
        pending = {s.id for s in store.pending(request, list(subs.values()))}
        # the late policy uses the stored received time, whatever received.csv says now
        todo = [
            Entry(e.student, e.path, subs[e.key].received_at, extended.get(e.student), e.key)
            for e in entries
            if subs[e.key].id in pending
        ]

        def record(entry: Entry, result: SubmissionResult) -> None:
            store.record_grading(
                subs[entry.key],
                request,
                result,
                exercise.hidden_visibility,
                image_id or result.sandbox.get("image_id", ""),
            )

        grade = grade_with(request) if grade_with else grade_entries
        rows = grade(
            course,
            exercise,
            todo,
            out,
            backend=backend,
            jobs=jobs,
            seed=seed,
            progress=progress,
            sandbox_info=sandbox_info,
            record=record,
            **({"slots": slots} if slots is not None else {}),  # grade_entries only
        )
        for key, row in rows.items():
            if row.status == "not-graded":
                store.audit("not-graded", exercise.slug, key.split("/")[0], row.problem[:1000])
        final = _student_rows(exercise, entries, rows, store, request.id, out)
        if all(r.status != "not-graded" for r in rows.values()):
            store.finish_request(request.id)
    ordered = [final[n] for n in sorted(final)]
    write_gradebook(out / "gradebook.csv", ordered, exercise)
    outcome = Outcome(ordered, resumed=resumed, request_id=request.id)
    gradings = store.gradings_of(request.id)
    several = {
        n
        for n in (g.results["pgrader"]["student"] for g in gradings)
        if sum(x.results["pgrader"]["student"] == n for x in gradings) > 1
    }
    for grading in gradings:
        before = store.previous(grading)
        student = grading.results["pgrader"]["student"]
        if before is None or abs(before.final - grading.final) > 1e-9:
            outcome.changes.append(
                Change(
                    student,
                    before.final if before else None,
                    grading.final,
                    grading.submission.attempt if student in several else None,
                )
            )
        else:
            outcome.unchanged += 1
    outcome.changes.sort(key=lambda c: (c.student, c.attempt or 0))
    return outcome


def _student_rows(
    exercise: Exercise,
    entries: list[Entry],
    rows: dict[str, Row],
    store: Store,
    request_id: str,
    out: Path,
) -> dict[str, Row]:
    """One row per student for the gradebook: what counts now (`Store.counted`), or why it is
    not graded yet; OUT/<student>/ holds the counted grading's feedback."""
    students = sorted({e.student for e in entries})
    counted = {c.student: c for c in store.counted(exercise, students)}
    final = {}
    for student in students:
        keys = [e.key for e in entries if e.student == student]
        failed = [rows[k] for k in keys if k in rows and rows[k].status == "not-graded"]
        cur = counted.get(student)
        if failed:
            final[student] = dataclasses.replace(failed[0], student=student)
        elif cur is None or cur.grading is None:
            final[student] = Row(student, None, "not-graded", "no grading recorded yet")
        elif keys == [student] and student in rows:
            final[student] = rows[student]  # graded now, its outputs written
        else:
            result = SubmissionResult.from_json(cur.grading.results)
            fresh = cur.grading.request_id == request_id
            if fresh or not (out / student / "results.json").exists():
                write_outputs(result, exercise, out / student)
            final[student] = Row(student, result, "graded" if fresh else "skipped")
    return final


def regrade(
    course: Course,
    exercise: Exercise,
    store: Store,
    out: Path | None = None,
    *,
    students: list[str] | None = None,
    **options,
) -> Outcome:
    """Grade again the recorded attempts of `exercise` (or of `students`) that can count under
    its rule (`Store.regrade_targets`)."""
    chosen = store.regrade_targets(exercise, students)
    if students and (missing := sorted(set(students) - set(chosen))):
        raise GraderError(f"No submission of {exercise.slug} is recorded for: {', '.join(missing)}")
    attempts = {
        (name if len(subs) == 1 else f"{name}/attempt-{sub.attempt}"): sub
        for name, subs in chosen.items()
        for sub in subs
    }
    entries = [
        Entry(key.split("/")[0], Path(sub.path), sub.received_at, key=key)
        for key, sub in attempts.items()
    ]
    gone = [e for e in entries if not e.path.exists()]
    if gone:
        raise GraderError(
            "These recorded submissions are no longer on disk, so they cannot be "
            "regraded (their gradings are kept): " + ", ".join(f"{e.key} ({e.path})" for e in gone)
        )
    out = out or Path(store.last_out_dir(exercise.slug) or Path("graded") / exercise.slug)
    return grade_recorded(
        course,
        exercise,
        entries,
        out,
        store,
        kind="regrade",
        students=students,
        attempts=attempts,
        **options,
    )


def rescore_late(course: Course, exercise: Exercise, store: Store, student: str) -> int:
    """Apply the late policy again to `student`'s graded attempts after their due date changed
    (an extension): a new grading (request kind `rescore`, the tests not run again) for each
    attempt whose late days change; how many."""
    ext = store.extension(exercise.slug, student)
    due = ext.due if ext else exercise.due
    changed = []
    for attempt in store.attempts(exercise.slug, student):
        grading = attempt.grading
        if (
            grading is not None
            and late_days(attempt.submission.received_at, due) != grading.late_days
        ):
            changed.append((attempt.submission, grading))
    if not changed:
        return 0
    request, _ = store.open_request(exercise.slug, "rescore", [student], resume=False)
    for sub, grading in changed:
        full = store.grading(grading.id)
        if full is None:  # removed since it was listed
            continue
        result = SubmissionResult.from_json(full.results)
        apply_late_policy(result, course.late_policy, late_days(sub.received_at, due))
        store.record_grading(sub, request, result, exercise.hidden_visibility, grading.image_id)
    store.finish_request(request.id)
    return len(changed)


def format_changes(outcome: Outcome, slug: str) -> list[str]:
    """Per-student score changes and a summary line."""
    lines = []
    for c in outcome.changes:
        who = f"{c.student} (attempt {c.attempt})" if c.attempt else c.student
        if c.before is None:
            lines.append(f"  {who:<20} new: {c.after:g}")
        else:
            lines.append(f"  {who:<20} {c.before:g} -> {c.after:g} ({c.after - c.before:+g})")
    up = sum(c.before is not None and c.after > c.before for c in outcome.changes)
    down = sum(c.before is not None and c.after < c.before for c in outcome.changes)
    new = sum(c.before is None for c in outcome.changes)
    failed = sum(r.status == "not-graded" for r in outcome.rows)
    lines.append(
        f"{slug}: {len(outcome.changes) + outcome.unchanged} graded in this request "
        f"({'resumed' if outcome.resumed else 'new'}): {up} up, {down} down, {new} new, "
        f"{outcome.unchanged} unchanged; {failed} not graded yet."
    )
    return lines
