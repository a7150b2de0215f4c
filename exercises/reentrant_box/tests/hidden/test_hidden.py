"""Hidden tests for reentrant_box.

`add` and `remove` hold the box's lock while they call `execute`, which takes it again: the
lockorder check reports a plain `Lock` taken twice by one thread (a self-deadlock) by name and
line. A subclass whose `execute` pauses while `add` holds the lock shows, without timing luck,
whether `add` really holds it and whether two boxes share one lock (the book's class-level
lock). The lockset check and forced thread switches judge the updates themselves.
"""

from grader.testing import (
    Deadlock, Failed, expect_current_api, expect_equal, expect_no_lost_update, expect_no_races,
    expect_no_self_deadlock, requirement,
)

TIMEOUT = 2  # seconds per request; the reference needs well under one, a self-deadlock never ends
LOCKORDER = {"lockorder": {}}  # a Lock taken twice is then named with its lines
WAIT = 1.5  # seconds the tests give a thread that should not be blocked, or should stay blocked
SWITCHED_TIMEOUT = 8  # the forced-switch run: about 1 s alone, over 4 s on a loaded machine
OTHER_BOXES = 5  # boxes made after the busy one, each of which must not wait for it


# ---------------------------------------------------------------- probes (run in the sandbox)

def _sequence(mod):
    b, c = mod.Box(), mod.Box()
    b.add()
    b.add(5)
    b.remove(2)
    b.remove()
    c.add(7)
    return [b.total, c.total, mod.Box().total]


def _paused_box(mod, method, n, other_call, wait):
    """Box subclass whose execute(±n) pauses inside `method(n)` (the box's lock held, if `method`
    holds it); meanwhile `other_call` runs: "same box", a thread calling execute(1) on it, or a
    number k, k threads calling add(1) on k boxes made after it. Reports whether they all
    finished within `wait` seconds."""
    import threading
    import time

    inside, resume = threading.Event(), threading.Event()

    class PausedBox(mod.Box):
        def execute(self, k):
            if abs(k) == n:
                inside.set()
                resume.wait(3 * wait)
            return super().execute(k)

    box = PausedBox()
    holder = threading.Thread(target=getattr(box, method), args=(n,), daemon=True)
    holder.start()
    if not inside.wait(3 * wait):
        resume.set()
        return {"called_execute": False}
    if other_call == "same box":
        others = [threading.Thread(target=mod.Box.execute, args=(box, 1), daemon=True)]
    else:  # several boxes: a few locks shared out among the boxes are caught too
        boxes = [mod.Box() for _ in range(other_call)]
        others = [threading.Thread(target=b.add, args=(1,), daemon=True) for b in boxes]
    for t in others:
        t.start()
    deadline = time.monotonic() + wait
    for t in others:
        t.join(max(0.0, deadline - time.monotonic()))
    blocked = [i for i, t in enumerate(others) if t.is_alive()]
    resume.set()
    deadline = time.monotonic() + wait  # all should end at once; a self-deadlock never does
    for t in (holder, *others):
        t.join(max(0.0, deadline - time.monotonic()))
    return {"called_execute": True, "finished": not blocked, "blocked": blocked}


def _after_error(mod):
    import threading

    b = mod.Box()
    try:
        b.add("x")
    except TypeError:
        pass
    done = []
    t = threading.Thread(target=lambda: (b.add(2), done.append(b.total)), daemon=True)
    t.start()
    t.join(1.5)
    return done[0] if done else "stuck"


def _mixed(mod, n_threads, n):
    import threading

    b = mod.Box()

    def work(i):
        for _ in range(n):
            if i % 3 == 0:
                b.add(3)
            elif i % 3 == 1:
                b.remove(1)
            else:
                b.execute(2)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return b.total


def _mixed_expected(n_threads, n):
    return sum((3, -1, 2)[i % 3] for i in range(n_threads)) * n


# ---------------------------------------------------------------- tests

@requirement("values")
def test_values(student):
    """add, remove and total on two boxes; a new box holds 0"""
    expect_equal(student.run(_sequence, timeout=TIMEOUT, checks=LOCKORDER), [3, 7, 0],
                 "[b.total, c.total, Box().total] after b.add(), b.add(5), b.remove(2), "
                 "b.remove(), c.add(7)")


