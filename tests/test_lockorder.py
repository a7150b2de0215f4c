"""The lockorder check (lock-order cycles, self-deadlocks) and its judge-side helpers, run in a
real agent process through the local backend."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from grader.course import Limits
from grader.judge import expect_locks
from grader.judge.proxy import Student
from grader.judge.verdicts import Deadlock, Failed, StudentError
from grader.sandbox.local import LocalBackend

SOURCE = """
    import queue, sys, threading

    class Bank:
        def __init__(self, n):
            self.balances = [100] * n
            self.locks = [threading.Lock() for _ in range(n)]

        def transfer(self, src, dst, amount):
            with self.locks[src]:
                with self.locks[dst]:
                    self.balances[src] -= amount
                    self.balances[dst] += amount

        def transfer_ordered(self, src, dst, amount):
            first, second = sorted((src, dst))
            with self.locks[first]:
                with self.locks[second]:
                    self.balances[src] -= amount
                    self.balances[dst] += amount

    def bank(kind, n):
        b = Bank(2)
        move = b.transfer if kind == "inverted" else b.transfer_ordered
        ts = [threading.Thread(target=lambda s=s: [move(s, 1 - s, 1) for _ in range(n)])
              for s in (0, 1)]
        for t in ts: t.start()
        for t in ts: t.join()
        return b.balances

    A, B, C = threading.Lock(), threading.Lock(), threading.Lock()
    gate = threading.Lock()

    def take(first, second):
        with first:
            with second:
                pass

    def three_cycle():
        # A -> B, B -> C, C -> A, one thread after the other: it never hangs, but it can.
        for pair in ((A, B), (B, C), (C, A)):
            t = threading.Thread(target=take, args=pair)
            t.start(); t.join()
        return 3

    def gated(first, second):
        with gate:
            take(first, second)

    def gatekeeper():
        ts = [threading.Thread(target=lambda p=p: [gated(*p) for _ in range(200)])
              for p in ((A, B), (B, A))]
        for t in ts: t.start()
        for t in ts: t.join()
        return 2

    class Account:
        def __init__(self, lock_type):
            self.lock = lock_type()
            self.balance = 0

        def deposit(self, k):
            with self.lock:
                self.balance += k
                self.check()

        def check(self):
            with self.lock:          # taken again by the thread that holds it
                assert self.balance >= 0

    def reentry(kind):
        acc = Account(threading.RLock if kind == "rlock" else threading.Lock)
        ts = [threading.Thread(target=lambda: [acc.deposit(1) for _ in range(100)]) for _ in range(2)]
        for t in ts: t.start()
        for t in ts: t.join()
        return acc.balance

    class Buffer:
        def __init__(self, size):
            self.items, self.size = [], size
            self.cond = threading.Condition()

        def put(self, x):
            with self.cond:
                while len(self.items) >= self.size:
                    self.cond.wait()
                self.items.append(x)
                self.cond.notify_all()

        def get(self):
            with self.cond:
                while not self.items:
                    self.cond.wait()
                x = self.items.pop(0)
                self.cond.notify_all()
                return x

    def producer_consumer(n=300):
        buf, q, done, lock = Buffer(3), queue.Queue(maxsize=4), threading.Event(), threading.Lock()
        sem = threading.Semaphore(2)
        out = []
        def produce():
            for i in range(n):
                buf.put(i)
        def relay():
            for _ in range(n):
                with sem:
                    q.put(buf.get())
        def consume():
            for _ in range(n):
                x = q.get()
                with lock:
                    out.append(x)
            done.set()
        ts = [threading.Thread(target=f) for f in (produce, relay, consume)]
        for t in ts: t.start()
        done.wait()
        for t in ts: t.join()
        return sum(out)

    class Counter:
        def __init__(self):
            self.lock = threading.Lock()
            self.n = 0
        def add(self):
            with self.lock:
                self.n += 1
        def add_racy(self):
            self.n += 1

    def counters(racy):
        c = Counter()
        work = c.add_racy if racy else c.add
        ts = [threading.Thread(target=lambda: [work() for _ in range(200)]) for _ in range(3)]
        for t in ts: t.start()
        for t in ts: t.join()
        return c.n

    def tamper():
        import _thread
        threading.Lock = _thread.allocate_lock
        return 0

    def forced_deadlock():
        bar = threading.Barrier(2)
        def one(x, y):
            with x:
                bar.wait()           # both hold their first lock now
                with y:
                    pass
        ts = [threading.Thread(target=one, args=p) for p in ((A, B), (B, A))]
        for t in ts: t.start()
        for t in ts: t.join()

    def handover():
        lock = threading.Lock()
        lock.acquire()
        t = threading.Timer(0.2, lock.release)
        t.start()
        lock.acquire()               # waits until the timer's thread releases it: a signal
        lock.release()
        t.join()
        return 1
