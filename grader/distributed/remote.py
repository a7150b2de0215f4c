"""One submission at a time on `grader worker`s: the portal's grader when a broker is set.

Each portal grading thread hands its job to the queues and waits for the result, through
the same `submit.collect` as `grade-all --distributed` (re-sends, a failed task sent again,
not graded after `resends`), so a job keeps the same id when it is sent again: a portal
restarted while a worker was grading gets that worker's stored result instead of grading
the submission twice. Each thread has its own Celery app (connections are not shared
between threads). The caller records the result in the store.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
from pathlib import Path

from grader.course import Course, Exercise
from grader.distributed.app import make_app, visibility_for
from grader.distributed.submit import collect, store_namespace
from grader.entries import Entry
from grader.grade import GradingFailed
from grader.results import SubmissionResult


class RemoteGrader:
    """`grade(...)` sends one job and returns its result; GradingFailed when not graded."""

    def __init__(self, course: Course, store_url: str, settings):
        self.course, self.settings = course, settings
        self.visibility = visibility_for(course.exercises.values(), settings)
        self.namespace = store_namespace(store_url)  # as grade-all's: the same job ids
        self._local = threading.local()
        self._apps: list = []
        self._lock = threading.Lock()

    def _app(self):
        app = getattr(self._local, "app", None)
        if app is None:
            app = self._local.app = make_app(self.settings, self.visibility)
            with self._lock:
                self._apps.append(app)
        return app

    def grade(
        self, exercise: Exercise, student: str, path: Path, received: dt.datetime | None, key: str
    ) -> SubmissionResult:
        """Grade `path` on a worker; `key` names the request (the same key, the same job)."""
        with tempfile.TemporaryDirectory(prefix="pgrader-remote-") as out:
            rows = collect(
                self._app(),
                self.settings,
                self.namespace,
                key,
                self.settings.resend_after or self.visibility,
                self.course,
                exercise,
                [Entry(student, path, received)],
                Path(out),
                progress=False,
            )
        row = rows[student]
        if row.result is None:
            raise GradingFailed(f"{student}: {row.problem}")
        return row.result

    def close(self) -> None:
        with self._lock:
            for app in self._apps:
                app.close()
            self._apps.clear()