@requirement("reentrant")
def test_add_and_remove_take_the_lock_again(student):
    """add/remove hold the lock and execute takes it again: the lock must be reentrant"""
    student.run(_sequence, timeout=TIMEOUT, checks=LOCKORDER,
                what="Box.add() and Box.remove()")
    expect_no_self_deadlock(student.last, "Box.add()")


@requirement("execute-under-lock")
def test_add_and_remove_hold_the_lock_while_executing(student):
    """add and remove call execute with the box's lock held"""
    for method, n in (("add", 5), ("remove", 4)):
        what = f"Box.{method}({n})"
        out = student.run(_paused_box, method, n, "same box", WAIT, timeout=TIMEOUT + 2 * WAIT,
                          what=what, checks=LOCKORDER)
        expect_no_self_deadlock(student.last, what)
        if not out["called_execute"]:
            raise Failed(f"{what} never called self.execute({'-' if method == 'remove' else ''}"
                         f"{n}): the exercise asks add(n) to call execute(n) and remove(n) to "
                         "call execute(-n), both while holding the box's lock.")
        if out["finished"]:
            raise Failed(f"While {what} was calling execute, another thread's execute(1) on the "
                         "same box went straight through. add and remove must hold the box's "
                         "lock (`with self._lock:`) around their call of execute, and execute "
                         "must take that lock too, so nothing else can change the box in "
                         "between. Taking it twice in one thread is why the box needs a "
                         "threading.RLock.")


@requirement("own-lock")
def test_boxes_do_not_block_each_other(student):
    """Each box has its own lock: a busy box does not block another box"""
    what = (f"Box.add(1) on each of {OTHER_BOXES} other boxes while one box's add(5) holds its "
            "lock")
    out = student.run(_paused_box, "add", 5, OTHER_BOXES, WAIT, timeout=TIMEOUT + 2 * WAIT,
                      what=what, checks=LOCKORDER)
    expect_no_self_deadlock(student.last, what)
    if not out["called_execute"]:
        raise Failed("Box.add(5) never called self.execute(5): the exercise asks add(n) to call "
                     "execute(n) while holding the box's lock.")
    if not out["finished"]:
        raise Failed(f"{what}: the add(1) of other box(es) {out['blocked']} (made after it) "
                     f"waited (more than {WAIT:g} s) for the busy box: boxes share a lock. A lock "
                     "written in the class body (`class Box: lock = "
                     "threading.RLock()`, as in the book) is one object for every instance; "
                     "create it in __init__ (`self._lock = threading.RLock()`) so each box has "
                     "its own.")


@requirement("released")
def test_lock_released_after_exception(student):
    """A failed add does not leave the lock held"""
    got = student.run(_after_error, timeout=TIMEOUT + 1.5, checks=LOCKORDER)
    expect_no_self_deadlock(student.last, "add('x'), then add(2) in another thread")
    if got == "stuck":
        raise Deadlock("After add('x') raised TypeError, another thread's add(2) waited forever: "
                       "the lock was acquired but never released, because the exception jumped "
                       "over release(). Use `with self._lock:` (or try/finally) so the lock is "
                       "released when the body raises.")
    expect_equal(got, 2, "add(2) after a failed add('x')")


@requirement("thread-safe")
def test_no_races_under_lockset(student):
    """Every write of the box's state holds the box's lock (lockset check)"""
    got = student.run(_mixed, 6, 150, timeout=TIMEOUT + 1, checks={"lockset": {}, **LOCKORDER})
    expect_no_races(student.last, "a Box used by 6 threads (add, remove and execute)",
                    hint="execute is also called directly, not only from add and remove: it must "
                         "take the box's lock itself (that is why the lock is an RLock).")
    expect_equal(got, _mixed_expected(6, 150), "6 threads mixing add(3), remove(1), execute(2)")


@requirement("thread-safe")
def test_no_lost_updates_under_forced_switches(student, seed):
    """No update is lost when threads are switched in the middle of statements"""
    got = student.run(_mixed, 6, 400, timeout=SWITCHED_TIMEOUT,
                      checks={"preempt": {"seed": seed}, **LOCKORDER})
    expect_no_lost_update(got, _mixed_expected(6, 400), "6 threads mixing add(3), remove(1), "
                          "execute(2)", student.last,
                          hint="Hold the box's lock around the whole read-modify-write in execute.")


@requirement("current-api")
def test_uses_current_api(student):
    """Works, and uses today's threading names (no currentThread, getName, ...)"""
    student.run(_sequence, timeout=TIMEOUT, checks=LOCKORDER)
    expect_current_api(student)
