"""The course as its files say now: `grader serve` re-reads course.toml (dates, the counting
rule, `[portal]` settings) and the exercises' exercise.toml files when they change, without a
restart. A broken edit keeps the last good course and is logged; the next good one is used.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from grader.course import Course, load_course
from grader.errors import GraderError
from grader.portal.settings import PortalSettings, portal_settings

log = logging.getLogger("grader.portal")
CHECK_EVERY = 1.0  # seconds between looks at the files' modification times


class LiveCourse:
    def __init__(self, course: Course):
        self._course, self._settings = course, portal_settings(course)
        self._stamp = self._mtimes()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def _files(self) -> list[Path]:
        root = self._course.root
        return [root / "course.toml", *sorted(root.glob("exercises/*/exercise.toml"))]

    def _mtimes(self) -> tuple:
        stamps: list[tuple[str, int | None]] = []
        for path in self._files():
            try:
                stamps.append((str(path), path.stat().st_mtime_ns))
            except OSError:
                stamps.append((str(path), None))
        return tuple(stamps)

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < CHECK_EVERY:
            return
        with self._lock:
            if time.monotonic() - self._checked < CHECK_EVERY:
                return
            self._checked = time.monotonic()
            stamp = self._mtimes()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                course = load_course(self._course.root)
                settings = portal_settings(course)
            except (GraderError, OSError) as exc:
                log.error(
                    "course.toml changed but cannot be used (keeping the last good one): %s", exc
                )
                return
            self._course, self._settings = course, settings
            log.warning("course re-read from %s", self._course.root / "course.toml")

    @property
    def course(self) -> Course:
        self._refresh()
        return self._course

    @property
    def settings(self) -> PortalSettings:
        self._refresh()
        return self._settings
