"""`grader worker`: a Celery worker grading the jobs of the queues it serves."""

from __future__ import annotations

import os
import sys

from grader.course import Course
from grader.distributed.app import make_app, visibility_for
from grader.distributed.tasks import serve


def run_worker(
    course: Course,
    settings,
    queues: list[str],
    *,
    backend: str,
    sandbox_info: dict,
    concurrency: int | None = None,
    name: str | None = None,
    loglevel: str = "INFO",
) -> None:
    """Serve `queues` until stopped (SIGTERM/Ctrl-C: finish the running jobs, then exit)."""
    serve(course, backend, sandbox_info)
    visibility = visibility_for(course.exercises.values(), settings)
    app = make_app(settings, visibility)
    print(
        f"grader worker: course {course.name!r}, queues {','.join(queues)}, {backend} backend, "
        f"broker {settings.broker}, visibility timeout {visibility:g} s",
        file=sys.stderr,
    )
    argv = [
        "worker",
        f"--queues={','.join(queues)}",
        f"--concurrency={concurrency or os.cpu_count() or 1}",
        "--pool=prefork",
        "--prefetch-multiplier=1",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={loglevel}",
    ]
    if name:
        argv.append(f"--hostname={name}")
    app.worker_main(argv)
