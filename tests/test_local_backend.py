"""The supervisor and agent through the local backend: values, errors, hangs, leftovers."""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import call_function, local_session
from grader.agent import codec
from grader.course import Limits
from grader.sandbox import local

SESSION_LIMITS = Limits(output_kb=16)
SOURCE = """
    import os, sys, threading, time

    def add(a, b):
        return {a: (a + b, [b])}

    def boom():
        return 1 / 0

    def deadlock():
        lock = threading.Lock()
        lock.acquire()
        lock.acquire()

    def spin():
        while True:
            pass

    def flood():
        sys.stdout.write("x" * 5_000_000)
        return "done"

    def ended_unjoined():
        # a worker that ended but was never joined, while multiprocessing's resource tracker
        # (a helper the supervisor gives time to exit) runs
        import multiprocessing as mp
        from multiprocessing import shared_memory
        shm = shared_memory.SharedMemory(create=True, size=64)
        p = mp.get_context("fork").Process(target=int)
        p.start()
        time.sleep(0.3)  # it has ended: a zombie, never joined
        shm.close()
        shm.unlink()
        return "returned"

    def orphan():
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        return "parent"

    def stray_thread():
        threading.Thread(target=time.sleep, args=(60,), name="stray").start()
        return 1

    def raw_thread():
        import _thread
        _thread.start_new_thread(time.sleep, (60,))  # no Python frame in it: C from the start
        _thread.start_new_thread(lambda: time.sleep(60), ())
        time.sleep(0.1)  # both running (a thread not yet started carries its creator's ident)
        return 1

    def unregistered_thread():
        def hide():
            threading._active.pop(threading.get_ident(), None)
            time.sleep(60)
        threading.Thread(target=hide, daemon=True).start()
        time.sleep(0.1)
        return 1

    def joined_threads():
        threads = [threading.Thread(target=time.sleep, args=(0.01,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return 1

    def spawn_and_join():
        import multiprocessing as mp
        ctx = mp.get_context("spawn")  # starts multiprocessing's resource tracker
        q = ctx.Queue()
        p = ctx.Process(target=q.put, args=(7,))
        p.start()
        got = q.get()
        p.join()
        return got

    def leave_early():
        os._exit(0)

    def nap(seconds, started):
        open(started, "w").close()  # the request is under way: a neighbour may come now
        time.sleep(seconds)
        return "rested"

    def forge():
        # A child outlives us and overwrites our result with a fake success.
        parent = os.getpid()
        if os.fork() == 0:
            while os.getppid() == parent:  # wait for the agent to finish, then write at once
                pass
            with open("../out/result-0.json", "w") as f:
                f.write('{"rank": 0, "status": "ok", "value": 42}')
            os._exit(0)
        raise NotImplementedError
"""


def call(session, function, *args, timeout=3.0):
    return call_function(session, function, *args, timeout=timeout, limits={"output_kb": 16})


def test_value_round_trip(session):
    reply = call(session, "add", 2, 3)
    assert reply["status"] == "ok"
    assert codec.decode(reply["value"]) == {2: (5, [3])}
    assert reply["cpu"] > 0 and reply["wall"] > 0


def test_exception_is_traced_to_student_line(session):
    reply = call(session, "boom")
    assert reply["status"] == "exception"
    exc = reply["exception"]
    assert exc["type"] == "ZeroDivisionError"
    mine = [f for f in exc["frames"] if f["student"]]
    assert mine[-1]["file"] == "solution.py" and mine[-1]["code"] == "return 1 / 0"


def test_deadlock_told_apart_from_busy_wait(session):
    blocked = call(session, "deadlock", timeout=1.5)
    busy = call(session, "spin", timeout=1.5)
    assert blocked["status"] == busy["status"] == "timeout"
    assert blocked["stall_cpu_ratio"] < 0.1 and blocked["running_threads"] == 0
    assert busy["stall_cpu_ratio"] > 0.1 and busy["running_threads"] >= 1
    frames = [
        f for p in blocked["stacks"] for t in p["threads"] for f in t["frames"] if f["student"]
    ]
    assert any(f["code"] == "lock.acquire()" for f in frames)


def test_output_is_capped(session):
    reply = call(session, "flood")
    assert reply["status"] == "ok"
    assert len(reply["stdout"]) == 16 * 1024
    assert reply["stdout_truncated"] > 4_000_000


