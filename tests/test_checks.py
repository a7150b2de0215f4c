"""The lockset and forced-preemption checks, run in a real agent process."""

from __future__ import annotations

import pytest

from grader.agent import codec

SOURCE = """
    import sys, threading

    class Locked:
        def __init__(self):
            self.lock = threading.Lock()
            self.n = 0
        def add(self):
            with self.lock:
                self.n += 1

    class Racy:
        def __init__(self):
            self.n = 0
        def add(self):
            self.n += 1

    class Conditioned:
        def __init__(self):
            self.cond = threading.Condition()
            self.n = 0
        def add(self):
            with self.cond:
                self.n += 1
                self.cond.notify_all()

    class Semaphored:
        def __init__(self, value):
            self.sem = threading.BoundedSemaphore(value) if value == 1 else threading.Semaphore(value)
            self.n = 0
        def add(self):
            self.sem.acquire()
            try:
                self.n += 1
            finally:
                self.sem.release()

    total = 0

    def bump_global():
        global total
        total += 1

    def run(kind, n_threads=4, n=500):
        makers = {"locked": Locked, "racy": Racy, "cond": Conditioned,
                  "sem1": lambda: Semaphored(1), "sem2": lambda: Semaphored(2)}
        obj = makers[kind]()
        ts = [threading.Thread(target=lambda: [obj.add() for _ in range(n)]) for _ in range(n_threads)]
        for t in ts: t.start()
        for t in ts: t.join()
        return obj.n

    def handoff():
        obj = Racy()              # written by the main thread...
        t = threading.Thread(target=lambda: [obj.add() for _ in range(100)])
        t.start(); t.join()       # ...then by one worker, ordered by start/join...
        obj.add()                 # ...then by the main thread again: no race
        return obj.n

    def globals_race():
        ts = [threading.Thread(target=lambda: [bump_global() for _ in range(200)]) for _ in range(3)]
        for t in ts: t.start()
        for t in ts: t.join()
        return total

    class WordCount:
        def __init__(self, locked):
            self.lock = threading.Lock() if locked else None
            self.counts = {}
        def add(self, word):
            if self.lock:
                with self.lock:
                    self.counts[word] = self.counts.get(word, 0) + 1
            else:
                self.counts[word] = self.counts.get(word, 0) + 1

    def items(kind):
        wc, cell, out, box = WordCount(kind == "locked"), [0], [None] * 4, Racy()
        lock = threading.Lock()
        def work(i):
            for _ in range(50):
                wc.add("a")
                if kind == "racy":
                    cell[0] += 1                 # a list item, no lock
                    box.__dict__["n"] = i        # an attribute, written around __setattr__
                else:
                    with lock:
                        cell[0] += 1
            out[i] = i                           # each thread its own slot: no race
        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts: t.start()
        for t in ts: t.join()
        return wc.counts["a"], cell[0], out

    def tamper(kind):
        threading._trace_hook = None  # new threads untraced (sys.settrace itself is refused)
        return run(kind)

    def settrace_off():
        sys.settrace(None)

    def squeeze(kind):
        # the recursion limit left just above this frame: the agent's code after the call
        # (the checks' stop, the result's encoding) would raise RecursionError
        n = run(kind)
        for limit in range(1, 10_000):
            try:
                sys.setrecursionlimit(limit)
                return n
            except RecursionError:
                continue
"""


def run(session, function, *args, checks):
    reply = session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": function,
            "args": codec.encode(list(args)),
            "timeout": 20,
            "checks": checks,
        }
    )
    assert reply["status"] == "ok", reply
    return codec.decode(reply["value"]), reply["checks"]


@pytest.mark.parametrize("kind", ["locked", "cond", "sem1"])
def test_lockset_accepts_consistently_locked_state(session, kind):
    value, checks = run(session, "run", kind, checks={"lockset": {}})
    assert value == 2000
    assert checks["lockset"]["races"] == []
    assert checks["lockset"]["writes"] >= 2000


