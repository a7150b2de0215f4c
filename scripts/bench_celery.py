"""The scaled class graded by Celery workers on this machine (`grade-all --distributed`).

A private `redis-server` and N `grader worker` processes (concurrency 1 each, queues cpu and
mpi, Docker backend) from `tests/servers.py`; one `grade-all --distributed` per
exercise, recorded in a SQLite store in the benchmark's temporary folder (the distributed
path always records). Used by `scripts/bench_scale.py` (`celery:WORKERS:SIZE`).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import RedisServer, WorkerProcess  # noqa: E402 - tests/servers.py

BACKEND = "docker"


def run_celery(
    course: Path, work: Path, workers: int, size: int, log, *, make_class, grade_all, read
) -> dict:
    """Like bench_scale.run_config, through `workers` Celery workers."""
    subs, out = work / f"class-celery-w{workers}-n{size}", work / f"out-celery-w{workers}-n{size}"
    expected = make_class(subs, size)
    redis = RedisServer(work / "redis")
    redis.start()
    with ExitStack() as stack:
        stack.callback(redis.stop)
        procs = []
        for i in range(workers):
            proc = WorkerProcess(
                course, redis.url, name=f"bench{i}", concurrency=1, backend=BACKEND, log_dir=work
            )
            stack.callback(proc.stop)
            procs.append(proc)
        for proc in procs:
            proc.wait_ready()
        log(f"celery: redis-server and {workers} workers ready")
        load0 = os.getloadavg()
        walls, images = {}, []
        for slug in sorted({s for s, _ in expected}):
            walls[slug] = grade_all(
                course,
                slug,
                subs / slug,
                out / slug,
                "docker",
                1,
                work / "celery.log",
                store=True,
                images=images,
                extra=[
                    "--distributed",
                    "--broker",
                    redis.url,
                    "--store",
                    str(work / "celery-store.db"),
                ],
            )
            log(f"celery-w{workers}-n{size} {slug}: {walls[slug]:.1f} s")
        load1 = os.getloadavg()
    return {
        "backend": "celery",
        "jobs": workers,
        "size": size,
        "walls": walls,
        "wall": sum(walls.values()),
        "images": images,
        "load_before": load0,
        "load_after": load1,
        "submissions": read(out, expected),
        "how": f"`grader worker --concurrency 1 --backend {BACKEND}` ×{workers} and a private "
        "redis-server on this machine; `grader grade-all SLUG DIR --distributed` per "
        "exercise, recorded in a SQLite store (the distributed path always records).",
    }
