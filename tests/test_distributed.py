"""Distributed grading with a real `redis-server` and real `grader worker` processes.

Each test starts a private redis-server on a free port (in its temp folder) and workers on
the local backend; the tiny course of `store_class` is graded. Faults: a pool process and a
whole worker SIGKILLed mid-grade, redis-server restarted mid-batch (with and without its
append-only file), grade-all interrupted and rerun, the Docker engine unreachable. After each,
the store must hold exactly one grading per submission per request.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.batch import grade_all
from grader.course import load_course
from grader.distributed.app import Settings, load_settings, make_app, visibility_for
from grader.distributed.routing import queue_for
from grader.distributed.submit import grade_distributed
from grader.entries import entries_in
from grader.errors import ConfigError
from grader.store import open_store
from servers import RedisServer, WorkerProcess, worker
from store_class import make_class, make_course

ROOT = Path(__file__).resolve().parents[1]
ON_TIME = "2026-09-20T10:00:00Z"
CLASS = {"alice": "good", "bob": "bad", "carol": "good", "dave": "def add(:", "erin": "bad"}
RECEIVED = {
    "alice": ON_TIME,
    "bob": ON_TIME,
    "carol": "2026-09-23T10:00:00Z",
    "dave": ON_TIME,
    "erin": ON_TIME,
}
MPI_EXERCISE = """\

