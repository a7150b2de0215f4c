"""The local backend: one supervisor server per session, each request in a subprocess of it, in a
fresh temporary directory, with rlimits, pinned to the cores `grader.sandbox.cores` gave it.

A convenience for students (`grader check`) and machines without Docker. It is
NOT a security boundary: the student's code runs as the grader's user. Where
the kernel allows it, the network is cut off with `unshare --net`.
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
from grader.sandbox import cores
from grader.sandbox.base import Backend, ServerLink, Session, supervisor_limit


@functools.cache
def _unshare_prefix() -> tuple[str, ...]:
    """`unshare --net` (as root) or `unshare --net --map-root-user`, whichever works here."""
    exe = shutil.which("unshare")
    if not exe:
        return ()
    for prefix in ((exe, "--net"), (exe, "--net", "--map-root-user")):
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=5).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return prefix
    return ()


def _remove(path: Path) -> None:
    """Remove a tree the student's code wrote, however deep (no recursion limit), quietly."""
    subprocess.run(["chmod", "-R", "u+rwx", "--", str(path)], capture_output=True)
    subprocess.run(["rm", "-rf", "--", str(path)], capture_output=True)


class LocalSession(Session):
    """One submission's runs on this machine: a supervisor server (`grader.agent.server`,
    under `unshare --net` where it works) started on the first request, reached over a socket
    pair; each request runs in a fresh folder of the session's work area."""

    def __init__(self, submission: Path, limits: Limits):
        self.limits = limits
        self.root = Path(tempfile.mkdtemp(prefix="pgrader-local-"))
        self.submission = self.root / "submission"
        shutil.copytree(submission, self.submission, symlinks=True)
        self.workroot = self.root / "runs"
        self.workroot.mkdir()
        self.closed = False
        self.server: subprocess.Popen | None = None
        self.link: ServerLink | None = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        argv = [*_unshare_prefix(), sys.executable, "-I", "-m", "grader.agent.server", "--stdio",
                "--submission", str(self.submission), "--workroot", str(self.workroot)]
        with theirs:
            self.server = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL,
                                           start_new_session=True)
        self.link = ServerLink(ours)

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
            return {"status": "sandbox-error", "message": "the sandbox session is closed"}
        # CUDA reserves far more address space than it uses (unified addressing): a cap on the
        # address space makes creating a context fail, so a GPU session is not given one.
        gpu = getattr(self, "gpu", False)
        request = {**request, "rlimit_memory": not gpu, "rlimit_pids": True,
                   "workroot": str(self.workroot)}
        with cores.reserved(request) as alloc:  # waiting here counts against no timeout
            if self.link is None:
                self._start()
            try:
                reply = self.link.call({**request, "cpus": list(alloc.cores)},
                                       supervisor_limit(request))
            except BaseException:
                self._stop()  # interrupted: leave nothing running
                raise
        if reply is None:
            self._stop()  # the next request starts a fresh server
            return {"status": "sandbox-error", "message": "the supervisor itself did not finish"}
        if reply.pop("recycle", False):  # the run left residue: later requests get a new area
            _remove(self.workroot)
            self.workroot = Path(tempfile.mkdtemp(prefix="runs-", dir=self.root))
        return reply

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._stop()
            _remove(self.root)


class LocalBackend(Backend):
    name = "local"

    def open(self, submission: Path, limits: Limits, gpu: bool = False) -> Session:
        from grader.sandbox.gpu import host_has_gpu

        session = LocalSession(submission, limits)
        session.gpu = gpu and host_has_gpu()
        return session

    def describe(self) -> dict:
        return {"backend": self.name, "python": sys.version.split()[0],
                "isolation": "rlimits" + (", no network" if _unshare_prefix() else "")}
