"""grade-all on the Docker backend under faults, with real containers and real processes:
Ctrl-C (SIGINT) mid-batch, and the Docker engine unreachable for a while (tests/docker_proxy.py
cuts the grader off the engine; the real dockerd keeps running)."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import docker
import pytest

from conftest import require_docker
from docker_proxy import DockerProxy, proxy_env
from store_class import make_class, make_course

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")
ON_TIME = "2026-09-20T10:00:00Z"


@pytest.fixture
def course(tmp_path, docker_backend):
    """The tiny course with 6 students whose slow_add sleeps 2 s (a grading takes a while)."""
    make_course(tmp_path)
    names = {f"s{i}": "good" if i % 2 == 0 else "bad" for i in range(6)}
    make_class(tmp_path / "subs", names, slow=2.0, received={n: ON_TIME for n in names})
    return tmp_path


@pytest.fixture
def proxy(tmp_path):
    require_docker()
    with DockerProxy(tmp_path / "docker.sock") as p:
        yield p


def _grade_all(course: Path, env: dict | None = None, jobs: int = 2) -> subprocess.Popen:
    return subprocess.Popen(
        [
            GRADER,
            "grade-all",
            "tiny",
            "subs",
            "--out",
            "out",
            "--backend",
            "docker",
            "-j",
            str(jobs),
        ],
        cwd=course,
        env=env or dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _gradings(course: Path) -> list[tuple[str, float]]:
    db = course / "grader.db"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as c:
            return c.execute(
                "select st.name, g.final from gradings g join submissions s on "
                "s.id = g.submission_id join students st on st.id = s.student_id "
                "order by g.id"
            ).fetchall()
    except sqlite3.OperationalError:
        return []  # no schema yet


def _wait(what, proc: subprocess.Popen, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if found := what():
            return found
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _descendants(pid: int) -> set[int]:
    """Every live process whose ancestry leads to `pid`."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _our_containers(client, pids: set[int]) -> list:
    return [
        c
        for c in client.containers.list(
            all=True, ignore_removed=True, filters={"label": "pgrader=1"}
        )
        if c.labels.get("pgrader.owner", "").isdigit() and int(c.labels["pgrader.owner"]) in pids
    ]


def _final_grades(course: Path) -> dict[str, str]:
    with (course / "out" / "gradebook.csv").open() as f:
        return {r["student"]: r["status"] for r in csv.DictReader(f)}


def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(course):
    client = docker.from_env()
    proc = _grade_all(course)
    seen_pids: set[int] = set()

    def busy():  # a grading recorded and another one's container running
        seen_pids.update(_descendants(proc.pid) | {proc.pid})  # grade-all starts them ahead
        return len(_gradings(course)) >= 1 and _our_containers(client, seen_pids)

    running = _wait(busy, proc)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    stopped_in = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert stopped_in < 20, stopped_in
    done = _gradings(course)
    assert (
        f"stopped after grading {len(done)} of 6" in err
        or f"stopped after grading {len(done) - 1} of 6" in err
    ), err
    assert "the next run grades the rest" in err
    left = [
        c.id
        for c in client.containers.list(
            all=True, ignore_removed=True, filters={"label": "pgrader=1"}
        )
    ]
    assert not set(c.id for c in running) & set(left)  # its containers are gone
    assert not _our_containers(client, seen_pids)
    assert not [p for p in seen_pids if Path(f"/proc/{p}").exists()]  # nor its processes
    rerun = _grade_all(course)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    names = [name for name, _ in _gradings(course)]
    assert sorted(names) == [f"s{i}" for i in range(6)]  # each once: none lost, none twice
    assert f"{6 - len(done)} graded in this request" in out
    print(f"SIGINT to exit: {stopped_in:.1f} s; {len(done)} graded before, {6 - len(done)} after")


def test_engine_away_for_a_while_is_waited_for(course, proxy):
    env = proxy_env(proxy) | {"PGRADER_ENGINE_WAIT": "120"}
    proc = _grade_all(course, env)
    _wait(lambda: _gradings(course), proc)
    proxy.down()
    time.sleep(5)
    proxy.up()
    out, err = proc.communicate(timeout=600)
    assert proxy.refused > 0  # the outage was really met
    assert proc.returncode == 0, out + err
    assert sorted(n for n, _ in _gradings(course)) == [f"s{i}" for i in range(6)]
    assert set(_final_grades(course).values()) == {"graded"}


def test_engine_away_too_long_marks_submissions_retryable_then_grades_them(course, proxy):
    env = proxy_env(proxy) | {"PGRADER_ENGINE_WAIT": "3"}
    proc = _grade_all(course, env)
    _wait(lambda: _gradings(course), proc)
    proxy.down()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    first = _gradings(course)
    statuses = _final_grades(course)
    waiting = [n for n, s in statuses.items() if s != "graded"]
    assert waiting and len(first) + len(waiting) == 6, statuses
    for name in waiting:  # never scored, clearly said why
        assert statuses[name].startswith(
            "not graded yet (retryable): the Docker engine did not answer"
        )
        assert f"{name:<20} {'-':>10}  not graded yet (retryable): the Docker engine" in out
    assert all(score > 0 for _, score in first)
    proxy.up()
    rerun = _grade_all(course, proxy_env(proxy))
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out + err
    names = [n for n, _ in _gradings(course)]
    assert sorted(names) == [f"s{i}" for i in range(6)]  # the rest graded, none twice
    assert f"{len(waiting)} graded in this request" in out
