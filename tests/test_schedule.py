"""The controlled scheduler (`checks={"schedule": ...}`): one thread runs the student's code at a
time, the seed alone decides the turns, so a seed replays the same interleaving exactly; waits
are scheduled, and a state where every thread waits is a deadlock reported at once."""

from __future__ import annotations

import pytest

from grader.agent import codec
from grader.protocol import Reply
from grader.testing import Deadlock, Race, expect_no_lost_update, raise_for

SOURCE = """
    import queue, threading, time

    class Counter:
        def __init__(self, locked):
            self.lock = threading.Lock() if locked else None
            self.n = 0
        def add(self):
            if self.lock:
                with self.lock:
                    self.n += 1
            else:
                self.n += 1

    def count(locked, n_threads=4, n=200):
        c = Counter(locked)
        ts = [threading.Thread(target=lambda: [c.add() for _ in range(n)]) for _ in range(n_threads)]
        for t in ts: t.start()
        for t in ts: t.join()
        return c.n

    def pipeline(n=40):
        q, out, lock = queue.Queue(maxsize=3), [], threading.Lock()
        def consume():
            while True:
                item = q.get()
                if item is None:
                    return
                with lock:
                    out.append(item * 2)
        ts = [threading.Thread(target=consume) for _ in range(2)]
        for t in ts: t.start()
        for i in range(n): q.put(i)
        for _ in ts: q.put(None)
        for t in ts: t.join()
        return sorted(out)

    def gate():
        ev, seen = threading.Event(), []
        def waiter():
            ev.wait()
            seen.append(1)
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.01)
        ev.set()
        t.join()
        return seen

    def inverted(n=50):
        a, b = threading.Lock(), threading.Lock()
        def one():
            for _ in range(n):
                with a:
                    with b:
                        pass
        def two():
            for _ in range(n):
                with b:
                    with a:
                        pass
        ts = [threading.Thread(target=one), threading.Thread(target=two)]
        for t in ts: t.start()
        for t in ts: t.join()
        return "done"

    def tamper():
        c = Counter(False)
        threading._trace_hook = None            # new threads start without the scheduler's tracer
        def work():
            for _ in range(100):
                c.add()
        ts = [threading.Thread(target=work) for _ in range(3)]
        for t in ts: t.start()
        for t in ts: t.join()
        return c.n

    def settrace_off():
        import sys
        c = Counter(False)
        def work():
            sys.settrace(None)                  # refused: PermissionError, the thread dies
            for _ in range(100):
                c.add()
        ts = [threading.Thread(target=work) for _ in range(3)]
        for t in ts: t.start()
        for t in ts: t.join()
        return c.n

    def timed():
        lock, got = threading.Lock(), []
        lock.acquire()                      # never released
        t = threading.Thread(target=lambda: got.append(lock.acquire(timeout=5)))
        t.start()
        t.join()
        return got
"""


def run(session, function, *args, seed=1, probability=0.05):
    raw = session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": function,
            "args": codec.encode(list(args)),
            "timeout": 10,
            "checks": {"schedule": {"seed": seed, "probability": probability}},
        }
    )
    return Reply(raw, f"{function}()")


def test_the_same_seed_replays_the_same_interleaving(session):
    runs = [run(session, "count", False, seed=7) for _ in range(5)]
    assert {r.value for r in runs} == {runs[0].value}
    assert {r.checks["schedule"]["trace"] for r in runs} == {runs[0].checks["schedule"]["trace"]}
    assert all(
        r.checks["schedule"]["interleavings"] == runs[0].checks["schedule"]["interleavings"]
        for r in runs
    )
    others = {run(session, "count", False, seed=s).checks["schedule"]["trace"] for s in (8, 9)}
    assert runs[0].checks["schedule"]["trace"] not in others and len(others) == 2


@pytest.mark.parametrize("seed", range(3))
def test_lost_updates_show_and_are_judged_a_race(session, seed):
    reply = run(session, "count", False, seed=seed)
    assert reply.value < 800
    with pytest.raises(Race) as err:
        expect_no_lost_update(reply.value, 800, "count(4 threads x 200)", reply)
    # one seed for students: the run's, which the page shows with its replay command
    assert "the run's seed replays this exact interleaving" in err.value.message
    assert f"seed {seed}" not in err.value.message
    # the story of the run: who read, was switched out, and whose write was lost, where
    story = err.value.details["interleaving"]
    assert 1 <= len(story) <= 3 and all("line 13 (`self.n += 1`)" in s for s in story), story
    assert story[0] in err.value.message and "update was lost" in story[0]


@pytest.mark.parametrize("seed", range(3))
def test_correct_code_passes_every_schedule(session, seed):
    locked = run(session, "count", True, seed=seed)
    assert locked.status == "ok" and locked.value == 800
    assert locked.checks["schedule"]["switches"] > 0
    assert locked.checks["schedule"]["interleavings"] == []  # the lock keeps others out
    assert run(session, "pipeline", seed=seed, probability=0.2).value == [2 * i for i in range(40)]
    assert run(session, "gate", seed=seed).value == [1]


def test_every_thread_waiting_is_a_deadlock_at_once(session):
    reply = run(session, "inverted", seed=0, probability=0.2)
    assert reply.status == "exception" and reply.wall < 5
    with pytest.raises(Deadlock) as err:
        raise_for(reply)
    message = err.value.message
    assert "with b:" in message and "with a:" in message and "seed 0" in message
    again = run(session, "inverted", seed=0, probability=0.2)
    assert again.raw["exception"]["message"] == reply.raw["exception"]["message"]


def test_a_timed_wait_times_out_instead_of_deadlocking(session):
    reply = run(session, "timed")
    assert reply.status == "ok" and reply.value == [False]
    assert reply.checks["schedule"]["timeouts"] == 1


def test_switching_tracing_off_frees_every_thread_and_is_reported(session):
    reply = run(session, "tamper")
    assert reply.status == "ok" and reply.value == 300  # no hang, no false deadlock
    assert reply.checks["schedule"]["intact"] is False


def test_threads_that_die_leave_the_schedule_and_settrace_is_refused(session):
    """sys.settrace from a scheduled thread is refused (the thread dies of PermissionError); the
    threads that die leave the schedule at once, even when a new thread gets a dead one's id."""
    reply = run(session, "settrace_off")
    assert reply.status == "ok" and reply.value == 0 and reply.wall < 5, reply.raw
    assert reply.checks["schedule"]["intact"] is True
    assert "PermissionError: sys.settrace() is not allowed" in reply.raw["stderr"]


def test_passing_the_baton_wakes_only_the_thread_that_gets_it():
    """A switch wakes the one thread given the baton, not every waiting thread (each woken
    thread costs CPU: it wakes, finds the baton is not its own and waits again); the others
    stay queued until something wakes them."""
    import threading
    import time

    from grader.checks.schedule import _RawCondition

    cond = _RawCondition()
    woken: list[str] = []
    idents: dict[str, int] = {}

    def waiter(name):
        idents[name] = threading.get_ident()
        with cond:
            cond.wait()
            woken.append(name)

    threads = [threading.Thread(target=waiter, args=(n,), daemon=True) for n in "abc"]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(cond._waiters) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    with cond:
        cond.notify_thread(idents["b"])
    threads[1].join(5)
    time.sleep(0.1)
    assert woken == ["b"]
    with cond:
        cond.notify_all()
    for t in threads:
        t.join(5)
    assert sorted(woken) == ["a", "b", "c"]
