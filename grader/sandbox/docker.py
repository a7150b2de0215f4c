"""The Docker backend: one hardened container per submission, one supervisor server in each.

The container (image from `grader.sandbox.image`) has no network, a read-only root, tmpfs
`/tmp` and `/work`, no capabilities but the few its supervisor needs, memory/CPU/pids limits;
the student's code runs as uid 1000. Its PID 1 is the supervisor server
(`grader.agent.server`), listening on a Unix socket in `/run/pgrader`, a private folder of the
host's bound into the container (only root enters it there; the socket is the host user's,
mode 0600): the host sends each request over that socket, with no `docker exec`. The
submission is copied into a host folder bound read-only at `/submission` when the container is
given to it, so that containers can be started ahead of time (`WarmPool`) and each is still
used for exactly one submission. Requests are pinned (`docker update --cpuset-cpus`) to the
cores `grader.sandbox.cores` gave them. Containers carry the label `pgrader=1` and are removed
on `close()`, at interpreter exit and on SIGTERM.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import docker
from docker.types import Ulimit

from grader.course import Limits
from grader.errors import SandboxUnavailable
from grader.procs import alive
from grader.protocol import Status
from grader.sandbox import cores
from grader.sandbox import gpu as sandbox_gpu
from grader.sandbox import image as sandbox_image
from grader.sandbox.base import (
    NOT_ROOT,
    Backend,
    ServerLink,
    Session,
    remove_tree,
    supervisor_limit,
)

PYTHON = "/opt/venv/bin/python"
LABEL = "pgrader"
OWNER = "pgrader.owner"  # host pid of the grader that started the container
STUDENT = {"uid": 1000, "gid": 1000}  # the user the student's code runs as
# The supervisor (root) only: SYS_PTRACE lets it read the system call each of the student's
# threads waits in (/proc/PID/task/TID/syscall; the agent is not dumpable), which is how it
# proves a deadlock at once (grader.agent.stuck). The student's uid gets no capability.
SUPERVISOR_CAPS = ["SETUID", "SETGID", "CHOWN", "KILL", "SYS_PTRACE"]
CTL = "/run/pgrader"  # the server's folder in the container
SOCKET = "supervisor.sock"

# What a call to the engine raises when it fails or cannot be reached (requests' connection
# errors are OSErrors and are not always wrapped in DockerException).
ENGINE_ERRORS = (docker.errors.DockerException, OSError)
RESTART_WAIT_S = 30  # how long a killed container may take to stop (a fork bomb's whole tree)
SERVER_WAIT_S = 60  # how long a started container's server may take to listen (a loaded host)

_live: set[Box] = set()
_clients: dict[int, object] = {}  # every client that started a container here (see close_all)
_live_lock = threading.Lock()
_handler_installed = False


class Box:
    """One started sandbox container and its private host folders: `submission/` (bound
    read-only; empty until the box is given to a submission) and `ctl/` (the server's socket).
    """

    def __init__(
        self, client, image_id: str, limits: Limits, gpu: bool = False, preload: tuple = ()
    ):
        """`preload`: the optional libraries its template imports (grader.sandbox.preload)."""
        if os.getuid() == STUDENT["uid"]:
            raise SandboxUnavailable(
                f"the grader runs as uid {STUDENT['uid']}, the uid the sandbox gives the "
                "student's code: the student would own the supervisor's socket. Run the "
                "grader as another user (or root)."
            )
        self.client, self.image_id, self.limits, self.gpu = client, image_id, limits, gpu
        self.root = Path(tempfile.mkdtemp(prefix="pgrader-docker-"))
        self.submission = self.root / "submission"
        self.submission.mkdir(mode=0o755)
        self.submission.chmod(0o755)  # uid 1000 reads it whatever the host's umask
        self.ctl = self.root / "ctl"
        self.ctl.mkdir()
        self.ctl.chmod(0o711)  # the container's root (no DAC override) enters, nobody lists
        self.root.chmod(0o711)
        self.socket_path = self.ctl / SOCKET
        self.cpuset: str | None = ",".join(map(str, cores.host_cores()))  # all of ours at first
        self.handed = False  # given to a submission
        mb = 1024 * 1024
        with _live_lock:
            _clients[id(client)] = client
        name = f"pgrader-{uuid.uuid4().hex[:12]}"
        try:
            self.container = client.containers.run(
                image_id,
                [
                    PYTHON,
                    "-I",
                    "-m",
                    "grader.agent.server",
                    "--socket",
                    f"{CTL}/{SOCKET}",
                    "--owner",
                    f"{os.getuid()}:{os.getgid()}",
                    "--submission",
                    "/submission",
                    "--workroot",
                    "/work",
                    *(["--preload", ",".join(preload)] if preload else []),
                ],
                name=name,
                labels={LABEL: "1", OWNER: str(os.getpid())},
                detach=True,
                auto_remove=False,
                user="0:0",
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": "size=64m", "/work": f"size={limits.disk_mb}m,exec,mode=0755"},
                # Root inside only for the supervisor, with just the capabilities it needs to
                # run the student's code as STUDENT and to signal it; the student has none.
                cap_drop=["ALL"],
                cap_add=SUPERVISOR_CAPS,
                security_opt=["no-new-privileges"],
                pids_limit=limits.pids,
                mem_limit=f"{limits.memory_mb}m",
                memswap_limit=f"{limits.memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9),
                cpuset_cpus=self.cpuset,
                ulimits=[
                    Ulimit(name="nofile", soft=256, hard=256),
                    Ulimit(name="fsize", soft=limits.disk_mb * mb, hard=limits.disk_mb * mb),
                ],
                volumes={
                    str(self.submission): {"bind": "/submission", "mode": "ro"},
                    str(self.ctl): {"bind": CTL, "mode": "rw"},
                },
                **({"device_requests": sandbox_gpu.device_requests()} if gpu else {}),
            )
        except ENGINE_ERRORS as exc:
            try:  # created but not started (the engine went away in between): not left behind
                client.containers.get(name).remove(force=True)
            except ENGINE_ERRORS:
                pass  # the stale sweep (`remove_stale_containers`) removes it later
            remove_tree(self.root)
            raise SandboxUnavailable(f"could not start the sandbox container: {exc}") from exc
        with _live_lock:
            _live.add(self)
        self.closed = False

    def describe(self) -> dict:
        """What another process needs to use this box (`Box.attach`): the judge's test run is
        handed a box its grading process started ahead of time (`grader.sandbox.pool`)."""
        return {
            "container": self.container.id,
            "root": str(self.root),
            "image_id": self.image_id,
            "limits": asdict(self.limits),
            "gpu": self.gpu,
            "cpuset": self.cpuset,
            "api_version": self.client.api.api_version,  # the run's client asks no engine
        }

    @classmethod
    def attach(cls, client, described: dict) -> Box:
        """A handle on a box another process started (and will remove)."""
        box = cls.__new__(cls)
        box.client, box.image_id = client, described["image_id"]
        box.limits, box.gpu = Limits(**described["limits"]), bool(described["gpu"])
        box.root = Path(described["root"])
        box.submission, box.ctl = box.root / "submission", box.root / "ctl"
        box.socket_path = box.ctl / SOCKET
        box.cpuset, box.handed, box.closed = described["cpuset"], False, False
        box.container = client.containers.prepare_model({"Id": described["container"]})
        return box  # not in _clients: its starter's pid labels it, and its starter removes it

    def connect(self, wait: float = SERVER_WAIT_S) -> ServerLink | None:
        """A link to the container's server once it listens (None if it does not in time)."""
        deadline = time.monotonic() + wait
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.socket_path))
                return ServerLink(sock)
            except OSError:
                sock.close()
            if time.monotonic() > deadline:
                return None
            time.sleep(0.005)

    def restart(self) -> bool:
        """Kill and start the container again (fresh /work and /tmp, a fresh server); False if
        that failed. Docker's kill only sends the signal: starting before the container has
        stopped is a no-op on the running one (its leftovers stay), so we wait for the stop."""
        try:
            self.container.kill()
        except ENGINE_ERRORS:
            pass
        try:
            self.container.wait(timeout=RESTART_WAIT_S)
            if self.socket_path.exists():
                self.socket_path.unlink()  # the dead server's: connecting waits for the new one
            self.container.start()
            self.cpuset = None  # unknown until pinned again
            return True
        except ENGINE_ERRORS:
            return False

    def remove(self) -> None:
        if self.closed:
            return
        self.closed = True
        with _live_lock:
            _live.discard(self)
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - closing never raises
            pass
        remove_tree(self.root)