def test_lockset_flags_racy_state_even_when_the_value_is_right(session):
    value, checks = run(session, "run", "racy", 2, 50, checks={"lockset": {}})
    races = checks["lockset"]["races"]
    assert [r["variable"] for r in races] == ["Racy.n"]
    assert {w["code"] for w in races[0]["writes"]} == {"self.n += 1"}
    assert all(w["locks"] == [] for w in races[0]["writes"])


def test_lockset_flags_a_semaphore_that_lets_two_threads_in(session):
    # Semaphore(1) is a mutex (test_lockset_accepts_consistently_locked_state); Semaphore(2) not
    _, checks = run(session, "run", "sem2", 2, 50, checks={"lockset": {}})
    assert [r["variable"] for r in checks["lockset"]["races"]] == ["Semaphored.n"]


def test_lockset_accepts_start_join_handoff(session):
    value, checks = run(session, "handoff", checks={"lockset": {}})
    assert value == 101
    assert checks["lockset"]["races"] == []


def test_lockset_flags_unlocked_global(session):
    _, checks = run(session, "globals_race", checks={"lockset": {}})
    assert [r["variable"] for r in checks["lockset"]["races"]] == ["global solution.total"]


def test_lockset_watches_container_items_and_instance_dicts(session):
    value, checks = run(session, "items", "racy", checks={"lockset": {}})
    assert value[2] == [0, 1, 2, 3]
    races = {r["variable"]: r for r in checks["lockset"]["races"]}
    assert set(races) == {"self.counts['a']", "cell[0]", "Racy.n"}, races
    assert {w["code"].split("#")[0].strip() for w in races["cell[0]"]["writes"]} == {"cell[0] += 1"}


def test_lockset_accepts_locked_items_and_one_slot_per_thread(session):
    value, checks = run(session, "items", "locked", checks={"lockset": {}})
    assert value == (200, 200, [0, 1, 2, 3])
    assert checks["lockset"]["races"] == []


def test_forced_switches_expose_lost_updates(session):
    lost = 0
    for seed in range(5):
        value, checks = run(session, "run", "racy", 4, 2000, checks={"preempt": {"seed": seed}})
        lost += value < 8000
        assert checks["preempt"]["seed"] == seed and checks["preempt"]["switches"] > 0
    assert lost == 5


def test_plain_runs_hide_the_race(session):
    # The reason the checks exist: under the GIL the unlocked counter comes out right.
    values = [run(session, "run", "racy", 4, 2000, checks={})[0] for _ in range(3)]
    assert values == [8000] * 3


def test_switching_instrumentation_off_is_noticed(session):
    _, checks = run(session, "tamper", "racy", checks={"lockset": {}, "preempt": {"seed": 1}})
    assert checks["lockset"]["intact"] is False
    assert checks["preempt"]["intact"] is False
    assert any("threading._trace_hook replaced" in t for t in checks["lockset"]["tampered"])


def test_a_lowered_recursion_limit_is_put_back_and_is_evidence(session):
    """Not 'the check could not run' with no evidence (the platform's failure, at the student's
    will: tests/attacks/recursion_limit_squeeze) but a normal stop, void with the evidence."""
    value, checks = run(session, "squeeze", "locked", checks={"lockset": {}})
    assert value == 2000
    report = checks["lockset"]
    assert report["intact"] is False and "error" not in report, report
    assert any("recursion limit lowered" in t for t in report["tampered"]), report


def test_switching_the_tracer_off_is_refused(session):
    reply = session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": "settrace_off",
            "args": codec.encode([]),
            "timeout": 20,
            "checks": {"lockset": {}, "preempt": {"seed": 1}},
        }
    )
    assert reply["status"] == "exception", reply
    assert reply["exception"]["type"] == "PermissionError"
    assert "sys.settrace() is not allowed in graded code" in reply["exception"]["message"]
