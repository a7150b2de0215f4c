"""run_with_deadline returns -1 for a child it had to stop, instead of the child's exit code."""

import multiprocessing


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
    p.join(seconds)
    if p.is_alive():
        p.terminate()  # SIGTERM
        p.join()
        return -1  # "timed out"
    return p.exitcode