[[exercise]]
slug = "tiny_mpi"
points = 10
"""

pytestmark = pytest.mark.timeout(600)


def _course(root: Path, redis: RedisServer, **distributed) -> Path:
    """The tiny course (plus `tiny_mpi`, run at 2 ranks) with a [distributed] table."""
    make_course(root)
    mpi = root / "exercises" / "tiny_mpi"
    import shutil

    shutil.copytree(root / "exercises" / "tiny", mpi)
    (mpi / "exercise.toml").write_text(
        'title = "Adding numbers, MPI"\ntopic = "mpi"\npoints = 10\n[runtime.mpi]\nranks = [2]\n'
    )
    # generous by default: on a loaded machine a 3-test job can run for over a minute
    table = {
        "broker": redis.url,
        "visibility_timeout": 600,
        "resend_after": 600,
        "retries": 1,
        "retry_backoff": 0.5,
        **distributed,
    }
    lines = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in table.items())
    with (root / "course.toml").open("a") as f:
        f.write(MPI_EXERCISE + "\n[distributed]\n" + lines)
    return root


@pytest.fixture
def course_root(tmp_path, redis):
    root = _course(tmp_path / "course", redis)
    make_class(root / "subs", CLASS, received=RECEIVED)
    return root


def _workers(root, redis, n=2, **options):
    return [
        WorkerProcess(root, redis.url, name=f"w{i}", log_dir=root, **options)
        for i in range(1, n + 1)
    ]


def _ready(*workers):
    """Wait until every worker is ready; stop them all when one cannot start."""
    try:
        for w in workers:
            w.wait_ready()
    except BaseException:
        _stop(*workers)
        raise
    return workers


def _stop(*workers):
    """Stop every worker, also when stopping one fails (the first failure is raised after)."""
    failures = []
    for w in workers:
        try:
            w.stop()
        except Exception as exc:  # noqa: BLE001 - raised below, once the others are stopped
            failures.append(exc)
    if failures:
        raise failures[0]


def _gradings(root: Path) -> list[tuple]:
    """(student, exercise, request, final, is_current) of every grading; [] before the schema."""
    with sqlite3.connect(root / "grader.db") as c:
        if not c.execute("select 1 from sqlite_master where name = 'gradings'").fetchone():
            return []
        return c.execute(
            "select st.name, s.exercise, g.request_id, g.final, g.is_current "
            "from gradings g join submissions s on s.id = g.submission_id "
            "join students st on st.id = s.student_id order by g.id"
        ).fetchall()


def _assert_once(root: Path, students, exercise="tiny") -> None:
    """Each student graded exactly once per request, with exactly one current grading."""
    rows = [r for r in _gradings(root) if r[1] == exercise]
    per_request = {}
    for name, _ex, request, _final, _current in rows:
        per_request.setdefault((name, request), 0)
        per_request[(name, request)] += 1
    assert all(n == 1 for n in per_request.values()), per_request
    current = sorted(r[0] for r in rows if r[4])
    assert current == sorted(students)


def _grade(root: Path, students_dir: Path | None = None, exercise="tiny", **kw):
    course = load_course(root)
    ex = course.exercise(exercise)
    with open_store(course) as store:
        return grade_distributed(
            course,
            ex,
            entries_in(students_dir or root / "subs"),
            root / "out",
            store,
            progress=False,
            **kw,
        )


def _in_thread(fn, *args, **kw):
    box = {}

    def run():
        try:
            box["value"] = fn(*args, **kw)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=400):
        t.join(timeout)
        assert not t.is_alive(), "grading did not finish"
        if "error" in box:
            raise box["error"]
        return box["value"]

    return join


def _started(root: Path, timeout=120) -> dict:
    """Wait until some job is running; its stored STARTED state (pid, hostname)."""
    course = load_course(root)
    settings = load_settings(course)
    app = make_app(settings, 60)
    client = app.backend.client
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for key in client.scan_iter("celery-task-meta-*"):
                meta = app.backend.decode_result(client.get(key))
                if meta and meta["status"] == "STARTED":
                    return {"id": key.decode().removeprefix("celery-task-meta-"), **meta["result"]}
            time.sleep(0.05)
    finally:
        app.close()
    raise AssertionError("no job started")


def _gradebook(path: Path) -> dict[str, dict]:
    with path.open(newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


# ---------------------------------------------------------------- configuration and routing


def test_settings_from_course_toml_env_and_flag(course_root, redis, monkeypatch):
    course = load_course(course_root)
    assert load_settings(course).broker == redis.url
    monkeypatch.setenv("PGRADER_BROKER", "amqp://guest@rabbit:5672//")
    with pytest.raises(ConfigError, match="distributed.results"):  # RabbitMQ needs Redis results
        load_settings(course)
    assert load_settings(course, "redis://other:6379/1").broker == "redis://other:6379/1"
    with pytest.raises(ConfigError, match="redis:// or amqp://"):
        load_settings(course, "http://example.org")
    with (course_root / "course.toml").open("a") as f:
        f.write("resends = -1\n")
    with pytest.raises(ConfigError, match="distributed.resends"):
        load_settings(load_course(course_root))


def test_routing_and_visibility_from_limits(course_root):
    course = load_course(course_root)
    assert queue_for(course.exercise("tiny")) == "cpu"
    assert queue_for(course.exercise("tiny_mpi")) == "mpi"
    # 3 tests at the default 20 s wall limit: a run may take 60 + 20*4*3 s; twice that + 60
    assert visibility_for([course.exercise("tiny")], Settings()) == 2 * (60 + 20 * 4 * 3) + 60
    assert visibility_for([course.exercise("tiny")], Settings(visibility_timeout=7)) == 7


# ---------------------------------------------------------------- results


def test_two_workers_grade_like_the_local_path(course_root, redis):
    workers = _ready(*_workers(course_root, redis, 2))
    try:
        t0 = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "grader",
                "--course",
                str(course_root),
                "grade-all",
                "tiny",
                str(course_root / "subs"),
                "--out",
                str(course_root / "out"),
                "--distributed",
            ],
            capture_output=True,
            text=True,
            timeout=400,
        )
        took = time.monotonic() - t0
    finally:
        _stop(*workers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"5 submissions on 2 workers: {took:.1f} s")
    local = grade_all(
        load_course(course_root),
        load_course(course_root).exercise("tiny"),
        course_root / "subs",
        course_root / "local",
        backend="local",
        jobs=2,
        progress=False,
    )
    dist = _gradebook(course_root / "out" / "gradebook.csv")
    assert dist == _gradebook(course_root / "local" / "gradebook.csv")
    assert dist["alice"]["final"] == "10" and dist["carol"]["late_days"] == "2"
    assert dist["dave"]["status"].startswith("refused")
    for row in local:
        import json

        mine = json.loads((course_root / "out" / row.student / "results.json").read_text())
        assert [t["verdict"] for t in mine["tests"]] == [t.verdict for t in row.result.tests]
        assert (course_root / "out" / row.student / "feedback.html").exists()
    _assert_once(course_root, CLASS)
    # both workers took jobs
    assert all("pgrader.grade[" in w.text() for w in workers), [w.text()[-500:] for w in workers]


def test_a_cpu_worker_never_receives_an_mpi_job(course_root, redis):
    (cpu,) = _ready(*_workers(course_root, redis, 1, queues="cpu"))
    try:
        join = _in_thread(_grade, course_root, exercise="tiny_mpi")
        time.sleep(8)
        assert "pgrader.grade[" not in cpu.text()
        assert not (course_root / "out" / "alice").exists()
        with worker(course_root, redis.url, name="mpi1", queues="mpi", log_dir=course_root) as mpi:
            outcome = join()
            assert "pgrader.grade[" in mpi.text()
        assert "pgrader.grade[" not in cpu.text()
    finally:
        cpu.stop()
    assert {r.student: r.status for r in outcome.rows} == dict.fromkeys(CLASS, "graded")
    _assert_once(course_root, CLASS, "tiny_mpi")


# ---------------------------------------------------------------- faults


def test_pool_process_killed_mid_grade_is_redelivered_and_counted_once(tmp_path, redis):
    root = _course(tmp_path / "course", redis)
    students = {"alice": "good", "bob": "bad", "carol": "good"}
    make_class(root / "subs", students, slow=3.0)
    (w,) = _ready(*_workers(root, redis, 1))
    try:
        join = _in_thread(_grade, root)
        started = _started(root)
        os.kill(started["pid"], signal.SIGKILL)  # the pool process running the job
        outcome = join()
    finally:
        w.stop()
    assert {r.student: r.status for r in outcome.rows} == dict.fromkeys(students, "graded")
    assert "WorkerLostError" in w.text() or "exited prematurely" in w.text()
    assert w.text().count(f"[{started['id']}] received") == 2  # handed out again
    _assert_once(root, students)


def test_whole_worker_killed_mid_grade_its_job_is_redelivered(tmp_path, redis):
    root = _course(tmp_path / "course", redis, visibility_timeout=15, resend_after=300)
    students = {"alice": "good", "bob": "bad", "carol": "good", "dave": "good"}
    make_class(root / "subs", students, slow=3.0)
    workers = _ready(*_workers(root, redis, 2))
    try:
        join = _in_thread(_grade, root)
        started = _started(root)
        victim = next(w for w in workers if started["hostname"].startswith(w.name + "@"))
        victim.kill_all()  # the machine is gone: its unacknowledged job waits out the timeout
        outcome = join()
    finally:
        _stop(*workers)
    survivor = next(w for w in workers if w is not victim)
    assert {r.student: r.status for r in outcome.rows} == dict.fromkeys(students, "graded")
    assert f"[{started['id']}] received" in survivor.text()
    _assert_once(root, students)


@pytest.mark.parametrize("persist", [False, True], ids=["memory-only", "append-only-file"])
def test_redis_restarted_mid_batch_loses_and_doubles_nothing(tmp_path, persist):
    server = RedisServer(tmp_path / "redis", persist=persist)
    server.start()
    workers = []
    try:
        root = _course(tmp_path / "course", server, resend_after=12)
        students = {f"s{i}": "good" if i % 2 else "bad" for i in range(6)}
        make_class(root / "subs", students, slow=1.5)
        workers = _workers(root, server, 2)
        _ready(*workers)
        join = _in_thread(_grade, root)
        _started(root)
        time.sleep(1.0)
        server.stop(signal.SIGTERM if persist else signal.SIGKILL)
        time.sleep(2.0)
        server.start()
        outcome = join()
    finally:
        _stop(*workers)
        server.stop(signal.SIGKILL)
    assert {r.student: r.status for r in outcome.rows} == dict.fromkeys(students, "graded"), [
        r.problem for r in outcome.rows
    ]
    _assert_once(root, students)


def test_interrupted_grade_all_resumes_on_rerun(tmp_path, redis):
    root = _course(tmp_path / "course", redis)
    students = {f"s{i}": "good" for i in range(6)}
    make_class(root / "subs", students, slow=1.0)
    argv = [
        sys.executable,
        "-m",
        "grader",
        "--course",
        str(root),
        "grade-all",
        "tiny",
        str(root / "subs"),
        "--out",
        str(root / "out"),
        "--distributed",
    ]
    (w,) = _ready(*_workers(root, redis, 1))
    try:
        first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 300
        while not ((root / "grader.db").exists() and _gradings(root)):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.1)
        first.send_signal(signal.SIGINT)
        out, _ = first.communicate(timeout=60)
        assert first.returncode == 130, out
        done_before = len(_gradings(root))
        assert done_before < len(students)
        again = subprocess.run(argv, capture_output=True, text=True, timeout=400)
    finally:
        w.stop()
    assert again.returncode == 0, again.stdout + again.stderr
    _assert_once(root, students)
    assert len(_gradings(root)) == len(students)  # nothing recorded twice across the two runs
    # and nothing graded twice by the worker: a repeated job returned its stored result at once
    runs = re.findall(r"pgrader\.grade\[(\S+)\] succeeded in ([0-9.]+)s", w.text())
    graded = [jid for jid, took in runs if float(took) > 0.5]
    assert sorted(set(graded)) == sorted(graded) and len(graded) == len(students), runs
    assert set(_gradebook(root / "out" / "gradebook.csv")) == set(students)


def test_docker_unreachable_is_retryable_never_zero(course_root, redis, tmp_path):
    dead = tmp_path / "no-docker.sock"
    (w,) = _ready(
        *_workers(course_root, redis, 1, backend="docker", env={"DOCKER_HOST": f"unix://{dead}"})
    )
    try:
        outcome = _grade(course_root)
    finally:
        w.stop()
    rows = {r.student: r for r in outcome.rows}
    assert rows["dave"].status == "graded" and rows["dave"].result.error  # intake refused it
    for name in set(CLASS) - {"dave"}:
        assert rows[name].status == "not-graded" and rows[name].result is None
        assert rows[name].problem.startswith("retryable, the platform failed 2 times")
    book = _gradebook(course_root / "out" / "gradebook.csv")
    assert book["alice"]["final"] == "" and book["alice"]["status"].startswith(
        "not graded yet (retryable): the platform failed"
    )
    assert [r[0] for r in _gradings(course_root)] == ["dave"]  # nothing else recorded
    # the engine is back (here: a worker that can grade): the rerun grades what was missing
    with worker(course_root, redis.url, name="w2", log_dir=course_root):
        again = _grade(course_root)
    assert {r.student: r.status for r in again.rows} == {
        **dict.fromkeys(CLASS, "graded"),
        "dave": "skipped",
    }
    _assert_once(course_root, CLASS)


def test_docker_backend_worker_records_its_image(tmp_path, redis, docker_backend):
    root = _course(tmp_path / "course", redis)
    students = {"alice": "good", "bob": "bad"}
    make_class(root / "subs", students, received={"alice": ON_TIME, "bob": ON_TIME})
    with worker(root, redis.url, name="d1", backend="docker", log_dir=root):
        outcome = _grade(root)
    scores = {r.student: (r.status, r.result.score) for r in outcome.rows}
    assert scores["alice"][0] == scores["bob"][0] == "graded"
    assert scores["alice"][1] == 10 and scores["bob"][1] < 10
    assert all(r.result.sandbox["backend"] == "docker" for r in outcome.rows)
    with sqlite3.connect(root / "grader.db") as c:
        images = {i for (i,) in c.execute("select image_id from gradings")}
    assert images == {docker_backend.image_id}
    _assert_once(root, students)


def test_a_job_redelivered_after_its_result_was_stored_is_not_graded_again(course_root, redis):
    with worker(course_root, redis.url, name="w1", log_dir=course_root) as w:
        _grade(course_root, exercise="tiny_mpi")
        received = w.text().split("pgrader.grade[")[1].split("]")[0]
        app = make_app(load_settings(load_course(course_root)), 60)
        try:
            before = app.backend.metas([received])[received]  # uncached reads
            # the same job id again, as a redelivery would bring it (its body is not even read)
            app.send_task("pgrader.grade", args=[{}], task_id=received, queue="mpi")
            deadline = time.monotonic() + 120
            while w.text().count(f"pgrader.grade[{received}] succeeded") < 2:
                assert time.monotonic() < deadline, w.text()[-2000:]
                time.sleep(0.1)
            after = app.backend.metas([received])[received]
        finally:
            app.close()
    assert before["status"] == after["status"] == "SUCCESS"
    assert after["result"] == before["result"] and after["result"]["status"] == "graded"
    # the worker returned the stored result (Celery would not overwrite a SUCCESS anyway)
    second = w.text().split(f"pgrader.grade[{received}] succeeded")[2].splitlines()[0]
    assert "'status': 'graded'" in second, second
    _assert_once(course_root, CLASS, "tiny_mpi")


def test_a_worker_with_other_tests_refuses_the_job(course_root, redis, tmp_path):
    import shutil

    stale = shutil.copytree(course_root, tmp_path / "stale-copy")
    hidden = stale / "exercises" / "tiny" / "tests" / "hidden" / "test_hidden.py"
    hidden.write_text(hidden.read_text().replace("-3", "-5"))
    with worker(stale, redis.url, name="stale", log_dir=tmp_path):
        outcome = _grade(course_root, course_root / "subs")
    rows = {r.student: r for r in outcome.rows}
    assert (
        rows["alice"].status == "not-graded"
        and "differs from the submitter" in rows["alice"].problem
    )
    assert [r[0] for r in _gradings(course_root)] == ["dave"]  # only intake's refusal is recorded
