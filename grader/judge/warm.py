"""The judge's test runs, each forked from a warm parent.

A grading process (the CLI's batch, a Celery worker's pool process, the portal's runner) starts
one *judge fork server*: `python -m grader.judge.warm SOCKET`, which imports pytest, the judge's
plugin, the sandbox clients and the grader's checks once, then listens on a Unix socket in a
private folder. Each submission's pytest run is a fresh child forked from it (its own session
and process group, its own folder, output and environment; nothing shared with another
submission's run) instead of a new interpreter importing all of that again (about 0.8 s per
submission on a loaded 2-core host; `docs/bench-warm.md`). The exercise's test modules are still
imported by each run.

One connection per run: the runner sends `{"args", "cwd", "env", "output"}`, the server answers
`{"pid"}` once the child exists and `{"exit"}` (its exit code) when it ends. The server exits
when its grading process does (its stdin is a pipe from that process). multiprocessing's own
forkserver cannot serve here: Celery's pool processes are daemonic, and daemonic processes may
not start multiprocessing children.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from grader import protocol
from grader.errors import PlatformError

# Imported once in the server; what every test run imports anyway.
PRELOAD = [
    "pytest",
    "_pytest.main",
    "_pytest.python",
    "_pytest.fixtures",
    "_pytest.assertion.rewrite",
    "_pytest.terminal",
    "_pytest.runner",
    "docker",
    "grader.testing",
    "grader.judge.plugin",
    "grader.judge.proxy",
    "grader.judge.verdicts.reply",
    "grader.judge.verdicts.record",
    "grader.judge.expect_values",
    "grader.judge.expect_concurrency",
    "grader.judge.expect_locks",
    "grader.judge.expect_asyncio",
    "grader.judge.expect_mpi",
    "grader.judge.expect_celery",
    "grader.judge.expect_gpu",
    "grader.judge.expect_modern",
    "grader.sandbox.docker",
    "grader.sandbox.local",
    "grader.agent.codec",
]
START_WAIT_S = 60  # how long a starting server may take to listen (a loaded host)
MAX_FRAME = 4 * 2**20


# ---------------------------------------------------------------- the grading process's side


class _Server:
    """This process's fork server (started on first use; a forked worker starts its own)."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="pgrader-judge-")  # 0700: only we connect
        self.path = os.path.join(self.folder, "judge.sock")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.judge.warm", self.path],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = os.getpid()

    def connect(self) -> socket.socket:
        deadline = time.monotonic() + START_WAIT_S
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                return sock
            except OSError:
                sock.close()
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise PlatformError(
                    f"the judge's fork server did not start (exit {self.proc.poll()})"
                )
            time.sleep(0.01)

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.proc.poll() is None

    def stop(self) -> None:
        """End the server (EOF on its stdin) and wait for it; its runs are the runner's to end."""
        if self.pid != os.getpid():
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: _Server | None = None
_server_lock = threading.Lock()


def _the_server() -> _Server:
    global _server
    with _server_lock:
        if _server is None or not _server.alive():
            _server = _Server()
        return _server


def _stop_server() -> None:
    with _server_lock:
        if _server is not None:
            _server.stop()


atexit.register(_stop_server)


class JudgeProcess:
    """One pytest run forked by the judge fork server; `pid` leads its own process group."""

    def __init__(self, args: list[str], cwd: str, env: dict, output: str | None):
        self.returncode: int | None = None
        self._sock = _the_server().connect()
        try:
            protocol.send(self._sock, {"args": args, "cwd": cwd, "env": env, "output": output})
            first = protocol.receive(self._sock, MAX_FRAME)
        except OSError as exc:
            self._sock.close()
            raise PlatformError(f"the judge's fork server failed: {exc}") from exc
        reply = json.loads(first) if first else {}
        if "pid" not in reply:
            self._sock.close()
            raise PlatformError(f"the judge's fork server could not start the run: {reply}")
        self.pid = int(reply["pid"])

    def wait(self, timeout: float | None = None) -> int:
        """The exit code; `subprocess.TimeoutExpired` if the run goes on after `timeout` s."""
        if self.returncode is not None:
            return self.returncode
        self._sock.settimeout(timeout)
        try:
            body = protocol.receive(self._sock, MAX_FRAME)
        except TimeoutError:
            raise subprocess.TimeoutExpired("pytest", timeout or 0) from None
        except OSError:
            body = None
        self._sock.close()
        self.returncode = int(json.loads(body)["exit"]) if body else -1
        return self.returncode

    def signal_group(self, signum: int) -> None:
        """Signal the run and everything it started (its own process group)."""
        if self.returncode is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except OSError:
            pass


# ---------------------------------------------------------------- the server


def serve(path: str) -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a student's checker has no Docker SDK: imported by a run, if ever
            pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    runs: dict[int, tuple[socket.socket, int]] = {}  # pidfd -> (connection, pid)
    while True:
        for key, _ in selector.select():
            if key.data == "parent":  # the grading process is gone (EOF on our stdin)
                os._exit(0)
            if key.data == "accept":
                conn, _ = listener.accept()
                try:
                    conn.settimeout(10)
                    job = json.loads(protocol.receive(conn, MAX_FRAME) or b"{}")
                    pid = os.fork()
                    if pid == 0:
                        selector.close()
                        listener.close()
                        for run_fd, (other, _pid) in runs.items():
                            os.close(run_fd)
                            other.close()
                        conn.close()
                        _run(job)
                    fd = os.pidfd_open(pid)
                    runs[fd] = (conn, pid)
                    selector.register(fd, selectors.EVENT_READ, "run")
                    protocol.send(conn, {"pid": pid})
                except (OSError, ValueError, KeyError) as exc:
                    try:
                        protocol.send(conn, {"error": str(exc)[:500]})
                    except OSError:
                        pass
                    conn.close()
                continue
            fd = key.fd  # a run ended
            selector.unregister(fd)
            conn, pid = runs.pop(fd)
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            try:
                protocol.send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            except OSError:
                pass
            conn.close()


def _run(job: dict) -> None:
    """In the forked child: become a fresh test run (session, output, folder, environment)."""
    code = 3
    try:
        os.setsid()
        if job.get("output"):
            fd = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        tempfile.tempdir = None  # chosen again from this run's TMPDIR
        sys.dont_write_bytecode = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import pytest

        code = int(pytest.main(job["args"]))
    except BaseException:  # noqa: BLE001 - reported in the run's output, exit code 3
        import traceback

        traceback.print_exc()
    finally:
        try:
            from grader.sandbox.docker import close_all  # lazy: the docker SDK, only if used

            close_all()  # what an interpreter's exit would have done (atexit does not run here)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grading process's to handle
    serve(sys.argv[1])