def _give(box: Box, submission: Path) -> None:
    """Copy the prepared submission into the box's read-only folder, world-readable (uid 1000
    must read it whatever the host's modes)."""
    shutil.copytree(submission, box.submission, symlinks=True, dirs_exist_ok=True)
    for path in box.submission.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    box.handed = True


class DockerSession(Session):
    """One submission's requests, in a box of its own."""

    def __init__(self, box: Box, submission: Path, remove_on_close: bool = True):
        self.box, self.client, self.limits, self.gpu = box, box.client, box.limits, box.gpu
        self.remove_on_close = remove_on_close  # else whoever handed us the box removes it
        self.closed = False
        self.link: ServerLink | None = None
        _give(box, submission)

    @property
    def container(self):
        return self.box.container

    # ------------------------------------------------------------ requests

    def call(self, request: dict) -> dict:
        if self.closed:
            return {"status": Status.SANDBOX_ERROR, "message": "the sandbox session is closed"}
        request = {**request, "rlimit_memory": False, "rlimit_pids": False, "agent_user": STUDENT}
        limit = supervisor_limit(request)
        with cores.reserved(request) as alloc:  # waiting here counts against no timeout
            if not self._pin(alloc.cpuset):
                return {
                    "status": Status.SANDBOX_ERROR,
                    "message": "could not pin the sandbox container to its cores",
                }
            reply, again = self._attempt(request, limit)
            if again:  # the container was broken (e.g. by leftovers of an earlier call): retry
                if self._pin(alloc.cpuset):
                    reply, _ = self._attempt(request, limit)
        return reply

    def _pin(self, cpuset: str) -> bool:
        """Restrict the container (every process in it) to `cpuset`; False if Docker refused."""
        if cpuset == self.box.cpuset:
            return True
        try:
            self.container.update(cpuset_cpus=cpuset)
        except ENGINE_ERRORS:
            return False
        self.box.cpuset = cpuset
        return True

    def _attempt(self, request: dict, limit: float) -> tuple[dict, bool]:
        """(reply, whether a retry makes sense) for one request."""
        since = time.time()
        if self.link is None:
            self.link = self.box.connect()
            if self.link is None:
                restarted = self._restart()
                return {
                    "status": Status.SANDBOX_ERROR,
                    "message": "the sandbox's supervisor does not answer",
                }, restarted
        reply = self.link.call(request, limit)
        if reply is None:
            oom = self._ran_out_of_memory(since)
            self._restart()
            if oom:  # the kernel killed the supervisor (or the template) for the student's memory
                return {
                    "status": Status.CRASHED,
                    "oom": True,
                    "stdout": "",
                    "stderr": "",
                    "limits": {"memory_mb": self.limits.memory_mb},
                    "message": "the sandbox ran out of memory (the student's processes, or "
                    "the grader reading what they produced, used it all)",
                }, False
            return {
                "status": Status.SANDBOX_ERROR,
                "message": f"the supervisor itself did not finish within {limit:.0f} s",
            }, False
        if reply.pop("recycle", False):  # the work area is full or dirty: a fresh one
            restarted = self._restart()
            return reply, reply["status"] == Status.SANDBOX_ERROR and restarted
        if reply["status"] in (Status.CRASHED, Status.TIMEOUT, Status.SANDBOX_ERROR):
            self._aftercare(reply, since)
        return reply, reply["status"] == Status.SANDBOX_ERROR

    def _aftercare(self, reply: dict, since: float) -> None:
        """After a bad run: note an OOM kill, and restart a container that died. (What the
        student left running, the supervisor has already killed, as the student's uid.)"""
        try:
            self.container.reload()
            state = self.container.attrs["State"]
            # Docker 20.10 sets OOMKilled only when the whole container dies; an OOM kill
            # inside a live container shows up as an "oom" event.
            oom = state.get("OOMKilled") or self._oom_event(since)
            if not oom and reply.get("signal") == "SIGKILL":
                time.sleep(0.1)  # the event may still be on its way
                oom = self._oom_event(since)
            if oom:
                reply["oom"] = True
                reply.setdefault("limits", {"memory_mb": self.limits.memory_mb})
            if not state.get("Running") or state.get("OOMKilled"):
                self._restart()
        except ENGINE_ERRORS:
            self._restart()

    def _ran_out_of_memory(self, since: float) -> bool:
        """Whether the container's memory cgroup ran out since `since` (when a request got no
        reply). The cgroup is this submission's alone: whichever process the OOM killer took --
        the student's, the template, or the supervisor itself parsing a huge result -- the
        student's processes used the memory, so it is the student's crash, not the platform's."""
        for wait in (0.0, 0.2, 0.5):  # the event may still be on its way
            time.sleep(wait)
            try:
                self.container.reload()
                if self.container.attrs["State"].get("OOMKilled") or self._oom_event(since):
                    return True
            except ENGINE_ERRORS:
                return False
        return False

    def _oom_event(self, since: float) -> bool:
        return any(
            self.client.api.events(
                since=f"{since:.9f}",
                until=f"{time.time():.9f}",
                decode=True,
                filters={"container": self.container.id, "event": "oom"},
            )
        )

    def _restart(self) -> bool:
        if self.link is not None:
            self.link.close()
            self.link = None
        return self.box.restart()

    # ------------------------------------------------------------ teardown

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.remove_on_close:
            self.box.remove()


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, client=None, log=print, ping: bool = True, api_version: str | None = None):
        """`ping` False and `api_version` (the engine's, known to whoever started the box this
        run is handed): the client is made without a request to the engine."""
        if os.geteuid() != 0:
            raise SandboxUnavailable(NOT_ROOT)
        try:
            self.client = client or docker.from_env(version=api_version)
            if ping:  # skipped by a test run handed a started box: its process pinged
                self.client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
            raise SandboxUnavailable(
                f"the Docker engine does not answer ({exc}); start it "
                "(scripts/setup-docker.sh) or use the local backend"
            ) from exc
        self.log = log
        _install_signal_handler()
        self._image_id: str | None = None
        self._tag: str | None = None
        self._lock = threading.Lock()

    @property
    def tag(self) -> str:
        if self._tag is None:
            self._tag = sandbox_image.image_tag()  # hashes the image's sources: once, when needed
        return self._tag

    @property
    def image_id(self) -> str:
        with self._lock:
            if self._image_id is None:
                self._image_id = sandbox_image.ensure_image(self.client, log=self.log)
            return self._image_id

    def open(
        self, submission: Path, limits: Limits, gpu: bool = False, box: dict | None = None
    ) -> Session:
        """A session in a new box, or in `box` (`Box.describe()` of one started ahead of time by
        the grading process, which removes it after the run)."""
        if box is not None:
            return DockerSession(
                Box.attach(self.client, box), Path(submission).resolve(), remove_on_close=False
            )
        image_id = self.image_id
        gpu = gpu and sandbox_gpu.host_has_gpu()
        if gpu:  # ONLY EXERCISED ON GPU HOSTS: the CUDA variant of the image, GPUs passed in
            image_id = sandbox_gpu.ensure_gpu_image(self.client, self.tag, log=self.log)
        _install_signal_handler()
        return DockerSession(Box(self.client, image_id, limits, gpu), Path(submission).resolve())

    def describe(self) -> dict:
        return {"backend": self.name, "image": self.tag, "image_id": self.image_id}


