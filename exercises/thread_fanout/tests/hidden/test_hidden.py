"""Hidden tests for thread_fanout.

Each bug class has a behaviour check that does not depend on timing luck: which thread ran each
call (the work must not run in the caller), a barrier that only opens when every call is in
flight at once (start all threads before joining any), calls that finish in reverse order
(results must be placed by index, not appended as they come), and the threads still alive when
run_in_threads returned (join every thread).
"""

from grader.testing import (
    Failed, expect_current_api, expect_equal, expect_nothing_left, raise_for, requirement,
)

BARRIER_WAIT = 3.0  # seconds a call waits for the others to be in flight; a serial run pays it once
STEP = 0.15  # seconds between the finishing times of the staggered calls
SLOW_STEP = 0.8  # the same for the shutdown test: its first call runs 2.4 s, longer than a
# `join(timeout=...)` that gives up early (a join with a timeout longer still is not caught)
TIMEOUT = 8  # seconds per request; the reference needs well under one (plus BARRIER_WAIT at worst)

TARGET_HINT = ("`threading.Thread(target=func(*args))` (or target=work(i)) calls the function "
               "right away, in your own thread, and hands its *result* to Thread as the target. "
               "Pass the function itself and its arguments: `Thread(target=func, args=args)`.")
SERIAL_HINT = ("Calling `t.start()` and then `t.join()` inside the same loop waits for each thread "
               "before the next one starts, so the calls run one after another. Start every "
               "thread first, and only then join them all in a second loop.")


# ---------------------------------------------------------------- probes (run in the sandbox)

def _values(mod):
    def power(a, b):
        return a ** b

    def nothing():
        return None

    return [
        mod.run_in_threads(power, [(2, 10), (3, 3), (10, 0)]),
        mod.run_in_threads(nothing, [(), ()]),
        mod.run_in_threads(power, []),
        mod.run_in_threads(lambda x: x * x, [(i,) for i in range(40)]),
        mod.run_in_threads(str.upper, [("ab",)]),
    ]


def _threads_used(mod, n):
    import threading

    caller = threading.current_thread()
    seen = []  # the Thread objects stay referenced, so distinct threads have distinct ids

    def work(i):
        seen.append(threading.current_thread())
        return i

    got = mod.run_in_threads(work, [(i % 3,) for i in range(n)])  # equal tuples: a call each
    return {"got": got, "calls": len(seen), "in_caller": sum(t is caller for t in seen),
            "threads": len({id(t) for t in seen})}


def _overlap(mod, n, wait):
    import threading

    caller = threading.current_thread()
    barrier = threading.Barrier(n, timeout=wait)  # opens only when all n calls are in flight
    lock = threading.Lock()
    state = {"active": 0, "peak": 0, "in_caller": 0, "calls": 0}

    def work(i):
        with lock:
            state["calls"] += 1
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            state["in_caller"] += threading.current_thread() is caller
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        with lock:
            state["active"] -= 1
        return -i

    got = mod.run_in_threads(work, [(i,) for i in range(n)])
    return {"got": got, **state}


def _staggered(mod, n, step):
    """Call i sleeps (n - 1 - i) * step: the last call finishes first, the first one last."""
    import time

    def work(i, tag):
        time.sleep((n - 1 - i) * step)
        return f"{tag}{i}"

    return mod.run_in_threads(work, [(i, "r") for i in range(n)])


# ---------------------------------------------------------------- judge-side helpers

def _expect_not_in_caller(out, n, what):
    if out["in_caller"]:
        raise Failed(f"In {what}, {out['in_caller']} of the {n} calls of func ran in the thread "
                     f"that called run_in_threads, not in a thread of their own. {TARGET_HINT}",
                     in_caller=out["in_caller"])


# ---------------------------------------------------------------- tests

