"""The judge's test runs, each forked from a warm parent.

A grading process (the CLI's batch, a Celery worker's pool process, the portal's runner) starts
one *judge fork server*: `python -m grader.judge.warm SOCKET`, which imports pytest, the judge's
plugin, the sandbox clients and the grader's checks once, then listens on a Unix socket in a
private folder. Each submission's pytest run is a fresh child forked from it (its own session
and process group, its own folder, output and environment; nothing shared with another
submission's run) instead of a new interpreter importing all of that again (about 0.8 s per
submission on a loaded 2-core host; `docs/bench-warm.md`).

The exercise's test modules are imported by the server too (`TestModules`: once per content of
the exercise's test folders, with pytest's assertion rewriting), so a run finds them in
`sys.modules` instead of reading, rewriting and compiling them again. The server keeps them out
of its own `sys.modules` (another exercise has its own `test_hidden`); each run installs its
exercise's modules in its own copy of the server's memory, so what a run changes in a test
module (its globals, a counter, a monkeypatch) dies with that run and the next run starts from
the module as imported.

One connection per run: the runner sends `{"args", "cwd", "env", "output", "preload"}` (preload:
the test folders), the server answers
`{"pid"}` once the child exists and `{"exit"}` (its exit code) when it ends. The server exits
when its grading process does (its stdin is a pipe from that process). multiprocessing's own
forkserver cannot serve here: Celery's pool processes are daemonic, and daemonic processes may
not start multiprocessing children.
"""

from __future__ import annotations

import ast
import atexit
import gc
import hashlib
import importlib
import importlib.util
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
from pathlib import Path

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
    # what pytest imports for its default plugins (the debugger, unittest support, JUnit XML...)
    "pdb",
    "unittest",
    "xml.etree.ElementTree",
    "_pytest._argcomplete",
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


def start_server() -> None:
    """Start this process's fork server now (it imports pytest while other work goes on)."""
    _the_server()


def _stop_server() -> None:
    with _server_lock:
        if _server is not None:
            _server.stop()


atexit.register(_stop_server)


class JudgeProcess:
    """One pytest run forked by the judge fork server; `pid` leads its own process group."""

    def __init__(
        self,
        args: list[str],
        cwd: str,
        env: dict,
        output: str | None,
        preload: list[str] | None = None,
    ):
        """`preload`: the exercise's test folders, whose modules the server imports once."""
        self.returncode: int | None = None
        self._sock = _the_server().connect()
        job = {"args": args, "cwd": cwd, "env": env, "output": output, "preload": preload or []}
        try:
            protocol.send(self._sock, job)
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


class TestModules:
    """The test modules of each exercise's test folders, imported once by the server.

    Keyed by the folders and a digest of every Python file in them, so an edited test file is
    imported again. A folder set is not preloaded (its runs import it as before) when pytest
    would name its modules otherwise than by their file's stem (an `__init__.py` or a
    `conftest.py` in it; two test files with one name), and when importing it fails or takes
    longer than IMPORT_LIMIT_S: the run then imports it itself and reports what went wrong, as
    without a server. The modules a test module imports from its own folders (a helper such as
    `pi_checks.py`) belong to the exercise too: they are kept with it, out of the server's
    `sys.modules`."""

    IMPORT_LIMIT_S = 10
    KEEP = 32  # folder sets kept (a course's exercises)

    def __init__(self):
        self._cache: dict[tuple, tuple[str, dict]] = {}  # folders -> (digest, modules)

    def modules(self, folders: list[str]) -> dict:
        """{module name: module} for the test files under `folders` ({} if not preloadable)."""
        if not folders:
            return {}
        key = tuple(folders)
        files = sorted(p for f in folders for p in Path(f).rglob("*.py") if p.is_file())
        digest = hashlib.sha256()
        for p in files:
            digest.update(str(p).encode() + b"\0" + p.read_bytes())
        cached = self._cache.get(key)
        if cached is not None and cached[0] == digest.hexdigest():
            return cached[1]
        modules = self._import(folders, files)
        if len(self._cache) >= self.KEEP:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (digest.hexdigest(), modules)
        return modules

    def _import(self, folders: list[str], files: list[Path]) -> dict:
        tests = [p for p in files if p.name.startswith("test_") or p.name.endswith("_test.py")]
        names = [p.stem for p in tests]
        if (
            any(p.name in ("__init__.py", "conftest.py") for p in files)
            or len(set(names)) != len(names)
            or any(name in sys.modules for name in names)
        ):
            return {}
        before, path = set(sys.modules), list(sys.path)
        roots = tuple(str(Path(f).resolve()) + os.sep for f in folders)
        previous = signal.signal(signal.SIGALRM, _too_long)
        signal.alarm(self.IMPORT_LIMIT_S)
        try:
            for test in tests:
                sys.path.insert(0, str(test.parent))
                _import_rewritten(test)
            ok = True
        except BaseException:  # noqa: BLE001 - the run imports it and reports the error
            ok = False
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
            sys.path[:] = path
        ours = {}
        for name in set(sys.modules) - before:
            module = sys.modules[name]
            where = os.path.realpath(getattr(module, "__file__", None) or "")
            if name in names or where.startswith(roots):
                ours[name] = sys.modules.pop(name)  # the exercise's: out of the server's view
        return ours if ok else {}


class _TooLong(Exception):
    pass


def _too_long(signum, frame):
    raise _TooLong


def _import_rewritten(path: Path) -> None:
    """Import the test file at `path` as pytest does (named by its stem, asserts rewritten)."""
    from _pytest.assertion.rewrite import rewrite_asserts

    source = path.read_bytes()
    tree = ast.parse(source, filename=str(path))
    rewrite_asserts(tree, source, str(path), None)
    code = compile(tree, str(path), "exec", dont_inherit=True)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    exec(code, module.__dict__)


# A library a test module imports (numpy: OpenBLAS) must not start threads in the server: a
# fork copies only the forking thread. The test runs compare values; they need no BLAS threads.
SINGLE_THREADED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def serve(path: str) -> None:
    for name in SINGLE_THREADED:
        os.environ[name] = "1"
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a student's checker has no Docker SDK: imported by a run, if ever
            pass
    try:  # pytest's own plugins, imported by every run
        from _pytest.config import default_plugins, essential_plugins

        for name in essential_plugins + default_plugins:
            importlib.import_module(f"_pytest.{name}")
    except ImportError:
        pass
    test_modules = TestModules()
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
                    modules = test_modules.modules([str(f) for f in job.get("preload") or []])
                    # the server's objects to the permanent generation: the run's collections
                    # never walk them (nor copy the pages they lie in)
                    gc.freeze()
                    pid = os.fork()
                    if pid == 0:
                        selector.close()
                        listener.close()
                        for run_fd, (other, _pid) in runs.items():
                            os.close(run_fd)
                            other.close()
                        conn.close()
                        _run(job, modules)
                    gc.unfreeze()  # the server's own garbage stays collectable
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


def _run(job: dict, modules: dict) -> None:
    """In the forked child: become a fresh test run (session, output, folder, environment), with
    the exercise's test modules as the server imported them (this process's own copy)."""
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
        sys.modules.update(modules)
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
