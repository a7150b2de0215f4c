"""Hidden tests for process_lifecycle.

The functions handed to `run_named` tell the judge what happened through their exit codes:
the code a child exits with depends on the name it was given, and a `multiprocessing.Barrier`
that every child must reach (`_together`) proves the children were alive at the same time, so
start-then-join in one loop fails every run, however fast the machine is. Under spawn, the
children import the student's module (as any child whose target lives there does), which
catches demo code that is not under `if __name__ == "__main__":`.
"""

import signal

from grader.testing import Failed, expect_equal, requirement

TIMEOUT = 6
NOTICE = 0.2  # seconds a call with a child that exits at once may take, at best of 3
NAMES = ["alpha", "beta", "gamma", "delta"]
MAIN_HINT = ("Under spawn every child is a fresh interpreter that imports your module to find "
             "the functions it needs, so code at module level runs again in every child; a "
             "module-level call that starts processes then fails with \"An attempt has been "
             "made to start a new process before the current process has finished its "
             "bootstrapping phase\". Put demo code under `if __name__ == \"__main__\":`.")


# ---------------------------------------------------------------- probes (run in the sandbox)

def _exit_by_name(mod, names, raise_for):
    """Each child exits with 10 + the index of its own name (or raises, for `raise_for`), after
    0.3 s: an exit code read before the child was joined is None, not a lucky right value."""
    import multiprocessing
    import os
    import time

    from grader.checks.startmethod import forked

    def child():
        time.sleep(0.3)
        me = multiprocessing.current_process().name
        if me == raise_for:
            raise ValueError("this child fails on purpose")
        os._exit(10 + names.index(me) if me in names else 99)

    with forked():  # the child is a closure: forked, whatever start method run_named chose
        return mod.run_named(child, names)


def _together(mod, names, wait):
    """Each child waits at a barrier for all the others: exit 0 if they all got there, 3 if
    the barrier broke because the others were not running at the same time."""
    import multiprocessing
    import os
    import threading

    from grader.checks.startmethod import forked

    barrier = multiprocessing.Barrier(len(names))

    def child():
        try:
            barrier.wait(timeout=wait)
            os._exit(0)
        except threading.BrokenBarrierError:
            os._exit(3)

    with forked():  # the child is a closure: forked, whatever start method run_named chose
        return mod.run_named(child, names)


def _imports_module(mod, names):
    """run_named with a child whose target is a function of the student's module (here
    run_named itself, with no names): a spawned child imports the module while it starts."""
    import functools
    import os

    return mod.run_named(functools.partial(mod.run_named, os.getpid, []), names)


def _deadline(mod, func_name, args, seconds):
    """run_with_deadline(func, args, seconds) with a picklable library function, and its wall."""
    import os
    import time

    func = {"sleep": time.sleep, "exit": os._exit}[func_name]
    t0 = time.perf_counter()
    code = mod.run_with_deadline(func, args, seconds)
    return {"code": code, "wall": time.perf_counter() - t0}


def _noticed_after(mod, trials):
    """run_with_deadline(os._exit, (3,), 5.0) `trials` times: the exit codes, and the least time
    a call took. The child exits as soon as it starts: waiting on it (join(seconds)) returns
    within milliseconds of the start; looking at it every P seconds (is_alive(), then a sleep)
    looks first while it is still starting, so no call takes less than P."""
    import os
    import time

    least, codes = None, []
    for _ in range(trials):
        t0 = time.monotonic()
        codes.append(mod.run_with_deadline(os._exit, (3,), 5.0))
        took = time.monotonic() - t0
        least = took if least is None else min(least, took)
    return {"codes": codes, "least": least}


# ---------------------------------------------------------------- judge-side helpers

def _leftovers(reply):
    """The student's processes still alive after the call (multiprocessing's own helpers are
    already left out by the sandbox)."""
    return reply.leftover_processes or []


def _no_leftovers(reply, what, hint):
    left = _leftovers(reply)
    if left:
        raise Failed(f"When {what} returned, {len(left)} of the processes it started were still "
                     f"there. {hint}", leftover_processes=left)


def _expect_really_terminated(reply, what, code):
    """The exit code says terminated: the sandbox must not have seen the child still running."""
    left = _leftovers(reply)
    if left:
        raise Failed(f"{what} returned {code}, but the child it started was still running when "
                     "it returned: it was never terminated. Call terminate() on a child still "
                     "running at the deadline, then join() it; its exit code is then "
                     f"-{int(signal.SIGTERM)}.", got=code, leftover_processes=left)


# ---------------------------------------------------------------- tests: run_named

@requirement("named", "exit-codes")
def test_exit_codes_by_name(student):
    """run_named names each process and returns every process's exit code"""
    got = student.run(_exit_by_name, NAMES, None, timeout=TIMEOUT, what=f"run_named(f, {NAMES})")
    expected = {n: 10 + i for i, n in enumerate(NAMES)}
    if isinstance(got, dict) and 99 in got.values():
        raise Failed(f"run_named(f, {NAMES}) returned {got}: a child did not find its name in "
                     "multiprocessing.current_process().name (99 means an unknown name). Give "
                     "each Process its name: Process(target=func, name=name).", got=got)
    expect_equal(got, expected, f"run_named(f, {NAMES}) where f exits with 10 + its name's index")


@requirement("exit-codes")
def test_failing_child(student):
    """A child that raises has exit code 1; the others are unaffected"""
    got = student.run(_exit_by_name, NAMES[:3], "beta", timeout=TIMEOUT,
                      what=f"run_named(f, {NAMES[:3]})")
    expect_equal(got, {"alpha": 10, "beta": 1, "gamma": 12},
                 f"run_named(f, {NAMES[:3]}) where f raises in 'beta'",
                 hint="An exception in the target ends that process with exit code 1.")


