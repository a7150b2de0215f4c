"""Warm containers: sandbox boxes started ahead of time, each given to exactly one submission.

A grading process (the CLI's batch, a Celery worker, the portal's runner) keeps a few started,
hardened boxes (`grader.sandbox.docker.Box`) per image and limits. `take` hands one out (or
starts one now when none is ready) and starts a replacement in the background; after the
submission's test run `discard` removes the box in the background. Nothing of one submission
reaches the next: a box is never handed out twice, and the submission is copied into it only
when it is handed out.

The engine ping and the image lookup happen once per process (`WarmPool.image_id`), not per
submission. `PGRADER_WARM_CONTAINERS` sets how many boxes wait per key (default 2; 0 starts
each box when it is taken, still off the judge's start).
"""

from __future__ import annotations

import atexit
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict

from grader.course import Limits
from grader.errors import SandboxUnavailable
from grader.sandbox import image as sandbox_image

WARM_ENV = "PGRADER_WARM_CONTAINERS"


def warm_size() -> int:
    try:
        return max(0, min(int(os.environ.get(WARM_ENV, "2")), 8))
    except ValueError:
        return 2


class WarmPool:
    """Started boxes waiting for a submission, per (image, limits, the template's preloads)."""

    def __init__(self, client=None, size: int | None = None, log=print):
        import docker

        try:
            self.client = client or docker.from_env()
            self.client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
            raise SandboxUnavailable(f"the Docker engine does not answer ({exc})") from exc
        self.image_id = sandbox_image.ensure_image(self.client, log=log)
        self.tag = sandbox_image.image_tag()
        self.size = warm_size() if size is None else size
        self._ready: dict[tuple, list[Future]] = {}
        self._lock = threading.Lock()
        self._starter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pgrader-warm")
        self._remover = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pgrader-remove")
        self.closed = False

    def _key(self, limits: Limits, preload: tuple) -> tuple:
        return (tuple(sorted(asdict(limits).items())), preload)

    def _start(self, limits: Limits, preload: tuple = ()):
        from grader.sandbox.docker import Box  # lazy: the docker SDK, only once a box starts

        return Box(self.client, self.image_id, limits, preload=preload)

    def take(self, limits: Limits, preload: tuple = ()):
        """A started box for one submission (never handed out again); refills in the background.
        `preload`: the optional libraries its template imports (grader.sandbox.preload)."""
        with self._lock:
            if self.closed:
                raise SandboxUnavailable("the warm pool is closed")
            waiting = self._ready.setdefault(self._key(limits, preload), [])
            future = waiting.pop(0) if waiting else None
            self._refill(waiting, limits, preload)
        if future is None:
            return self._start(limits, preload)
        try:
            return future.result()
        except SandboxUnavailable:
            return self._start(limits, preload)  # one that failed in the background: once more

    def prefill(self, limits: Limits, preload: tuple = ()) -> None:
        """Start this kind's boxes in the background before the first `take` asks for one."""
        with self._lock:
            if not self.closed:
                self._refill(
                    self._ready.setdefault(self._key(limits, preload), []), limits, preload
                )

    def _refill(self, waiting: list[Future], limits: Limits, preload: tuple) -> None:
        while len(waiting) < self.size:
            waiting.append(self._starter.submit(self._start, limits, preload))

    def discard(self, box) -> None:
        """Remove a used box, off the critical path."""
        try:
            self._remover.submit(box.remove)
        except RuntimeError:  # shutting down: remove it now
            box.remove()

    def close(self) -> None:
        """Remove every box still waiting (and wait for the removals in progress)."""
        with self._lock:
            self.closed = True
            waiting = [f for fs in self._ready.values() for f in fs]
            self._ready.clear()
        for future in waiting:
            try:
                future.result().remove()
            except Exception:  # noqa: BLE001 - closing never raises
                pass
        self._starter.shutdown(wait=True)
        self._remover.shutdown(wait=True)


_pools: dict[int, WarmPool] = {}
_pools_lock = threading.Lock()


def shared_pool() -> WarmPool:
    """This process's pool (a forked worker builds its own: boxes are never shared)."""
    with _pools_lock:
        pool = _pools.get(os.getpid())
        if pool is None or pool.closed:
            pool = _pools[os.getpid()] = WarmPool()
        return pool


def close_shared() -> None:
    with _pools_lock:
        pool = _pools.pop(os.getpid(), None)
    if pool is not None:
        pool.close()


atexit.register(close_shared)
