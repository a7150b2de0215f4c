"""How the student's process starts: its limits, user and scheduling, and the warm template.

`preexec(request)` is what every agent process goes through between fork and the student's
code: a session of its own, rlimits, nice and SCHED_IDLE, then the student's uid.

`Template` is a process the supervisor server forks once, at its start, before any thread
exists: it imports what every agent imports (the agent, its checks, numpy...) and then forks
each plain request's agent from that warm state, so a request pays no interpreter start and no
imports but the student's own (a fresh process per request all the same: nothing of one
request's run reaches the next). Wrapped requests (MPI's `mpiexec`, Oclgrind, the CUDA
sanitizer) still exec their command line. The template never runs the student's code and holds
no request's data but the one it is forking; it is not dumpable.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import resource
import signal
import socket
import struct
import sys
import time
import types
from collections.abc import Callable

from grader.agent.nodump import undumpable
from grader.protocol import Request, SpawnOrder

# What every agent imports anyway (grader.agent.agent and the checks), and the standard
# library's parallel modules: imported once in the template instead of in every request.
PRELOAD = (
    "grader.agent.agent",
    "grader.checks",
    "grader.checks.locks",
    "grader.checks.lockset",
    "grader.checks.schedule",
    "grader.checks.tracing",
    "grader.checks.findings",
    "grader.checks.workitems",
    "grader.checks.holding",
    "grader.checks.startmethod",
    "grader.agent.codec",
    "threading",
    "queue",
    "asyncio",
    "concurrent.futures",
    "multiprocessing",
    "multiprocessing.pool",
    "multiprocessing.queues",
    "multiprocessing.shared_memory",
)
# Libraries the template imports too when the exercise's own files do (`--preload`, chosen by
# the host: grader.sandbox.preload): each costs every container its import, and every request a
# larger template to fork (numpy: about 55 ms and 3 ms of CPU), so only where they are used.
OPTIONAL_PRELOAD = ("numpy",)
_LEN = struct.Struct(">I")


def become(user: dict) -> None:
    os.setgroups([])
    os.setgid(int(user["gid"]))
    os.setuid(int(user["uid"]))


def preexec(request: Request) -> Callable[[], None]:
    """The function an agent process runs before anything of the student's (in the child, as
    root where the sandbox has one)."""
    limits = request.limits

    def apply() -> None:
        os.setsid()
        if request.cpus:  # the local backend's pinning (Docker pins the container)
            os.sched_setaffinity(0, request.cpus)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = int(limits.get("cpu_seconds", 60)) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        disk = int(limits.get("disk_mb", 64)) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
        if request.rlimit_memory:
            mem = max(int(limits.get("memory_mb", 512)), 256) * 4 * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        if request.rlimit_pids and os.geteuid() != 0:
            pids = int(limits.get("pids", 256))
            soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
            resource.setrlimit(resource.RLIMIT_NPROC, (pids, hard))
        os.nice(5)  # a fork bomb must not starve the supervisor of the CPU it needs to kill it
        if request.agent_user:
            # Nice alone loses to numbers: 256 bombing processes at nice 5 leave the supervisor
            # 1/85 of the CPU. In the container the student's processes run SCHED_IDLE (they
            # compete only with each other there, so timings are untouched) and RLIMIT_NICE 0
            # keeps them from leaving it; the supervisor always gets the CPU when it wakes.
            resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            become(request.agent_user)  # the student cannot signal or trace us

    return apply


def _send(sock: socket.socket, message: dict) -> None:
    body = json.dumps(message).encode()
    sock.sendall(_LEN.pack(len(body)) + body)


def _recv(sock: socket.socket, limit: int = 1 << 20) -> dict | None:
    head = b""
    while len(head) < _LEN.size:
        chunk = sock.recv(_LEN.size - len(head))
        if not chunk:
            return None
        head += chunk
    (size,) = _LEN.unpack(head)
    if size > limit:
        return None
    body = b""
    while len(body) < size:
        chunk = sock.recv(size - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


class Template:
    """The server's handle on its template process."""

    def __init__(self, base_env: dict, preload: tuple[str, ...] = ()):
        """`preload`: names of `OPTIONAL_PRELOAD` to import besides `PRELOAD`."""
        unknown = set(preload) - set(OPTIONAL_PRELOAD)
        if unknown:
            raise ValueError(f"not a library the template may preload: {sorted(unknown)}")
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the template
            ours.close()
            try:
                _serve(theirs, base_env, PRELOAD + tuple(preload))
            finally:
                os._exit(0)
        theirs.close()
        self.pid = pid
        self.sock: socket.socket | None = ours

    def spawn(self, request: Request, cwd: str, env: dict, stdout: str, stderr: str) -> int | None:
        """Fork a warm agent for `request`; its pid (it is our child: the template's go-between
        exits at once, and we are the reaper of orphans), or None if the template cannot (the
        caller then starts one the cold way)."""
        sock = self.sock
        if sock is None:
            return None
        try:
            sock.settimeout(10)
            _send(sock, SpawnOrder(request, cwd, env, stdout, stderr).to_wire())
            got = _recv(sock)
        except (OSError, ValueError):
            got = None
        if not got or not isinstance(got.get("pid"), int):
            self.close()
            return None
        return got["pid"]

    def alive(self) -> bool:
        return self.sock is not None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass


