"""The judge's test runs, each forked from a warm parent.

A grading process starts one fork server (`multiprocessing`'s forkserver context) that has
imported pytest, the judge's plugin, the sandbox clients and the grader's checks once; each
submission's pytest run is a fresh child forked from it (its own session and process group,
its own environment, nothing shared with another submission's run), instead of a new
interpreter that imports all of that again (about 0.8 s per submission on a loaded 2-core host,
`docs/bench-warm.md`). The exercise's test modules are still imported by each run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading

# Imported once in the fork server; what every test run imports anyway.
PRELOAD = [
    "pytest", "_pytest.main", "_pytest.python", "_pytest.fixtures", "_pytest.assertion.rewrite",
    "_pytest.terminal", "_pytest.runner", "docker",
    "grader.judge.plugin", "grader.judge.proxy", "grader.judge.verdicts",
    "grader.judge.expect_locks", "grader.judge.expect_asyncio", "grader.judge.expect_mpi",
    "grader.judge.expect_celery", "grader.judge.expect_gpu", "grader.judge.expect_modern",
    "grader.sandbox.docker", "grader.sandbox.local", "grader.agent.codec",
]

_context = None
_context_lock = threading.Lock()


def _forkserver():
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)  # not __main__: the grader's caller stays out
            _context = ctx
        return _context


class JudgeProcess:
    """One pytest run forked from the warm parent; `pid` leads its own process group."""

    def __init__(self, args: list[str], cwd: str, env: dict, output: str | None):
        self._proc = _forkserver().Process(target=_judge_main, args=(args, cwd, env, output),
                                           name="pgrader-judge", daemon=False)
        self._proc.start()
        self.pid = self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code; `subprocess.TimeoutExpired` if the run goes on after `timeout` s."""
        self._proc.join(timeout)
        if self._proc.exitcode is None:
            raise subprocess.TimeoutExpired("pytest", timeout or 0)
        return self._proc.exitcode

    def signal_group(self, signum: int) -> None:
        """Signal the run and everything it started (its own process group)."""
        for kill in (lambda: os.killpg(self.pid, signum), lambda: os.kill(self.pid, signum)):
            try:
                kill()  # before the child's setsid there is no group yet: the pid itself
            except OSError:
                pass


def _judge_main(args: list[str], cwd: str, env: dict, output: str | None) -> None:
    """In the forked child: become a fresh test run (session, output, folder, environment)."""
    os.setsid()
    if output is not None:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.dont_write_bytecode = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the plugin installs its own when it opens
    code = 4
    try:
        import pytest

        code = int(pytest.main(args))
    except BaseException:  # noqa: BLE001 - reported in the run's output, exit code 3
        import traceback

        traceback.print_exc()
        code = 3
    finally:
        try:
            from grader.sandbox.docker import close_all

            close_all()  # what an interpreter's exit would have done (atexit does not run here)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