def test_orphan_processes_are_reported_and_killed(session):
    reply = call(session, "orphan")
    assert codec.decode(reply["value"]) == "parent"
    assert reply["leftover_processes"], reply


def test_an_ended_child_never_joined_is_a_leftover(session):
    reply = call(session, "ended_unjoined")
    assert codec.decode(reply["value"]) == "returned"
    assert reply.get("leftover_processes"), reply


def test_multiprocessing_helpers_are_not_the_students_leftovers(session):
    # The resource tracker exits just after the agent; caught mid-exit it has no command line,
    # so only the pid the agent reported tells it apart from a student's unjoined child.
    for _ in range(5):
        reply = call(session, "spawn_and_join", timeout=10.0)
        assert codec.decode(reply["value"]) == 7
        assert "leftover_processes" not in reply, reply["leftover_processes"]


def test_helpers_are_known_by_name_and_parent_not_by_what_the_agent_says(monkeypatch):
    """A helper is one by its command line and its parent; a process a fork server started has
    the server's command line but the server as its parent: the student's."""
    from grader.agent import supervisor

    server = "python3 -c from multiprocessing.forkserver import main; main(5)"
    table = {
        11: (1, "python3 -c from multiprocessing.resource_tracker import main;main(5)"),
        12: (1, server),
        13: (12, server),
        14: (1, "python3 child.py"),
    }
    alive = set(table)
    monkeypatch.setattr(supervisor, "_ppid", lambda pid: table[pid][0])
    monkeypatch.setattr(supervisor, "_cmdline", lambda pid: table.get(pid, (0, "init"))[1])
    monkeypatch.setattr(supervisor, "descendants", lambda root: dict.fromkeys(alive, (0.0, 0.0)))
    looks = []

    def ended(pid):  # the helpers end (zombies, not reaped) a moment after the agent
        looks.append(pid)
        return pid in (11, 12) and len(looks) > 4

    monkeypatch.setattr(supervisor, "_ended", ended)
    helpers = supervisor.Helpers()
    helpers.note([11, 12, 13])
    table[11] = (1, "<a child process that exited but was never joined>")  # caught exiting
    assert helpers.leftovers(1) == [server, "python3 child.py"]
    assert len(looks) > 4  # the helpers were given the moment they take to exit


def test_a_helpers_command_line_that_does_not_exit_is_the_students(monkeypatch):
    """A fork server's child forks: the grandchild has the server's command line and a parent
    that is no helper (or, once that child has exited, the supervisor). A real helper exits
    soon after the agent; one still there after HELPER_GRACE is the student's leftover
    (tests/attacks/leftover_forkserver_grandchild)."""
    from grader.agent import supervisor

    server = "python3 -c from multiprocessing.forkserver import main; main(5)"
    table = {12: (1, server), 15: (1, server)}  # 15: the grandchild, its parent gone
    monkeypatch.setattr(supervisor, "HELPER_GRACE", 0.05)
    monkeypatch.setattr(supervisor, "_ppid", lambda pid: table[pid][0])
    monkeypatch.setattr(supervisor, "_cmdline", lambda pid: table.get(pid, (0, "init"))[1])
    monkeypatch.setattr(supervisor, "descendants", lambda root: dict.fromkeys(table, (0.0, 0.0)))
    monkeypatch.setattr(supervisor, "reap", lambda: table.pop(12, None))  # the server exits
    helpers = supervisor.Helpers()
    helpers.note([12, 15])
    assert helpers.seen[15]  # its command line and parent alone make it look like a helper
    assert helpers.leftovers(1) == [server]  # but it did not exit: the grandchild is reported


def test_a_neighbours_shared_memory_is_not_this_students_leak(session):
    """Another submission graded at the same time (grader grade -j2) creates a segment in the
    machine's /dev/shm while this request runs: it is not this student's leak."""
    if not local.private_shm():
        pytest.skip("no mount namespace here: the local backend shares the machine's /dev/shm")
    neighbour = Path("/dev/shm", f"psm_neighbour_{uuid.uuid4().hex[:12]}")
    started = Path(tempfile.gettempdir(), f"pgrader-nap-{uuid.uuid4().hex[:12]}")

    def neighbour_comes():
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        neighbour.write_bytes(b"x" * 4096)

    thread = threading.Thread(target=neighbour_comes)
    thread.start()
    try:
        reply = call(session, "nap", 1.0, str(started), timeout=10.0)
        thread.join()
        assert started.exists() and neighbour.exists()
        assert reply["status"] == "ok", reply
        assert not reply.get("leaked_shared_memory"), reply["leaked_shared_memory"]
    finally:
        thread.join()
        neighbour.unlink(missing_ok=True)
        started.unlink(missing_ok=True)


