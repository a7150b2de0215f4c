"""The local backend: each request in a subprocess, in a fresh temporary directory, with rlimits,
pinned to the cores `grader.sandbox.cores` gave it.

A convenience for students (`grader check`) and machines without Docker. It is
NOT a security boundary: the student's code runs as the grader's user. Where
the kernel allows it, the network is cut off with `unshare --net`.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.course import Limits
from grader.sandbox import cores
from grader.sandbox.base import Backend, Session, encode_request, parse_reply, supervisor_limit



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
    def __init__(self, submission: Path, limits: Limits):
        self.limits = limits
        self.root = Path(tempfile.mkdtemp(prefix="pgrader-local-"))
        self.submission = self.root / "submission"
        shutil.copytree(submission, self.submission, symlinks=True)
        self.workroot = self.root / "runs"
        self.workroot.mkdir()
        self.closed = False

    def call(self, request: dict) -> dict:
        # CUDA reserves far more address space than it uses (unified addressing): a cap on the
        # address space makes creating a context fail, so a GPU session is not given one.
        gpu = getattr(self, "gpu", False)
        request = {**request, "rlimit_memory": not gpu, "rlimit_pids": True}
        argv = [*_unshare_prefix(), sys.executable, "-I", "-m", "grader.agent.supervisor",
                "--submission", str(self.submission), "--workroot", str(self.workroot)]
        with cores.reserved(request) as alloc:  # waiting here counts against no timeout
            pinned = set(alloc.cores)
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=lambda: os.sched_setaffinity(0, pinned))
            try:
                out, err = proc.communicate(encode_request(request),
                                            timeout=supervisor_limit(request))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                return {"status": "sandbox-error", "message": "the supervisor itself did not finish"}
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)  # interrupted: leave nothing running
                proc.wait()
                raise
        reply = parse_reply(out, proc.returncode)
        if reply["status"] == "sandbox-error":
            reply["detail"] = (reply.get("detail", "") + err.decode("utf-8", "replace"))[-4000:]
        if reply.pop("recycle", False):  # the run left residue: later requests get a new area
            _remove(self.workroot)
            self.workroot = Path(tempfile.mkdtemp(prefix="runs-", dir=self.root))
        return reply

    def close(self) -> None:
        if not self.closed:
            self.closed = True
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