"""


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sub")
    (folder / "solution.py").write_text(textwrap.dedent(SOURCE))
    with LocalBackend().open(folder, Limits()) as s:
        yield Student(session=s, module="solution", timeout=10, limits=dataclasses.asdict(Limits()))


LOCKORDER = {"lockorder": {}}


def report(reply):
    assert reply.status == "ok", reply.raw
    return reply.checks["lockorder"]


def test_two_lock_inversion_flagged_without_a_hang(student):
    reply = student.reply("bank", "inverted", 20, checks=LOCKORDER)
    assert reply.value == [100, 100]  # it did not hang
    cycles = report(reply)["cycles"]
    assert len(cycles) == 1
    cycle = cycles[0]
    assert sorted(cycle["locks"]) == ["Bank.locks[0]", "Bank.locks[1]"]
    for site in cycle["sites"]:
        assert (site["file"], site["line"], site["code"]) == (
            "solution.py",
            11,
            "with self.locks[dst]:",
        )
        assert (site["held_at"]["line"], site["held_at"]["code"]) == (10, "with self.locks[src]:")
        assert site["holding"] == [site["held_lock"]]
    assert cycle["sites"][0]["thread"] != cycle["sites"][1]["thread"]
    with pytest.raises(Deadlock) as err:
        expect_locks.expect_no_lock_cycles(reply, "transfer()")
    message = err.value.message
    assert message.startswith("Possible deadlock in transfer(): thread Thread-")
    assert "solution.py line 10 `with self.locks[src]:`" in message
    assert "line 11 `with self.locks[dst]:`" in message and "(lines 10-11)" in message
    assert "one global order" in message and "happened not to hang" in message


def test_ordered_locks_never_flagged(student):
    for _ in range(20):
        rep = report(student.reply("bank", "ordered", 20, checks=LOCKORDER))
        assert rep["cycles"] == [] and rep["self_deadlocks"] == []
        assert rep["edges"] == 1 and rep["intact"]
    expect_locks.expect_no_lock_cycles(student.last, "transfer()")
    expect_locks.expect_no_self_deadlock(student.last, "transfer()")


def test_three_lock_cycle_flagged(student):
    reply = student.reply("three_cycle", checks=LOCKORDER)
    cycles = report(reply)["cycles"]
    assert len(cycles) == 1 and sorted(cycles[0]["locks"]) == ["A", "B", "C"]
    assert len({s["thread"] for s in cycles[0]["sites"]}) == 3
    with pytest.raises(Deadlock, match="3 locks are taken in a cycle"):
        expect_locks.expect_no_lock_cycles(reply, "three_cycle()")


def test_gatekeeper_lock_prevents_the_cycle(student):
    rep = report(student.reply("gatekeeper", checks=LOCKORDER))
    assert rep["cycles"] == []
    assert rep["gated_cycles"] and sorted(rep["gated_cycles"][0]) == ["A", "B"]


def test_rlock_reentry_is_fine(student):
    reply = student.reply("reentry", "rlock", checks=LOCKORDER)
    assert reply.value == 200
    rep = report(reply)
    assert rep["cycles"] == [] and rep["self_deadlocks"] == [] and rep["edges"] == 0


def test_lock_reentry_reported_as_self_deadlock_although_the_run_hangs(student):
    reply = student.reply("reentry", "lock", checks=LOCKORDER, timeout=2)
    assert reply.status == "timeout" and "checks" not in reply.raw
    [found] = [f for f in reply.raw["findings"] if f["kind"] == "self-deadlock"]
    assert found["lock"] == "Account.lock"
    assert (found["first"]["line"], found["first"]["function"]) == (63, "deposit")
    assert found["second"]["line"] == 68 and found["second"]["code"].startswith("with self.lock:")
    with pytest.raises(Deadlock) as err:
        expect_locks.raise_for_locks(reply)
    assert (
        "takes Account.lock (solution.py line 63 `with self.lock:`, in deposit())"
        in err.value.message
    )
    assert "asks for it again (line 68" in err.value.message and "RLock" in err.value.message
    with pytest.raises(Deadlock, match="waits for itself forever"):
        expect_locks.expect_no_self_deadlock(reply, "deposit()")


def test_a_real_deadlock_is_explained_by_the_cycle(student):
    reply = student.reply("forced_deadlock", checks=LOCKORDER, timeout=2)
    assert reply.status == "timeout"
    [found] = [f for f in reply.raw["findings"] if f["kind"] == "lock-cycle"]
    assert sorted(found["locks"]) == ["A", "B"]
    with pytest.raises(Deadlock) as err:
        expect_locks.raise_for_locks(reply)
    assert err.value.message.startswith("Deadlock in forced_deadlock(): thread Thread-")
    assert "the run hung" in err.value.message and err.value.details["stacks"]
    with pytest.raises(Deadlock, match="^Possible deadlock in forced_deadlock"):
        expect_locks.expect_no_lock_cycles(reply)


def test_lock_released_by_another_thread_is_no_self_deadlock(student):
    reply = student.reply("handover", checks=LOCKORDER)
    assert [f["kind"] for f in reply.raw["findings"]] == ["self-deadlock"]  # said at the time...
    assert report(reply)["self_deadlocks"] == []  # ...but the acquire returned: it was a signal
    expect_locks.expect_no_self_deadlock(reply, "handover()")


def test_condition_event_queue_semaphore_not_flagged(student):
    reply = student.reply("producer_consumer", checks=LOCKORDER)
    assert reply.value == sum(range(300))
    rep = report(reply)
    assert rep["cycles"] == [] and rep["self_deadlocks"] == [] and rep["acquisitions"] > 900


@pytest.mark.parametrize("racy", [False, True])
def test_lockset_and_lockorder_together(student, racy):
    reply = student.reply("counters", racy, checks={"lockset": {}, "lockorder": {}})
    assert reply.value == 600 or racy  # the tracer's switches may lose racy updates
    races = reply.checks["lockset"]["races"]
    assert [r["variable"] for r in races] == (["Counter.n"] if racy else [])
    assert reply.checks["lockorder"]["cycles"] == []
    reply = student.reply("bank", "inverted", 5, checks={"lockset": {}, "lockorder": {}})
    assert reply.checks["lockset"]["intact"] and len(reply.checks["lockorder"]["cycles"]) == 1


def test_switching_lock_tracking_off_is_noticed(student):
    reply = student.reply("tamper", checks=LOCKORDER)
    with pytest.raises(Failed, match="switched off"):
        expect_locks.expect_no_lock_cycles(reply, "tamper()")


def test_raise_for_locks_passes_other_statuses_through(student):
    reply = student.reply("bank", "inverted", checks=LOCKORDER)  # n missing: TypeError
    assert reply.status == "exception"
    with pytest.raises(StudentError):
        expect_locks.raise_for_locks(reply)
    expect_locks.raise_for_locks(student.reply("bank", "ordered", 1, checks=LOCKORDER))