@requirement("together")
def test_processes_run_at_the_same_time(student):
    """All processes are started before any is joined"""
    what = f"run_named(f, {NAMES})"
    got = student.run(_together, NAMES, 1.5, timeout=TIMEOUT, what=what)
    if isinstance(got, dict) and set(got.values()) == {3}:
        raise Failed(f"In {what}, each child waits until all four are running at the same time, "
                     "but they never were: each one gave up after 1.5 s. Your code waits for "
                     "each process (join) before it starts the next one, so they run one after "
                     "another. Start all the processes in one loop, then join them all in a "
                     "second loop.", got=got)
    expect_equal(got, {n: 0 for n in NAMES}, what + " where the children meet at a barrier")


@requirement("together")
def test_run_named_leaves_no_process(student):
    """run_named joins every process it starts"""
    student.run(_exit_by_name, NAMES[:2], None, timeout=TIMEOUT, what="run_named")
    _no_leftovers(student.last, f"run_named(f, {NAMES[:2]})", "Join every process you start.")


@requirement("import-safe")
def test_module_safe_to_import_under_spawn(student):
    """Under spawn, children can import solution.py without side effects"""
    what = f"run_named(f, {NAMES[:2]}) under spawn, where f is a function of solution.py"
    got = student.run(_imports_module, NAMES[:2], start_method="spawn", timeout=TIMEOUT + 2,
                      what=what)
    if got != {n: 0 for n in NAMES[:2]}:
        stderr = student.last.stderr
        why = (" The children reported: \"start a new process before the current process has "
               "finished its bootstrapping phase\"." if "bootstrapping phase" in stderr else "")
        raise Failed(f"{what} returned {got}, expected exit code 0 for both: importing your "
                     f"module in a spawned child failed.{why} {MAIN_HINT}", got=got)


# ---------------------------------------------------------------- tests: run_with_deadline

@requirement("deadline", "deadline-code")
def test_deadline_returns_exit_code(student):
    """A child that finishes in time: its own exit code"""
    what = "run_with_deadline(os._exit, (5,), 3.0)"
    out = student.run(_deadline, "exit", [5], 3.0, timeout=TIMEOUT, what=what)
    expect_equal(out["code"], 5, what)
    if out["wall"] > 1.5:
        raise Failed(f"{what} took {out['wall']:.1f} s, although the child exited at once: wait "
                     "*at most* `seconds`, with p.join(seconds), which returns as soon as the "
                     "child has ended (time.sleep(seconds) always waits the whole time).",
                     wall=round(out["wall"], 3))
    what = "run_with_deadline(os._exit, (3,), 5.0), three times"
    out = student.run(_noticed_after, 3, timeout=TIMEOUT, what=what)
    expect_equal(out["codes"], [3, 3, 3], what)
    if out["least"] is not None and out["least"] > NOTICE:
        raise Failed(f"In {what}, the quickest call took {out['least']:.2f} s although the child "
                     "exits as soon as it starts: run_with_deadline looked at the child now and "
                     "then (sleeping in between) instead of waiting for it. p.join(seconds) "
                     "returns the moment the child ends, and waits at most `seconds`.",
                     least=round(out["least"], 3))


@requirement("deadline", "deadline-code")
def test_deadline_terminates(student):
    """An overdue child is terminated: a negative exit code, soon after the deadline"""
    what = "run_with_deadline(time.sleep, (30,), 0.3)"
    out = student.run(_deadline, "sleep", [30], 0.3, timeout=TIMEOUT, what=what)
    code, term = out["code"], -int(signal.SIGTERM)
    if code != term or isinstance(code, bool):
        if code is None:
            why = ("its exitcode is still None, so the child was never stopped and joined: "
                   "`join(seconds)` alone only stops waiting, the child keeps running")
        elif code == -int(signal.SIGKILL):
            why = "-9 is SIGKILL (kill()); the statement asks for terminate(), which sends SIGTERM"
        elif isinstance(code, int) and code < 0:
            why = ("that is not the exit code the child got: return p.exitcode after joining, "
                   "not a code of your own")
        else:
            why = "the child was not stopped by a signal"
        raise Failed(f"{what} returned {code!r}, expected {term} (-SIGTERM): {why}. A child still "
                     "running at the deadline is stopped with terminate(), then joined, and its "
                     "exitcode returned.", got=code)
    _expect_really_terminated(student.last, what, code)
    if out["wall"] > 2.5:
        raise Failed(f"{what} took {out['wall']:.1f} s: stop the child at the deadline, do not "
                     "wait for it to finish.", wall=out["wall"])


@requirement("deadline")
def test_deadline_leaves_no_process(student):
    """No child is left running after run_with_deadline returns"""
    student.run(_deadline, "sleep", [30], 0.2, timeout=TIMEOUT, what="run_with_deadline")
    _no_leftovers(student.last, "run_with_deadline(time.sleep, (30,), 0.2)",
                  "A child still running at the deadline must be terminated and joined.")


@requirement("deadline", "import-safe")
def test_deadline_under_spawn(student):
    """run_with_deadline works under the spawn start method"""
    what = "run_with_deadline(time.sleep, (30,), 0.5) under spawn"
    out = student.run(_deadline, "sleep", [30], 0.5, start_method="spawn", timeout=TIMEOUT + 2,
                      what=what)
    if not (isinstance(out["code"], int) and out["code"] < 0):
        raise Failed(f"{what} returned {out['code']!r}, expected a negative exit code "
                     "(terminated).", got=out["code"])
    _expect_really_terminated(student.last, what, out["code"])
