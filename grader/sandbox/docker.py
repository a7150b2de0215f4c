"""The Docker backend: one hardened container per submission, one `docker exec` per request.

The container (image from `grader.sandbox.image`) has no network, a read-only
root, tmpfs `/tmp` and `/work`, no capabilities, memory/CPU/pids limits and runs
as uid 1000; the submission is bind-mounted read-only at `/submission`. Its
PID 1 (`/opt/init.py`) only reaps orphans. Every request runs the supervisor
with `docker exec`, pinned (`docker update --cpuset-cpus`) to the cores
`grader.sandbox.cores` gave the request. Containers carry the label `pgrader=1` and are removed on
`close()`, at interpreter exit and on SIGTERM.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket as pysocket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker
from docker.types import Ulimit
from docker.utils import socket as docker_socket

from grader.course import Limits
from grader.errors import SandboxUnavailable
from grader.procs import alive
from grader.sandbox import cores
from grader.sandbox import gpu as sandbox_gpu
from grader.sandbox import image as sandbox_image
from grader.sandbox.base import Backend, Session, encode_request, parse_reply, supervisor_limit

PYTHON = "/opt/venv/bin/python"
LABEL = "pgrader"
OWNER = "pgrader.owner"  # host pid of the grader that started the container
STUDENT = {"uid": 1000, "gid": 1000}  # the user the student's code runs as
SUPERVISOR_CAPS = ["SETUID", "SETGID", "CHOWN", "KILL"]

# What a call to the engine raises when it fails or cannot be reached (requests' connection
# errors are OSErrors and are not always wrapped in DockerException).
ENGINE_ERRORS = (docker.errors.DockerException, OSError)
RESTART_WAIT_S = 30  # how long a killed container may take to stop (a fork bomb's whole tree)

_live: set["DockerSession"] = set()
_clients: dict[int, object] = {}  # every client that started a container here (see close_all)
_live_lock = threading.Lock()
_handler_installed = False


class DockerSession(Session):
    def __init__(self, client, image_id: str, submission: Path, limits: Limits, gpu: bool = False):
        self.client, self.limits, self.gpu = client, limits, gpu
        self.closed = False
        # the cores the container is pinned to: all of ours at first, then each request's own
        self.cpuset = ",".join(map(str, cores.host_cores()))
        # A world-readable private copy: uid 1000 must read it whatever the host's modes.
        self.root = Path(tempfile.mkdtemp(prefix="pgrader-docker-"))
        self.submission = self.root / "submission"
        shutil.copytree(submission, self.submission, symlinks=True)
        for path in [self.submission, *self.submission.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
        slug = re.sub(r"[^a-zA-Z0-9_.-]", "-", Path(submission).name)[:40]
        mb = 1024 * 1024
        with _live_lock:
            _clients[id(client)] = client
        try:
            self.container = client.containers.run(
                image_id, [PYTHON, "-I", "/opt/init.py"],
                name=f"pgrader-{slug}-{uuid.uuid4().hex[:8]}",
                labels={LABEL: "1", OWNER: str(os.getpid())},
                detach=True, auto_remove=False, user="0:0",
                network_mode="none", read_only=True,
                tmpfs={"/tmp": "size=64m", "/work": f"size={limits.disk_mb}m,exec,mode=0755"},
                # Root inside only for the supervisor, with just the capabilities it needs to
                # run the student's code as STUDENT and to signal it; the student has none.
                cap_drop=["ALL"], cap_add=SUPERVISOR_CAPS, security_opt=["no-new-privileges"],
                pids_limit=limits.pids,
                mem_limit=f"{limits.memory_mb}m", memswap_limit=f"{limits.memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9), cpuset_cpus=self.cpuset,
                ulimits=[Ulimit(name="nofile", soft=256, hard=256),
                         Ulimit(name="fsize", soft=limits.disk_mb * mb, hard=limits.disk_mb * mb)],
                volumes={str(self.submission): {"bind": "/submission", "mode": "ro"}},
                **({"device_requests": sandbox_gpu.device_requests()} if gpu else {}),
            )
        except ENGINE_ERRORS as exc:
            shutil.rmtree(self.root, ignore_errors=True)
            raise SandboxUnavailable(f"could not start the sandbox container: {exc}") from exc
        with _live_lock:
            _live.add(self)

    # ------------------------------------------------------------ requests

    def call(self, request: dict) -> dict:
        if self.closed:
            return {"status": "sandbox-error", "message": "the sandbox session is closed"}
        request = {**request, "rlimit_memory": False, "rlimit_pids": False, "agent_user": STUDENT}
        argv = [PYTHON, "-I", "-m", "grader.agent.supervisor", "--submission", "/submission",
                "--workroot", "/work"]
        stdin = encode_request(request)
        limit = supervisor_limit(request)
        with cores.reserved(request) as alloc:  # waiting here counts against no timeout
            if not self._pin(alloc.cpuset):
                return {"status": "sandbox-error",
                        "message": "could not pin the sandbox container to its cores"}
            reply, again = self._attempt(argv, stdin, limit)
            if again:  # the container was broken (e.g. by leftovers of an earlier call): retry
                reply, _ = self._attempt(argv, stdin, limit)
        return reply

    def _pin(self, cpuset: str) -> bool:
        """Restrict the container (every process in it) to `cpuset`; False if Docker refused."""
        if cpuset == self.cpuset:
            return True
        try:
            self.container.update(cpuset_cpus=cpuset)
        except ENGINE_ERRORS:
            return False
        self.cpuset = cpuset
        return True

    def _attempt(self, argv: list[str], stdin: bytes, limit: float) -> tuple[dict, bool]:
        """(reply, whether a retry makes sense) for one run of the supervisor."""
        since = time.time()
        try:
            done, out, err, code = self._exec(argv, stdin, limit)
        except ENGINE_ERRORS as exc:
            restarted = self._restart()  # the container is gone or wedged
            return {"status": "sandbox-error", "message": f"docker exec failed: {exc}"}, restarted
        if not done:
            self._restart()
            return {"status": "sandbox-error",
                    "message": f"the supervisor itself did not finish within {limit:.0f} s"}, False
        reply = parse_reply(out, code)
        if reply["status"] == "sandbox-error":
            reply["detail"] = (reply.get("detail", "") + err.decode("utf-8", "replace"))[-4000:]
        if reply.pop("recycle", False):  # the work area is full or dirty: a fresh one
            restarted = self._restart()
            return reply, reply["status"] == "sandbox-error" and restarted
        if reply["status"] in ("crashed", "timeout", "sandbox-error") or reply.get("leftover_processes"):
            self._aftercare(reply, since)
        return reply, reply["status"] == "sandbox-error"

    def _exec(self, argv: list[str], stdin: bytes, limit: float):
        """(finished, stdout, stderr, exit code) of `argv` run in the container with `stdin` as
        its standard input, waiting `limit` s."""
        api = self.client.api
        exec_id = api.exec_create(self.container.id, argv, user="0:0", stdin=True)["Id"]
        box: dict = {}

        def work():
            try:
                sock = api.exec_start(exec_id, socket=True)
                raw = getattr(sock, "_sock", sock)
                raw.sendall(stdin)
                raw.shutdown(pysocket.SHUT_WR)
                frames = docker_socket.frames_iter(sock, tty=False)
                box["out"] = docker_socket.consume_socket_output(
                    (docker_socket.demux_adaptor(*f) for f in frames), demux=True)
                sock.close()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box["error"] = exc

        worker = threading.Thread(target=work, daemon=True, name="pgrader-exec")
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            return False, b"", b"", None
        if "error" in box:
            raise box["error"]
        out, err = box["out"]
        code = api.exec_inspect(exec_id).get("ExitCode")
        return True, out or b"", err or b"", code

    def _aftercare(self, reply: dict, since: float) -> None:
        """After a bad run: note an OOM kill, and leave a clean container for the next call."""
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
                return
            # Kill whatever the student left behind (PID 1 and the killer itself survive kill -1).
            api = self.client.api
            exec_id = api.exec_create(self.container.id, ["/bin/sh", "-c", "kill -9 -1"],
                                      user="1000:1000")["Id"]
            api.exec_start(exec_id)
            if api.exec_inspect(exec_id).get("ExitCode") not in (0, 1):
                self._restart()
        except ENGINE_ERRORS:
            self._restart()

    def _oom_event(self, since: float) -> bool:
        return any(self.client.api.events(
            since=f"{since:.9f}", until=f"{time.time():.9f}", decode=True,
            filters={"container": self.container.id, "event": "oom"}))

    def _restart(self) -> bool:
        """Kill and start the container again (fresh /work and /tmp); False if that failed.

        Docker's kill only sends the signal: starting before the container has stopped is a
        no-op on the running one (its leftovers stay), so we wait for the stop first."""
        try:
            self.container.kill()
        except ENGINE_ERRORS:
            pass
        try:
            self.container.wait(timeout=RESTART_WAIT_S)
            self.container.start()
            return True
        except ENGINE_ERRORS:
            return False

    # ------------------------------------------------------------ teardown

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with _live_lock:
            _live.discard(self)
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - closing never raises
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, client=None, log=print):
        try:
            self.client = client or docker.from_env()
            self.client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
            raise SandboxUnavailable(
                f"the Docker engine does not answer ({exc}); start it "
                "(scripts/setup-docker.sh) or use the local backend") from exc
        self.log = log
        self.tag = sandbox_image.image_tag()
        _install_signal_handler()
        self._image_id: str | None = None
        self._lock = threading.Lock()

    @property
    def image_id(self) -> str:
        with self._lock:
            if self._image_id is None:
                self._image_id = sandbox_image.ensure_image(self.client, log=self.log)
            return self._image_id

    def open(self, submission: Path, limits: Limits, gpu: bool = False) -> Session:
        image_id = self.image_id
        gpu = gpu and sandbox_gpu.host_has_gpu()
        if gpu:  # ONLY EXERCISED ON GPU HOSTS: the CUDA variant of the image, GPUs passed in
            image_id = sandbox_gpu.ensure_gpu_image(self.client, self.tag, log=self.log)
        _install_signal_handler()
        return DockerSession(self.client, image_id, Path(submission).resolve(), limits, gpu)

    def describe(self) -> dict:
        return {"backend": self.name, "image": self.tag, "image_id": self.image_id}


# ---------------------------------------------------------------- leftovers

def close_all() -> None:
    """Remove every container this process still has open, and any it started but was
    interrupted before it could track (Ctrl-C in the middle of creating one)."""
    with _live_lock:
        sessions = list(_live)
        clients = {id(s.client): s.client for s in sessions} | _clients
    for session in sessions:
        session.close()
    for client in clients.values():
        try:
            for container in client.containers.list(
                    all=True, filters={"label": [f"{LABEL}=1", f"{OWNER}={os.getpid()}"]}):
                container.remove(force=True)
        except Exception:  # noqa: BLE001 - best effort at exit; stale sweeps catch the rest
            pass


def remove_stale_containers(client) -> int:
    """Remove `pgrader=1` containers left by graders that are no longer running; returns how many."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
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
