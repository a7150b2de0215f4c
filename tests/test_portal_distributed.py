"""`grader serve --distributed`: the portal's jobs graded by a real `grader worker` through a
real redis-server; the portal records them as usual. A portal killed while a worker grades
gets that worker's result at its next start, without the submission being graded twice."""

from __future__ import annotations

import re
import signal
import time

import pytest

from servers import RedisServer, WorkerProcess
from test_portal import (
    FIXED,
    GRADING_S,
    RACY,
    RACY_SCORES,
    SLUG,
    Server,
    make_course,
    sign_in,
    submission_id,
    upload,
    wait_graded,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TAKEN = re.compile(r"Task pgrader\.grade\[[^\]]+\] received")
DONE = re.compile(r"Task pgrader\.grade\[[^\]]+\] succeeded")


@pytest.fixture
def setup(tmp_path):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    worker = None
    try:
        course = tmp_path / "course"
        course.mkdir()
        passwords = make_course(course)
        with (course / "course.toml").open("a") as f:
            f.write(
                f'\n[distributed]\nbroker = "{redis.url}"\nvisibility_timeout = 600\n'
                "resend_after = 600\n"
            )
        worker = WorkerProcess(course, redis.url, name="w1", log_dir=tmp_path)
        yield course, passwords, worker.wait_ready()
    finally:
        if worker is not None:
            worker.stop()
        redis.stop(signal.SIGKILL)


def test_uploads_are_graded_by_the_workers(setup):
    course, passwords, worker = setup
    server = Server(course, 2, "--distributed")
    try:
        alice = sign_in(server.url, "alice", passwords["alice"])
        racy = submission_id(upload(alice, server.url, "counter.py", RACY.read_bytes()))
        fixed = submission_id(upload(alice, server.url, "solution.py", FIXED.read_bytes()))
        _, reply = wait_graded(alice, server.url, racy)
        assert reply["status"] == "graded" and reply["max"] == 10.0, reply
        assert reply["score"] in RACY_SCORES, reply
        _, reply = wait_graded(alice, server.url, fixed)
        assert reply == {"status": "graded", "score": 10.0, "max": 10.0}, reply
        page = alice.get(f"{server.url}/exercises/{SLUG}/attempts/{racy}", timeout=60).text
        assert 'data-verdict="race"' in page and re.search(r'class="seed">\d+<', page)
    finally:
        server.stop()
    assert len(DONE.findall(worker.text())) == 2, worker.text()[-3000:]


def test_portal_killed_while_a_worker_grades_gets_its_result_once(setup):
    course, passwords, worker = setup
    first = Server(course, 1, "--distributed")
    alice = sign_in(first.url, "alice", passwords["alice"])
    sid = submission_id(upload(alice, first.url, "solution.py", FIXED.read_bytes()))
    deadline = time.monotonic() + GRADING_S
    while not TAKEN.search(worker.text()):  # the worker has the job
        assert time.monotonic() < deadline, worker.text()[-3000:]
        time.sleep(0.05)
    first.stop(signal.SIGKILL)
    while not DONE.search(worker.text()):  # it finishes while no portal runs
        assert time.monotonic() < deadline, worker.text()[-3000:]
        time.sleep(0.1)
    second = Server(course, 1, "--distributed")
    try:
        alice = sign_in(second.url, "alice", passwords["alice"])
        _, reply = wait_graded(alice, second.url, sid)
        assert reply == {"status": "graded", "score": 10.0, "max": 10.0}, reply
    finally:
        second.stop()
    assert len(DONE.findall(worker.text())) == 1, "graded twice:\n" + worker.text()[-3000:]
    from grader.store import Store, store_url

    with Store(store_url(course)) as store:
        assert len(store.history(SLUG, "alice")) == 1
