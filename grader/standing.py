"""Where each student stands on one exercise: the roster joined with what counts in the store.

One row per student on the roster (the portal's student accounts) and per student with an
attempt recorded: name and school ids, the counted attempt (`Store.counted`), the student's
own due date (an extension), and what that amounts to. The dashboard, the gradebook and the
Canvas export all read it, so they agree.

Work that was never handed in is *missing* (0 points) once the exercise is closed for that
student: after their due date plus the late policy's last accepted day. Before that it is
*not handed in yet* and has no score.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from grader.course import Course, Exercise
from grader.states import GRADED, NOT_GRADED_YET, REFUSED
from grader.store import Current, Store

MISSING, NOT_HANDED_IN, OVERRIDE = "missing", "not handed in yet", "override"


@dataclass(frozen=True)
class Standing:
    student: str
    name: str
    sis_id: str
    section: str
    current: Current | None  # None: no attempt recorded
    due: dt.datetime | None  # this student's due date (an extension, or the exercise's)
    closed: bool  # past the due date and the last day late work is accepted
    extended: bool = False  # `due` is an extension

    @property
    def state(self) -> str:
        """override, graded, refused, not graded yet, missing or not handed in yet."""
        c = self.current
        if c is not None and c.override is not None:
            return OVERRIDE
        if c is None:
            return MISSING if self.closed else NOT_HANDED_IN
        if c.grading is None:
            return NOT_GRADED_YET
        return REFUSED if c.grading.status == REFUSED else GRADED

    @property
    def final(self) -> float | None:
        """The score that counts; 0 for missing work; None while there is none."""
        if self.current is not None:
            return self.current.final
        return 0.0 if self.closed else None


def closed(course: Course, due: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """Is an exercise due at `due` closed: no more late work accepted?"""
    if due is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    return now > due + dt.timedelta(days=course.late_policy.last_day)


def standings(
    course: Course,
    exercise: Exercise,
    store: Store,
    *,
    results: bool = True,
    now: dt.datetime | None = None,
) -> list[Standing]:
    """Every roster student and every student with an attempt, by login."""
    from grader.portal.accounts import accounts  # lazy: the portal (Flask), only if asked

    roster = {a.login: a for a in accounts(store, "student")}
    counted = {c.student: c for c in store.counted(exercise, results=results)}
    extensions = store.extensions(exercise.slug)
    out = []
    for login in sorted(set(roster) | set(counted)):
        account, ext = roster.get(login), extensions.get(login)
        due = ext.due if ext else exercise.due
        out.append(
            Standing(
                login,
                account.name if account else "",
                account.sis_id if account else "",
                account.section if account else "",
                counted.get(login),
                due,
                closed(course, due, now),
                ext is not None,
            )
        )
    return out
