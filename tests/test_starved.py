"""A request starved of CPU by other work is given the time back, not called a busy loop
(grader/agent/starved.py): the agent runs SCHED_IDLE, so normal-priority work on every CPU
stops it dead while the wall clock runs on."""

from __future__ import annotations

import contextlib
import os
import time

from conftest import call_function
from grader.agent import codec, starved
from grader.agent.starved import StarvedClock

SOURCE = """
    import time

    def work(cpu_seconds, started=None):
        if started:  # tells the test's hogs that the call is under way
            open(started, "w").close()
        end = time.process_time() + cpu_seconds
        while time.process_time() < end:
            pass
        return "done"

    def spin():
        while True:
            pass
"""


@contextlib.contextmanager
def hogs(seconds: float, after: str | None = None):
    """Four busy processes per CPU for `seconds` (from the moment the file `after` exists, if
    given: a loaded machine may take a while to start the call), each in a session (a
    scheduling group) of its own and at a higher priority than the agent's where the tests run
    as root (the local backend's agent runs at nice 5, Docker's SCHED_IDLE)."""
    pids = []
    for _ in range(4 * (os.cpu_count() or 1)):
        pid = os.fork()
        if pid == 0:
            give_up = time.monotonic() + 60
            while after and not os.path.exists(after) and time.monotonic() < give_up:
                time.sleep(0.005)
            os.setsid()  # a scheduling group of its own (autogroup), as the agent has
            with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as f:
                f.write("-10")  # the group's weight, where autogroup is on and we may
            with contextlib.suppress(OSError):
                os.nice(-5)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
            os._exit(0)
        pids.append(pid)
    try:
        yield
    finally:
        for pid in pids:
            os.waitpid(pid, 0)


def _idle_spinner(seconds: float) -> int:
    pid = os.fork()
    if pid == 0:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        os._exit(0)
    return pid


def test_the_clock_counts_a_threads_wait_for_a_cpu_from_the_mark():
    child = _idle_spinner(1.5)
    try:
        clock = StarvedClock()
        clock.mark([child], at=time.monotonic(), cpu=0.0, cores=1)
        assert clock.since_mark([child]) < 0.1
        with hogs(0.8):
            time.sleep(0.9)
        assert clock.since_mark([child]) >= 0.4  # ready to run all along, let run almost never
        assert clock.since_mark([]) == 0.0
    finally:
        os.waitpid(child, 0)


def test_the_time_given_back_is_capped_by_the_cpu_left_unused_and_by_the_timeout(monkeypatch):
    """A tree whose own processes kept its cores busy was not starved by anyone: its waits
    for a CPU are its own competition, and its busy loop gets no more time."""
    delays = {(7, 7): 0}
    monkeypatch.setattr(starved, "_delays", lambda pids: dict(delays))
    clock = StarvedClock()
    clock.mark([7], at=10.0, cpu=1.0, cores=2)
    delays[(7, 7)] = 3 * 10**9  # 3 s on a run queue since the call
    assert clock.give_back([7], now=14.0, cpu=1.5, timeout=10.0) == 3.0  # 7.5 s left unused
    assert clock.give_back([7], now=14.0, cpu=8.5, timeout=10.0) == 0.5  # its own used 7.5
    assert clock.give_back([7], now=14.0, cpu=9.0, timeout=10.0) == 0.0  # every core, its own
    assert clock.give_back([7], now=14.0, cpu=1.5, timeout=1.0) == 1.0  # the timeout once more


def test_threads_that_take_turns_get_every_wait_back(monkeypatch):
    """Two processes passing a lock back and forth wait for a CPU one after the other: each
    wait is on the program's path, so the time given back is their sum, not the longest."""
    delays = {(7, 7): 0, (8, 8): 5 * 10**8}
    monkeypatch.setattr(starved, "_delays", lambda pids: dict(delays))
    clock = StarvedClock()
    clock.mark([7, 8], at=10.0, cpu=1.0, cores=2)
    delays[(7, 7)], delays[(8, 8)] = 2 * 10**9, 25 * 10**8  # 2 s each since the call
    assert clock.since_mark([7, 8]) == 4.0
    assert clock.give_back([7, 8], now=20.0, cpu=3.0, timeout=10.0) == 4.0
    delays[(9, 9)] = 10**9  # a thread started after the mark: from its start
    assert clock.since_mark([7, 8, 9]) == 5.0


def call(session, function, *args, timeout):
    return call_function(session, function, *args, timeout=timeout, limits={"output_kb": 16})


def test_a_program_starved_of_cpu_gets_the_time_back_and_finishes(session, tmp_path):
    """0.2 CPU-seconds of work under a 1 s limit, while every CPU is taken for the first second
    of the call: it ends about 1.2 s after the call, within the limit plus the wait it was given
    back (at most 1 s); without that time it would be a timeout at 1 s."""
    started = tmp_path / "started"
    tmp_path.chmod(0o777)  # the agent's uid writes the mark
    with hogs(1.0, after=str(started)):  # once the call is under way
        reply = call(session, "work", 0.2, str(started), timeout=1.0)
    assert reply["status"] == "ok", reply.get("message")
    assert codec.decode(reply["value"]) == "done"
    assert reply["starved"] >= 0.3


def test_a_busy_loop_still_times_out_within_twice_its_limit(session):
    """The time given back is at most the limit once more: a starved endless loop still ends."""
    with hogs(1.0):
        reply = call(session, "spin", timeout=0.5)
    assert reply["status"] == "timeout"
    assert reply["wall"] < 0.5 * 2 + 2.0  # start-up and the stacks' dump on top


def _helper_wait(monkeypatch, busy_tree: bool) -> float:
    """How long the supervisor waits for a multiprocessing helper (pid 4242) that never exits:
    kept off every CPU all along, in a tree that uses no CPU (`busy_tree`: one that keeps its
    2 cores busy itself)."""
    from grader.agent import supervisor

    t0 = time.monotonic()
    monkeypatch.setattr(supervisor, "HELPER_GRACE", 0.2)
    monkeypatch.setattr(supervisor, "HELPER_STARVED_MAX", 1.0)
    monkeypatch.setattr(supervisor, "_ended", lambda pid: False)
    monkeypatch.setattr(supervisor, "_cores", lambda pid: 2)
    cpu = (lambda: 2 * (time.monotonic() - t0)) if busy_tree else (lambda: 0.0)
    monkeypatch.setattr(supervisor, "descendants", lambda root: {4242: (cpu(), 0.0)})
    monkeypatch.setattr(
        starved, "_delays", lambda pids: {(4242, 4242): int((time.monotonic() - t0) * 1e9)}
    )
    helpers = supervisor.Helpers()
    try:
        helpers.seen[4242] = True
        start = time.monotonic()
        assert helpers._helpers_exit(1) == {4242}
        return time.monotonic() - start
    finally:
        helpers.close()


def test_a_helper_kept_off_the_cpu_gets_its_wait_as_grace(monkeypatch):
    """A resource tracker not let run (the sandbox runs at idle priority, the machine is busy)
    is given the time it waited for a CPU on top of the helpers' grace, up to a cap, before it
    counts as a process the student left running; a tree that keeps its own cores busy gains
    nothing (its helper waits for the student's own processes)."""
    assert 1.15 <= _helper_wait(monkeypatch, busy_tree=False) < 3.0  # 0.2 + the 1.0 cap
    assert 0.15 <= _helper_wait(monkeypatch, busy_tree=True) < 1.0  # the grace alone (0.2)
