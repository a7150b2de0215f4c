"""Grade passback over LTI Assignment and Grade Services: a durable outbox in the store.

Whenever what counts for a student changes (an upload graded, a regrade, a late penalty
re-applied, an override), `queue_changed` compares the counted score of every LMS link of
that student and exercise with the last one queued for it, and queues the new score in
`lti_scores` (an older one not yet delivered is superseded: the platform only ever gets the
newest). `deliver_due` posts the due scores to their line items (`pylti1p3`: an OAuth2
client-credentials token got with a JWT bearer assertion signed by the tool's key, then
the score POST). A refused or failed post stays pending and is tried again after
RETRY_FIRST, doubling up to RETRY_MAX, until it lands; every try is a row of the store's
audit, and the instructor's LTI page lists what is waiting and why.

`Passback` is the portal's loop doing both: woken after each graded job, and every SWEEP
seconds for changes made elsewhere (`grader regrade`, an override). Several portal
processes on one store share the work: a score is claimed (its next try pushed CLAIM
ahead) before it is posted.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select, update

from grader.portal.lti.models import PENDING, SENT, SUPERSEDED, LtiLink, LtiPlatform, LtiScore
from grader.portal.lti.tool import registration, tool_key
from grader.store import Store
from grader.store.models import utcnow

log = logging.getLogger("grader.portal.lti")
RETRY_FIRST = dt.timedelta(seconds=5)
RETRY_MAX = dt.timedelta(hours=1)
CLAIM = dt.timedelta(minutes=2)  # a claimed score is someone else's to try after this
HTTP_TIMEOUT = 30.0  # seconds for one request to the platform
SWEEP = 30.0  # seconds between looks for changes made elsewhere
POLL = 2.0  # seconds between looks for due scores
BATCH = 20


def retry_delay(tries: int) -> dt.timedelta:
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, tries - 1))


class _Session(requests.Session):
    """Every request with a timeout: a platform that never answers cannot hang the loop."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(*args, **kwargs)


def timed_session() -> requests.Session:
    return _Session()


def remember_link(
    store: Store, platform_id: int, student: str, exercise: str, sub: str, endpoint: dict
) -> None:
    """A launch's line item for `student` on `exercise` (from the AGS endpoint claim)."""
    lineitem = endpoint.get("lineitem")
    scopes = endpoint.get("scope") or []
    if (
        not isinstance(lineitem, str)
        or not lineitem.startswith(("https://", "http://"))
        or not isinstance(scopes, list)
    ):
        return
    scopes = [x for x in scopes if isinstance(x, str)][:10]
    with store._tx() as s:
        link = s.scalar(
            select(LtiLink).where(
                LtiLink.platform_id == platform_id,
                LtiLink.student == student,
                LtiLink.exercise == exercise,
                LtiLink.lineitem == lineitem,
            )
        )
        if link is None:
            s.add(
                LtiLink(
                    platform_id=platform_id,
                    student=student,
                    exercise=exercise,
                    sub=sub,
                    lineitem=lineitem,
                    scopes=scopes,
                )
            )
            store._audit(s, "lti-linked", exercise, student, f"line item {lineitem}")
        else:
            link.sub, link.scopes = sub, scopes


def queue_changed(
    store: Store, course, exercise: str | None = None, student: str | None = None
) -> int:
    """Queue the counted score of each link (of `exercise` / `student`) whose score changed
    since the last one queued; how many were queued."""
    with store._read() as s:
        q = select(LtiLink)
        if exercise:
            q = q.where(LtiLink.exercise == exercise)
        if student:
            q = q.where(LtiLink.student == student)
        links = list(s.scalars(q))
    by_exercise: dict[str, list[LtiLink]] = defaultdict(list)
    for link in links:
        by_exercise[link.exercise].append(link)
    queued = 0
    for slug, group in by_exercise.items():
        ex = course.exercises.get(slug)
        if ex is None:
            continue
        finals = {
            c.student: c.final
            for c in store.counted(ex, sorted({x.student for x in group}), results=False)
        }
        for link in group:
            final = finals.get(link.student)
            if final is None or (
                link.last_score is not None and abs(final - link.last_score) < 1e-9
            ):
                continue
            with store._tx() as s:
                row = s.get_one(LtiLink, link.id, with_for_update=True)
                if row.last_score is not None and abs(final - row.last_score) < 1e-9:
                    continue  # another process queued it first
                s.execute(
                    update(LtiScore)
                    .where(LtiScore.link_id == row.id, LtiScore.status == PENDING)
                    .values(status=SUPERSEDED)
                )
                s.add(
                    LtiScore(
                        link_id=row.id,
                        score=final,
                        maximum=float(ex.points),
                        status=PENDING,
                        next_try_at=utcnow(),
                    )
                )
                row.last_score = final
                store._audit(
                    s,
                    "lti-score-queued",
                    slug,
                    row.student,
                    f"{final:g} / {ex.points:g} for {row.lineitem}",
                )
            queued += 1
    return queued


