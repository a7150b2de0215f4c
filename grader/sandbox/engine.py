"""Riding out a Docker engine that stops answering for a while (restarted, overloaded, socket
gone): grade-all waits a bounded time for it before each submission, and a submission whose
grading failed while the engine was away is graded again once it is back, or else reported
"not graded yet (retryable)" (never scored) for the next run to grade.
"""

from __future__ import annotations

import os
import threading
import time

from grader.sandbox import docker_available

WAIT_ENV = "PGRADER_ENGINE_WAIT"  # seconds to wait for the engine (default below)
DEFAULT_WAIT = 120.0
POLL = 1.0


def wait_seconds() -> float:
    value = os.environ.get(WAIT_ENV, "")
    try:
        return max(0.0, float(value)) if value else DEFAULT_WAIT
    except ValueError:
        raise ValueError(f"{WAIT_ENV}={value!r}: expected a number of seconds") from None


def wait_for_engine(seconds: float | None = None, stop: threading.Event | None = None) -> bool:
    """True once the engine answers (at once when it does), False after `seconds` of silence
    or once `stop` is set. After an outage, containers of graders that died meanwhile are
    removed."""
    seconds = wait_seconds() if seconds is None else seconds
    deadline = time.monotonic() + seconds
    waited = False
    while not docker_available():
        if time.monotonic() >= deadline or (stop is not None and stop.wait(POLL)):
            return False
        waited = True
        if stop is None:
            time.sleep(POLL)
    if waited:
        _remove_stale()
    return True


def down_message(seconds: float | None = None) -> str:
    seconds = wait_seconds() if seconds is None else seconds
    return (
        f"the Docker engine did not answer (waited {seconds:g} s); nothing was scored, "
        "the next grade-all grades it"
    )


def _remove_stale() -> None:
    import docker

    from grader.sandbox.docker import ENGINE_ERRORS, remove_stale_containers  # lazy: docker SDK

    try:
        remove_stale_containers(docker.from_env(timeout=10))
    except ENGINE_ERRORS:
        pass  # gone again: the next wait deals with it