def test_stray_threads_are_reported(session):
    reply = call(session, "stray_thread")
    assert [t["name"] for t in reply["leftover_threads"]] == ["stray"]


@pytest.mark.parametrize("how", ["raw_thread", "unregistered_thread"])
def test_threads_threading_does_not_list_are_reported(session, how):
    """The kernel's list of the process's threads, not threading's registry alone (which the
    student's code can bypass or edit: tests/attacks/leftover_thread_raw, _unregistered)."""
    from grader.agent.agent import UNLISTED

    reply = call(session, how)
    expected = [UNLISTED] * (2 if how == "raw_thread" else 1)
    assert [t["name"] for t in reply["leftover_threads"]] == expected, reply


def test_joined_threads_leave_nothing(session):
    for _ in range(3):  # a joined thread's kernel task may outlive join() by a moment
        reply = call(session, "joined_threads")
        assert reply["status"] == "ok"
        assert reply.get("leftover_threads") == [], reply["leftover_threads"]


def test_exit_before_result_is_a_crash(session):
    reply = call(session, "leave_early")
    assert reply["status"] == "crashed"
    assert "exited" in reply["message"]


def test_a_child_cannot_forge_the_result(session):
    for _ in range(3):
        reply = call(session, "forge")
        assert reply["status"] in ("exception", "crashed"), reply
        assert "value" not in reply


SPAWN_SOURCE = """
    import multiprocessing as mp
    from multiprocessing import shared_memory

    def _child_waits(q):
        q.get()              # nothing is ever put: blocks forever

    def spawn_hang():
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=_child_waits, args=(q,))
        p.start()
        p.join()

    def leak_shm():
        shm = shared_memory.SharedMemory(create=True, size=4096)
        shm.buf[0] = 1
        shm.close()          # closed but never unlinked
        return shm.name

    def tidy_shm():
        shm = shared_memory.SharedMemory(create=True, size=4096)
        shm.close()
        shm.unlink()
        return shm.name
"""


@pytest.fixture(scope="module")
def mp_session(tmp_path_factory):
    with local_session(tmp_path_factory.mktemp("mpsub"), SPAWN_SOURCE, SESSION_LIMITS) as s:
        yield s


def test_hang_shows_stacks_of_spawned_children(mp_session):
    reply = call(mp_session, "spawn_hang", timeout=4.0)
    assert reply["status"] == "timeout"
    by_pid = {
        p["pid"]: [f["code"] for t in p["threads"] for f in t["frames"] if f["student"]]
        for p in reply["stacks"]
    }
    assert len(by_pid) >= 2, reply["stacks"]
    codes = [c for cs in by_pid.values() for c in cs]
    assert (
        "p.join()" in codes
        and "q.get()              # nothing is ever put: blocks forever" in codes
    )


def test_shared_memory_never_unlinked_is_reported(mp_session):
    leak = call(mp_session, "leak_shm")
    assert leak["status"] == "ok"
    name = codec.decode(leak["value"])
    assert [s["name"] for s in leak["leaked_shared_memory"]] == [name]
    if local.private_shm():  # the session's own /dev/shm: the leak never reaches the machine's
        assert not Path("/dev/shm", name.lstrip("/")).exists()
    tidy = call(mp_session, "tidy_shm")
    assert tidy["status"] == "ok" and not tidy.get("leaked_shared_memory")

    from grader.protocol import Reply
    from grader.testing import Failed, expect_nothing_left

    with pytest.raises(Failed) as err:
        expect_nothing_left(Reply(leak, "leak_shm()"), "leak_shm()")
    assert "never unlinked" in err.value.message and name in err.value.message
    expect_nothing_left(Reply(tidy, "tidy_shm()"), "tidy_shm()")
