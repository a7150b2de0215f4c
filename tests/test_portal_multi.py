"""Two `grader serve` processes serving one course from one PostgreSQL store (a private
cluster, tests/postgres.py), as behind a reverse proxy: a session opened on one works on the
other, uploads made on either are graded exactly once by one of them, and when one is killed
while it grades, the other takes its job over and grades it, once."""

from __future__ import annotations

import signal
import time

import pytest
import requests

from test_portal import (
    FIXED,
    GRADING_S,
    RACY,
    Server,
    attempt_url,
    make_course,
    sign_in,
    submission_id,
    upload,
    wait_graded,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def course(tmp_path, postgres_url):
    """The HTTP tests' course, its store a fresh database of the private cluster."""
    return (
        tmp_path,
        make_course(tmp_path, toml=f'\n[store]\nurl = "{postgres_url}"\n'),
        postgres_url,
    )


def _jobs(url: str) -> list[tuple]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as c:
            return [
                tuple(r)
                for r in c.execute(
                    sqlalchemy.text(
                        "select j.id, j.student, j.status, j.owner, (select count(*) from gradings g "
                        "where g.submission_id = j.submission_id) from jobs j order by j.id"
                    )
                )
            ]
    finally:
        engine.dispose()


def test_two_portals_share_one_postgresql_store(course):
    folder, passwords, url = course
    a, b = Server(folder, 1), Server(folder, 1)
    try:
        alice = sign_in(a.url, "alice", passwords["alice"])
        bob = sign_in(b.url, "bob", passwords["bob"])
        numbers = [
            submission_id(upload(alice, a.url, "solution.py", FIXED.read_bytes())),
            submission_id(upload(alice, a.url, "counter.py", RACY.read_bytes())),
        ]
        bobs = submission_id(upload(bob, b.url, "solution.py", FIXED.read_bytes()))
        # alice's session, opened on a, works on b (sessions live in the store)
        on_b = requests.Session()
        on_b.cookies.update(alice.cookies)
        for number in numbers:
            _, reply = wait_graded(on_b, b.url, number)
            assert reply["status"] == "graded"
        _, reply = wait_graded(bob, a.url, bobs)
        assert reply == {"status": "graded", "score": 10.0, "max": 10.0}
        assert on_b.get(attempt_url(b.url, 1), timeout=60).status_code == 200
    finally:
        a.stop()
        b.stop()
    jobs = _jobs(url)
    assert [j[2] for j in jobs] == ["graded"] * 3 and [j[4] for j in jobs] == [1, 1, 1], jobs
    owners = {j[3].split(" ")[1] for j in jobs}
    assert owners <= {str(a.proc.pid), str(b.proc.pid)}, jobs


def test_a_killed_portals_job_is_graded_by_the_other_once(course):
    """a claims the job; c, already serving, sees a's process gone at its next heartbeat and
    grades the job itself, once."""
    folder, passwords, url = course
    a = Server(folder, 1)
    b = Server(folder, 0)  # serves pages only
    try:
        alice = sign_in(b.url, "alice", passwords["alice"])
        number = submission_id(upload(alice, b.url, "solution.py", FIXED.read_bytes()))
        deadline = time.monotonic() + GRADING_S
        while (
            alice.get(attempt_url(b.url, number, api=True), timeout=60).json()["status"]
            != "running"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # a is frozen, alive, with its job running: a warm grading can end in less time than
        # a server takes to start, and c must start while a's job is still a's
        a.proc.send_signal(signal.SIGSTOP)
        c = Server(folder, 1)  # starts while a is alive and grading: leaves a's job alone
        try:
            [job] = _jobs(url)
            assert job[2] == "running" and job[3].split(" ")[1] == str(a.proc.pid), job
            a.stop(signal.SIGKILL)
            _, reply = wait_graded(alice, b.url, number)
            assert reply == {"status": "graded", "score": 10.0, "max": 10.0}
        finally:
            c.stop()
    finally:
        a.stop()
        b.stop()
    [job] = _jobs(url)
    assert job[4] == 1 and job[3].split(" ")[1] == str(c.proc.pid), job