def _serve(sock: socket.socket, base_env: dict, preload: tuple[str, ...]) -> None:
    """The template's life: warm up, then fork an agent for each order until the server goes."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, sock.fileno())
    os.closerange(sock.fileno() + 1, 1 << 16)
    try:
        undumpable()
    except OSError:
        pass  # the agents it forks make themselves undumpable all the same (grader.agent.agent)
    os.environ.clear()
    os.environ.update(base_env)  # what numpy's BLAS reads when it loads (one thread)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a library the image lacks: the student imports it
            pass
    while True:
        try:
            wire = _recv(sock)
            if wire is None:
                return
            order = SpawnOrder.from_wire(wire)
        except (OSError, ValueError, TypeError, KeyError):
            return  # the server starts its agents the cold way from now on
        # A go-between forks the agent and exits at once, so that the agent is the server's
        # (the reaper of orphans); its pid is sent only once it is: the server waits for it.
        r, w = os.pipe()
        go_between = os.fork()
        if go_between == 0:
            go_between_pid = os.getpid()
            try:
                os.close(r)
                agent = os.fork()
                if agent == 0:
                    os.close(w)
                    while os.getppid() == go_between_pid:  # until the server is our parent
                        time.sleep(0.0002)
                    _become_agent(sock, order)  # never returns
                os.write(w, _LEN.pack(agent))
            finally:
                os._exit(0)
        os.close(w)
        got = os.read(r, _LEN.size)
        os.close(r)
        os.waitpid(go_between, 0)
        if len(got) != _LEN.size:
            return  # could not fork: the server starts its agents the cold way from now on
        _send(sock, {"pid": _LEN.unpack(got)[0]})


def _become_agent(sock: socket.socket, order: SpawnOrder) -> None:
    """In the forked agent: what `python -I -m grader.agent.bootstrap` with the supervisor's
    Popen(cwd, env, stdout, stderr, preexec) would have set up, then the agent itself."""
    try:
        sock.close()
        out = os.open(order.stdout, os.O_WRONLY | os.O_APPEND)
        err = os.open(order.stderr, os.O_WRONLY | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        os.chdir(order.cwd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGUSR1):
            signal.signal(
                sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
            )
        preexec(order.request)()  # ours, as the server parsed it
        os.environ.clear()
        os.environ.update(order.env)
        # a fresh interpreter's streams, __stdout__/__stderr__ too (Final in typeshed)
        sys.stdout = sys.__stdout__ = _text(1, "strict", line_buffering=False)  # type: ignore[misc]
        sys.stderr = sys.__stderr__ = _text(2, "backslashreplace", line_buffering=True)  # type: ignore[misc]
        _fresh_state()
        import runpy

        sys.argv = [""]
        sys.modules["__main__"] = types.ModuleType("__main__")  # not the server's namespace
        # what `python -m` itself calls (private, not in typeshed)
        runpy._run_module_as_main(  # type: ignore[attr-defined]
            "grader.agent.bootstrap", alter_argv=True
        )
    except BaseException:  # noqa: BLE001 - a start that failed: said on the agent's stderr
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(1)  # the agent ends with os._exit itself


def _text(fd: int, errors: str, line_buffering: bool) -> io.TextIOWrapper:
    """A standard stream as a new interpreter makes it (stderr line-buffered, as since 3.9)."""
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        io.BufferedWriter(raw), encoding="utf-8", errors=errors, line_buffering=line_buffering
    )


def _fresh_state() -> None:
    """What each new interpreter would have had of its own: random seeds, multiprocessing's
    key. (`random` reseeds itself after a fork.)"""
    mp = sys.modules.get("multiprocessing.process")
    if mp is not None:
        mp.current_process().authkey = os.urandom(32)
    np_random = sys.modules.get("numpy.random")
    if np_random is not None:
        np_random.seed()
