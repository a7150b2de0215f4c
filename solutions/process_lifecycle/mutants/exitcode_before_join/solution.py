"""run_named reads every exitcode right after starting the processes, before joining them:
still running, so None."""

import multiprocessing


def run_named(func, names):
    """Run func() in one process per name (the process's name), all at the same time;
    returns {name: exit code}."""
    procs = {name: multiprocessing.Process(target=func, name=name) for name in names}
    for p in procs.values():  # start them all first ...
        p.start()
    codes = {name: p.exitcode for name, p in procs.items()}
    for p in procs.values():
        p.join()
    return codes


def run_with_deadline(func, args, seconds):
    """Run func(*args) in a child process; terminate it if it is still running after
    `seconds`. Returns its exit code (negative: killed by that signal)."""
    p = multiprocessing.Process(target=func, args=tuple(args))
    p.start()
    p.join(seconds)
    if p.is_alive():
        p.terminate()  # SIGTERM
        p.join()
    return p.exitcode
