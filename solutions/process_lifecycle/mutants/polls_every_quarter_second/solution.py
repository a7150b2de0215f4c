"""Mutant: run_with_deadline looks at the child every 0.25 s (sleeping in between) instead of joining it."""

import multiprocessing
import time


def run_named(func, names):
    """Run func() in one process per name (the process's name), all at the same time;
    returns {name: exit code}."""
    procs = {name: multiprocessing.Process(target=func, name=name) for name in names}
    for p in procs.values():  # start them all first ...
        p.start()
    for p in procs.values():  # ... then wait for them all
        p.join()
    return {name: p.exitcode for name, p in procs.items()}


def run_with_deadline(func, args, seconds):
    """Run func(*args) in a child process; terminate it if it is still running after
    `seconds`. Returns its exit code (negative: killed by that signal)."""
    p = multiprocessing.Process(target=func, args=tuple(args))
    p.start()
    end = time.monotonic() + seconds
    while p.is_alive() and time.monotonic() < end:
        time.sleep(0.25)
    if p.is_alive():
        p.terminate()  # SIGTERM
        p.join()
    return p.exitcode
