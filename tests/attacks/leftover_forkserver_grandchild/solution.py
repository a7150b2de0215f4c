"""Attack: run_with_deadline without terminate() whose work runs in a *grandchild* of
multiprocessing's fork server: the fork server's child forks it and, at the deadline, dies of
its own SIGTERM (so the exit code claims a termination, as the claims_terminated mutant does,
honestly 7.2/10), while the grandchild goes on working. The grandchild carries the fork server's
command line and its parent (that child, or the supervisor once the child has died) is no
helper, so the supervisor took it for one of multiprocessing's helpers and did not list it as a
leftover: the fix of leftover_hidden_by_forkserver (a fork server's *children* are the
student's) did not reach its grandchildren."""

import multiprocessing
import os
import signal
import time


def run_named(func, names):
    procs = {name: multiprocessing.Process(target=func, name=name) for name in names}
    for p in procs.values():
        p.start()
    for p in procs.values():
        p.join()
    return {name: p.exitcode for name, p in procs.items()}


def _run(func, args):
    code = 0
    try:
        func(*args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    os._exit(code)


def _detached(func, args, seconds):
    pid = os.fork()
    if pid == 0:
        _run(func, args)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        time.sleep(0.005)
    os.kill(os.getpid(), signal.SIGTERM)  # the grandchild goes on working


def run_with_deadline(func, args, seconds):
    ctx = multiprocessing.get_context("forkserver")
    p = ctx.Process(target=_detached, args=(func, tuple(args), seconds))
    p.start()
    p.join(seconds + 0.2)  # BUG: the work itself is never terminated
    return p.exitcode
