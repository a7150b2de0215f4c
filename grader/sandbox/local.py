"""The local backend: one supervisor server per session, each request in a subprocess of it, in a
fresh temporary directory, with rlimits, pinned to the cores `grader.sandbox.cores` gave it.

A convenience for students (`grader check`) and machines without Docker. It is
NOT a security boundary: the student's code runs as the grader's user. Where
the kernel allows it, the network is cut off with `unshare --net`, and the session gets its own
/dev/shm in a mount namespace of its own.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.course import Limits
from grader.protocol import Status
from grader.sandbox import cores
from grader.sandbox.base import Backend, ServerLink, Session, remove_tree, supervisor_limit
from grader.sandbox.gpu import host_has_gpu

# In a mount namespace of its own, the session gets a private /dev/shm (Docker's default size):
# a segment another submission creates meanwhile is not this student's leak, and what this
# student leaks goes with the namespace instead of staying on the machine.
_PRIVATE_SHM = (
    'mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev pgrader-shm /dev/shm && exec "$0" "$@"'
)


@functools.cache
def _unshare_prefix() -> tuple[str, ...]:
    """The first of these that works here: `unshare --net --mount` with a private /dev/shm (as
    root, or with `--map-root-user`), else `unshare --net` alone (same two ways), else nothing."""
    exe, sh = shutil.which("unshare"), shutil.which("sh")
    if not exe:
        return ()
    net = [(exe, "--net"), (exe, "--net", "--map-root-user")]
    shm = [(*prefix, "--mount", sh, "-c", _PRIVATE_SHM) for prefix in net] if sh else []
    for prefix in shm + net:
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=5).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return prefix
    return ()


def private_shm() -> bool:
    """Whether each session has its own /dev/shm here (see `_unshare_prefix`)."""
    return "--mount" in _unshare_prefix()


AGENT_USER_ENV = "PGRADER_AGENT_USER"


def agent_user() -> dict | None:
    """The user the student's code runs as on this machine: `PGRADER_AGENT_USER` ("UID:GID",
    another user than ours), honoured only when we are root -- in a container where the grader
    runs as root beside the student's code (Gradescope's), so that the student's code cannot
    read the hidden tests, signal the grader or write its results. None: as ourselves."""
    value = os.environ.get(AGENT_USER_ENV, "")
    if not value or os.geteuid() != 0:
        return None
    try:
        uid, gid = (int(x) for x in value.split(":"))
    except ValueError:
        raise ValueError(f"{AGENT_USER_ENV} must be UID:GID, not {value!r}") from None
    if uid == 0 or gid == 0:
        raise ValueError(f"{AGENT_USER_ENV} must name an unprivileged user, not {value!r}")
    return {"uid": uid, "gid": gid}


class LocalSession(Session):
    """One submission's runs on this machine: a supervisor server (`grader.agent.server`,
    under `unshare --net` where it works) started on the first request, reached over a socket
    pair; each request runs in a fresh folder of the session's work area."""

    def __init__(self, submission: Path, limits: Limits):
        self.limits = limits
        self.root = Path(tempfile.mkdtemp(prefix="pgrader-local-"))
        self.submission = self.root / "submission"
        shutil.copytree(submission, self.submission, symlinks=True)
        self.user = agent_user()
        self.workroot = self._new_workroot()
        self.closed = False
        self.server: subprocess.Popen | None = None
        self.link: ServerLink | None = None

    def _new_workroot(self) -> Path:
        """A fresh folder for the runs: only traversable by the student's user, when there is one
        (the supervisor makes each run's `work/` and `out/` theirs)."""
        workroot = Path(tempfile.mkdtemp(prefix="runs-", dir=self.root))
        if self.user:
            os.chmod(self.root, 0o711)
            os.chmod(workroot, 0o711)
        return workroot

    def _start(self) -> ServerLink:
        ours, theirs = socket.socketpair()
        argv = [
            *_unshare_prefix(),
            sys.executable,
            "-I",
            "-m",
            "grader.agent.server",
            "--stdio",
            "--submission",
            str(self.submission),
            "--workroot",
            str(self.workroot),
        ]
        with theirs:
            self.server = subprocess.Popen(
                argv,
                stdin=theirs.fileno(),
                stdout=theirs.fileno(),
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.link = ServerLink(ours)
        return self.link

    def _stop(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.server is not None:
            try:
                os.killpg(self.server.pid, signal.SIGKILL)
            except OSError:
                pass
            self.server.wait()
            self.server = None

    def call(self, request: dict) -> dict:
        if self.closed:
            return {"status": Status.SANDBOX_ERROR, "message": "the sandbox session is closed"}
        # CUDA reserves far more address space than it uses (unified addressing): a cap on the
        # address space makes creating a context fail, so a GPU session is not given one.
        gpu = getattr(self, "gpu", False)
        request = {
            **request,
            "rlimit_memory": not gpu,
            "rlimit_pids": True,
            "workroot": str(self.workroot),
        }
        if self.user:
            request["agent_user"] = self.user
        with cores.reserved(request) as alloc:  # waiting here counts against no timeout
            link = self.link if self.link is not None else self._start()
            try:
                reply = link.call({**request, "cpus": list(alloc.cores)}, supervisor_limit(request))
            except BaseException:
                self._stop()  # interrupted: leave nothing running
                raise
        if reply is None:
            self._stop()  # the next request starts a fresh server
            return {
                "status": Status.SANDBOX_ERROR,
                "message": "the supervisor itself did not finish",
            }
        if reply.pop("recycle", False):  # the run left residue: later requests get a new area
            remove_tree(self.workroot)
            self.workroot = self._new_workroot()
        return reply

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._stop()
            remove_tree(self.root)


class LocalBackend(Backend):
    name = "local"

    def open(self, submission: Path, limits: Limits, gpu: bool = False) -> Session:
        session = LocalSession(submission, limits)
        session.gpu = gpu and host_has_gpu()
        return session

    def describe(self) -> dict:
        user = agent_user()
        return {
            "backend": self.name,
            "python": sys.version.split()[0],
            "isolation": "rlimits"
            + (", no network" if _unshare_prefix() else "")
            + (", a private /dev/shm" if private_shm() else "")
            + (f", the student's code as uid {user['uid']}" if user else ""),
        }