@requirement("values", "in-order")
def test_values(student):
    """Results for several functions and argument lists, in order"""
    got = student.run(_values, timeout=TIMEOUT)
    cases = [("run_in_threads(pow-like a ** b, [(2, 10), (3, 3), (10, 0)])", [1024, 27, 1]),
             ("run_in_threads(f, [(), ()]) where f() returns None", [None, None]),
             ("run_in_threads(f, [])", []),
             ("run_in_threads(lambda x: x * x, [(0,), ..., (39,)])", [i * i for i in range(40)]),
             ("run_in_threads(str.upper, [('ab',)])", ["AB"])]
    for value, (what, expected) in zip(got, cases):
        expect_equal(value, expected, what)


@requirement("own-thread")
def test_each_call_in_its_own_thread(student):
    """Every call of func runs in a thread of its own, not in the caller"""
    n = 5
    what = f"run_in_threads(work, {n} tuples)"
    out = student.run(_threads_used, n, timeout=TIMEOUT, what=what)
    expect_equal(out["got"], [i % 3 for i in range(n)], what)
    _expect_not_in_caller(out, n, what)
    if out["calls"] != n:
        raise Failed(f"In {what} (some of them equal), func was called {out['calls']} time(s): "
                     "call it once for every tuple of args_list, equal ones included (func may "
                     "have side effects; a result is not reused).", calls=out["calls"])
    if out["threads"] != n:
        raise Failed(f"In {what}, the {n} calls ran in only {out['threads']} thread(s): start one "
                     "threading.Thread per argument tuple.", threads=out["threads"])


@requirement("overlap")
def test_calls_overlap(student):
    """All calls are in flight at the same time (threads started before any is joined)"""
    n = 4
    what = f"run_in_threads(work, {n} tuples)"
    out = student.run(_overlap, n, BARRIER_WAIT, timeout=TIMEOUT, what=what)
    _expect_not_in_caller(out, n, what)
    if out["peak"] < n:
        raise Failed(f"In {what}, each call waits (up to {BARRIER_WAIT:g} s) until all {n} calls "
                     f"are running, but at most {out['peak']} ran at the same time: the calls "
                     f"ran one after another, with no gain from the threads. {SERIAL_HINT}",
                     peak=out["peak"])
    got, expected = out["got"], [-i for i in range(n)]
    if not (type(got) is list and sorted(map(repr, got)) == sorted(map(repr, expected))):
        expect_equal(got, expected, what)  # the order alone is judged by another test


@requirement("in-order")
def test_results_in_input_order(student):
    """Results come back in the order of args_list even when later calls finish first"""
    n = 4
    what = f"run_in_threads(work, {n} tuples) where later calls finish first"
    got = student.run(_staggered, n, STEP, timeout=TIMEOUT, what=what)
    expected = [f"r{i}" for i in range(n)]
    if type(got) is list and sorted(map(str, got)) == expected and got != expected:
        raise Failed(f"{what} returned {got!r}, expected {expected!r}: the results are in the "
                     "order the calls finished, not the order of args_list. Store each result "
                     "at its index (results[i] = func(*args)) instead of appending it when the "
                     "thread finishes.", got=got, expected=expected)
    expect_equal(got, expected, what)


@requirement("joined")
def test_no_threads_left_running(student):
    """When run_in_threads returns, every thread it started has finished"""
    n = 4
    what = (f"run_in_threads(work, {n} tuples) where later calls finish first, the first after "
            f"{(n - 1) * SLOW_STEP:g} s")
    reply = student.reply(_staggered, n, SLOW_STEP, timeout=TIMEOUT, what=what)
    raise_for(reply)
    expect_nothing_left(reply, what, processes=False, shared_memory=False,
                        hint="A `t.join()` after the loop joins only the last thread `t`, and "
                             "`t.join(timeout=...)` gives up on a slow call; keep the threads in "
                             "a list and join each of them, without a timeout.")


@requirement("current-api")
def test_uses_current_api(student):
    """Works, and uses today's threading names (no currentThread, getName, ...)"""
    student.run(_threads_used, 2, timeout=TIMEOUT)
    expect_current_api(student)
