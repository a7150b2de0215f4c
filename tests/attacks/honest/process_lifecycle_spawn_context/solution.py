"""Starting, naming, joining and terminating processes. Reference solution."""

import multiprocessing

_CTX = multiprocessing.get_context("spawn")  # the same on Linux as on macOS and Windows


def run_named(func, names):
    """Run func() in one process per name (the process's name), all at the same time;
    returns {name: exit code}."""
    procs = {name: _CTX.Process(target=func, name=name) for name in names}
    for p in procs.values():  # start them all first ...
        p.start()
    for p in procs.values():  # ... then wait for them all
        p.join()
    return {name: p.exitcode for name, p in procs.items()}


def run_with_deadline(func, args, seconds):
    """Run func(*args) in a child process; terminate it if it is still running after
    `seconds`. Returns its exit code (negative: killed by that signal)."""
    p = _CTX.Process(target=func, args=tuple(args))
    p.start()
    p.join(seconds)
    if p.is_alive():
        p.terminate()  # SIGTERM
        p.join()
    return p.exitcode
