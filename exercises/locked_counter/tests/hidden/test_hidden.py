"""Hidden tests for locked_counter."""

from grader.testing import (
    Deadlock, Failed, check_report, expect_equal, expect_no_lost_update, expect_no_races,
    raise_for, requirement,
)


def _mixed(mod, n_threads, n):
    import threading

    c = mod.SafeCounter()

    def work(i):
        for _ in range(n):
            if i % 2:
                c.increment(3)
            else:
                c.decrement(1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return c.value


def _count_threads(mod, n_threads, n):
    """n_threads threads each increment one SafeCounter n times; the counter's own value (the
    probe owns the counter it judges: a number computed beside it proves nothing)."""
    import threading

    c = mod.SafeCounter()

    def work():
        for _ in range(n):
            c.increment()

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return c.value


def _fresh_counters(mod):
    a, b = mod.SafeCounter(), mod.SafeCounter()
    a.increment(7)
    return [a.value, b.value]


def _after_error(mod, bad="x"):
    """increment(bad) raises; then another thread's increment(2). bad=None: an object whose
    `+` raises ValueError, so a lock released only for a TypeError is caught too."""
    import threading

    class Refuses:
        def __radd__(self, other):
            raise ValueError("this operand refuses to be added")

        __rsub__ = __add__ = __radd__

    c = mod.SafeCounter()
    try:
        c.increment(Refuses() if bad is None else bad)
    except (TypeError, ValueError):
        pass
    done = []
    t = threading.Thread(target=lambda: (c.increment(2), done.append(c.value)), daemon=True)
    t.start()
    t.join()  # no timeout: a lock left held is a deadlock the sandbox proves at once
    return done[0] if done else "stuck"


def _joining(reply):
    """Whether the run was stopped while _after_error waited for the second thread."""
    for proc in reply.stacks:
        for thread in proc["threads"]:
            names = [f.get("name") for f in thread["frames"]]  # outermost first
            if "_after_error" in names and "join" in names[names.index("_after_error"):]:
                return True
    return False


@requirement("values")
def test_counters_are_independent(student):
    """Each counter starts at 0 and keeps its own value"""
    expect_equal(student.run(_fresh_counters), [7, 0], "two counters, the first incremented by 7")


@requirement("parallel-count")
def test_parallel_count_values(student):
    """parallel_count returns n_threads * n_increments"""
    for args in [(1, 1), (3, 0), (8, 500)]:
        expect_equal(student.call("parallel_count", *args), args[0] * args[1],
                     f"parallel_count{args}")


@requirement("thread-safe")
def test_mixed_increment_decrement(student):
    """increment(k) and decrement(k) from several threads add up"""
    expect_equal(student.run(_mixed, 4, 300), 2 * 300 * 3 - 2 * 300, "4 threads mixing increment(3)/decrement(1)")


@requirement("thread-safe")
def test_no_races_under_lockset(student):
    """Every write of the counter's state holds the same lock (lockset check)"""
    value = student.run(_mixed, 4, 200, checks={"lockset": {}})
    expect_no_races(student.last, "SafeCounter used by 4 threads",
                    hint="Use one lock per counter, created in __init__, around every update.")
    expect_equal(value, 2 * 200 * 3 - 2 * 200, "4 threads mixing increment(3)/decrement(1)")


@requirement("thread-safe")
def test_no_lost_updates_under_forced_switches(student, seed):
    """No update is lost when threads are switched in the middle of statements"""
    # The controlled scheduler: one thread at a time, turns drawn from the seed, so the same
    # seed replays the same interleaving (`grader replay`). The probe owns the counter.
    what = "4 threads each calling increment() 500 times on one SafeCounter"
    got = student.run(_count_threads, 4, 500, checks={"schedule": {"seed": seed}}, what=what)
    expect_no_lost_update(got, 2000, what, student.last,
                          hint="Hold the counter's lock around the whole read-modify-write.")
    _expect_real_threads(student, 4, 500)


@requirement("released")
def test_lock_released_after_exception(student):
    """A failed increment does not leave the lock held"""
    for bad, failure in (("x", "increment('x') raised TypeError"),
                         (None, "increment(k) raised ValueError (k an object whose + raises)")):
        reply = student.reply(_after_error, bad, timeout=8)
        if reply.status != "ok" and not _joining(reply):
            raise_for(reply)  # increment(bad) itself failed or hung: the usual verdict
        got = reply.value if reply.status == "ok" else "stuck"
        if got == "stuck":
            raise Deadlock(f"After {failure}, another thread's increment(2) waited forever: "
                           "the lock was acquired but never released. Use `with self._lock:` "
                           "(or try/finally) so the lock is released whatever the body raises.")
        expect_equal(got, 2, f"increment(2) after {failure}")


def _expect_real_threads(student, n_threads, n):
    """parallel_count must update one SafeCounter from n_threads threads, not compute the answer."""
    got = student.call("parallel_count", n_threads, n, checks={"lockset": {}})
    report = check_report(student.last, "lockset")
    in_caller = report.get("caller_writes", 0)  # SafeCounter() itself, and any work done there
    started = report["writer_threads"] - (1 if in_caller else 0)  # the caller is no thread started
    by_threads = report["writes"] - in_caller
    if started < n_threads or by_threads < n_threads * n:
        raise Failed(f"parallel_count({n_threads}, {n}) returned {got!r}, but the SafeCounter's "
                     f"state was updated {by_threads} times by {started} thread(s) it started "
                     f"(and {in_caller} times in the thread that called it): it must start "
                     f"{n_threads} threads that each call increment() {n} times on one shared "
                     f"counter (t.start(), not t.run()), not compute the answer.",
                     writes=by_threads, writer_threads=started, caller_writes=in_caller)
    return got


@requirement("real-threads")
def test_parallel_count_uses_threads(student):
    """parallel_count really runs n_threads threads that increment one SafeCounter"""
    _expect_real_threads(student, 4, 50)  # the value itself is judged by the tests above