# ---------------------------------------------------------------- leftovers


def close_all() -> None:
    """Remove every container this process still has open, and any it started but was
    interrupted before it could track (Ctrl-C in the middle of creating one)."""
    with _live_lock:
        boxes = list(_live)
        clients = {id(b.client): b.client for b in boxes} | _clients
    for box in boxes:
        box.remove()
    for client in clients.values():
        try:
            for container in client.containers.list(
                all=True,
                ignore_removed=True,
                filters={"label": [f"{LABEL}=1", f"{OWNER}={os.getpid()}"]},
            ):
                container.remove(force=True)
        except Exception:  # noqa: BLE001 - best effort at exit; stale sweeps catch the rest
            pass


def remove_stale_containers(client) -> int:
    """Remove `pgrader=1` containers left by graders that are no longer running; returns how many."""
    removed = 0
    for container in client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"{LABEL}=1"}
    ):
        owner = container.labels.get(OWNER, "")
        if owner.isdigit() and int(owner) != os.getpid() and alive(int(owner)):
            continue  # another grader on this host is using it
        try:
            container.remove(force=True)
            removed += 1
        except ENGINE_ERRORS:
            pass
    return removed


def _on_sigterm(signum, frame, previous=None):
    close_all()
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_signal_handler() -> None:
    global _handler_installed
    if _handler_installed or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda s, f: _on_sigterm(s, f, previous))
    _handler_installed = True


atexit.register(close_all)
