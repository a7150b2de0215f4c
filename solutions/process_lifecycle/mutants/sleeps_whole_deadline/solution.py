"""run_with_deadline sleeps the whole `seconds` before looking at the child, even when it
ended at once."""

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
    time.sleep(seconds)
    if p.is_alive():
        p.terminate()  # SIGTERM
        p.join()
    return p.exitcode