def _claim(store: Store) -> list[int]:
    now = utcnow()
    with store._read() as s:
        if (
            s.scalar(
                select(LtiScore.id)
                .where(LtiScore.status == PENDING, LtiScore.next_try_at <= now)
                .limit(1)
            )
            is None
        ):
            return []
    with store._tx() as s:
        rows = list(
            s.scalars(
                select(LtiScore)
                .where(LtiScore.status == PENDING, LtiScore.next_try_at <= now)
                .order_by(LtiScore.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.next_try_at = now + CLAIM
        return [row.id for row in rows]


def _post(connector: ServiceConnector, link: LtiLink, score: LtiScore) -> str:
    grade = (
        Grade()
        .set_score_given(score.score)
        .set_score_maximum(score.maximum)
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_user_id(link.sub)
        .set_timestamp(score.created_at.astimezone(dt.UTC).isoformat(timespec="milliseconds"))
    )
    ags = AssignmentsGradesService(connector, {"scope": link.scopes, "lineitem": link.lineitem})
    ags.put_grade(grade)
    return f"{score.score:g} / {score.maximum:g} to {link.lineitem}"


def deliver_due(store: Store) -> tuple[int, int]:
    """Post every due score once; (delivered, refused or failed)."""
    ids = _claim(store)
    if not ids:
        return 0, 0
    key = tool_key(store)
    connectors: dict[int, ServiceConnector] = {}
    sent = failed = 0
    for score_id in ids:
        with store._read() as s:
            score = s.get_one(LtiScore, score_id)
            link = s.get_one(LtiLink, score.link_id)
            platform = s.get_one(LtiPlatform, link.platform_id)
        if platform.id not in connectors:
            connectors[platform.id] = ServiceConnector(registration(platform, key), timed_session())
        try:
            what = _post(connectors[platform.id], link, score)
            error = ""
        except Exception as exc:  # noqa: BLE001 - the platform's answer, kept and retried
            what, error = "", _explain(exc)
        with store._tx() as s:
            row = s.get_one(LtiScore, score_id, with_for_update=True)
            row.tries += 1
            if not error:
                row.status = SENT if row.status == PENDING else row.status
                row.sent_at, row.last_error = utcnow(), ""
                store._audit(
                    s, "lti-score-sent", link.exercise, link.student, f"try {row.tries}: {what}"
                )
                sent += 1
            else:
                row.last_error = error[:2000]
                row.next_try_at = utcnow() + retry_delay(row.tries)
                store._audit(
                    s,
                    "lti-score-refused",
                    link.exercise,
                    link.student,
                    f"try {row.tries}: {error[:900]}; next try after "
                    f"{row.next_try_at:%Y-%m-%d %H:%M:%S} UTC",
                )
                failed += 1
    return sent, failed


def _explain(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, requests.Response):
        body = " ".join(response.text.split())[:300]
        return f"the platform answered HTTP {response.status_code} at {response.url}: {body}"
    if isinstance(exc, requests.RequestException):
        return f"the platform could not be reached: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def waiting(store: Store) -> list[tuple[LtiScore, LtiLink]]:
    """Scores not delivered yet (oldest first), with their links: for the instructor."""
    with store._read() as s:
        return list(
            s.execute(
                select(LtiScore, LtiLink)
                .join(LtiLink, LtiScore.link_id == LtiLink.id)
                .where(LtiScore.status == PENDING)
                .order_by(LtiScore.id)
            ).tuples()
        )


def recent(store: Store, limit: int = 50) -> list[tuple[LtiScore, LtiLink]]:
    with store._read() as s:
        return list(
            s.execute(
                select(LtiScore, LtiLink)
                .join(LtiLink, LtiScore.link_id == LtiLink.id)
                .where(LtiScore.status == SENT)
                .order_by(LtiScore.sent_at.desc())
                .limit(limit)
            ).tuples()
        )


class Passback:
    """The portal's passback loop (one thread)."""

    def __init__(self, live, store: Store):
        self.live, self.store = live, store
        self._wake = threading.Condition()
        self._changed: set[tuple[str, str]] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lti-passback", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()

    def graded(self, exercise: str, student: str) -> None:
        """A job of `student` on `exercise` was graded: look at its links now."""
        with self._wake:
            self._changed.add((exercise, student))
            self._wake.notify_all()

    def _loop(self) -> None:
        last_sweep = 0.0
        while not self._stopping.is_set():
            try:
                with self._wake:
                    changed, self._changed = self._changed, set()
                for exercise, student in changed:
                    queue_changed(self.store, self.live.course, exercise, student)
                if time.monotonic() - last_sweep >= SWEEP:
                    queue_changed(self.store, self.live.course)
                    last_sweep = time.monotonic()
                deliver_due(self.store)
            except Exception:  # noqa: BLE001 - the store or the platform away: try again
                log.exception("LTI passback")
            with self._wake:
                if not self._changed and not self._stopping.is_set():
                    self._wake.wait(POLL)
