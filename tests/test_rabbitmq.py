"""Distributed grading with RabbitMQ as the broker (results in Redis): a real private RabbitMQ
node (Debian's rabbitmq-server), a real redis-server and real `grader worker` processes.

With RabbitMQ a job held by a worker that vanishes comes back as soon as the broker sees its
connection close (no visibility timeout to wait out).
"""

from __future__ import annotations

import shutil
import time

import pytest

from servers import RabbitServer, WorkerProcess
from store_class import make_class
from test_distributed import (
    ON_TIME,
    _assert_once,
    _course,
    _grade,
    _in_thread,
    _ready,
    _started,
    _stop,
)

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        shutil.which("rabbitmq-server") is None,
        reason="rabbitmq-server is not installed (make setup installs it)",
    ),
]


@pytest.fixture
def rabbit():
    server = RabbitServer()
    server.start()  # (stops what it started when it fails)
    try:
        yield server
    finally:
        server.stop()


def _workers(root, rabbit, n=2):
    return [WorkerProcess(root, rabbit.url, name=f"w{i}", log_dir=root) for i in range(1, n + 1)]


def test_two_workers_over_rabbitmq_grade_every_submission_once(tmp_path, redis, rabbit):
    root = _course(tmp_path / "course", redis, broker=rabbit.url, results=redis.url)
    students = {"alice": "good", "bob": "bad", "carol": "good", "dave": "bad"}
    make_class(root / "subs", students, received=dict.fromkeys(students, ON_TIME))
    workers = _ready(*_workers(root, rabbit))
    try:
        outcome = _grade(root)
    finally:
        _stop(*workers)
    finals = {r.student: r.result.score for r in outcome.rows}
    assert finals == {"alice": 10.0, "bob": 3.3333, "carol": 10.0, "dave": 3.3333}, finals
    _assert_once(root, students)
    assert any("amqp://" in w.text() for w in workers), workers[0].text()[-2000:]


def test_worker_killed_mid_grade_its_job_comes_back_at_once(tmp_path, redis, rabbit):
    # a visibility timeout of 10 minutes would matter with Redis; RabbitMQ needs none
    root = _course(
        tmp_path / "course",
        redis,
        broker=rabbit.url,
        results=redis.url,
        visibility_timeout=600,
        resend_after=600,
    )
    students = {"alice": "good", "bob": "bad", "carol": "good"}
    make_class(root / "subs", students, slow=3.0)
    workers = _ready(*_workers(root, rabbit))
    try:
        join = _in_thread(_grade, root)
        started = _started(root)
        victim = next(w for w in workers if started["hostname"].startswith(w.name + "@"))
        t0 = time.monotonic()
        victim.kill_all()
        outcome = join(timeout=300)
        took = time.monotonic() - t0
    finally:
        _stop(*workers)
    survivor = next(w for w in workers if w is not victim)
    assert {r.student: r.status for r in outcome.rows} == dict.fromkeys(students, "graded")
    assert f"[{started['id']}] received" in survivor.text()
    assert took < 120, f"the lost job came back only after {took:.0f} s (visibility timeout: 600)"
    _assert_once(root, students)
