"""A private `redis-server` (or RabbitMQ node) and `grader worker` processes on this machine
(tests, benchmarks: `scripts/` put tests/ on sys.path).

    with redis_server(tmp) as redis, worker(course_root, redis.url, name="w1"):
        grade_distributed(course, exercise, entries, out, store, settings=Settings(redis.url))

Each server is stopped with every process it started, also when it failed to start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import redis

TAG = "PGRADER_TEST_SERVER"  # in the environment of every process of a server started here
# (a RabbitMQ node, a PostgreSQL cluster): how stop() finds them


def tagged(name: str, value: str) -> list[psutil.Process]:
    """Live processes (not zombies) whose environment has `name`=`value`, and their descendants
    (a server that rewrites its process title, as PostgreSQL's do, hides its children's)."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(name) == value:
                for each in (proc, *proc.children(recursive=True)):
                    if each.status() != psutil.STATUS_ZOMBIE:
                        found[each.pid] = each
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return list(found.values())


def kill_and_wait(procs: list[psutil.Process], timeout: float = 10.0) -> list[psutil.Process]:
    """SIGKILL `procs` and wait for them; returns those still alive after `timeout`."""
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server on 127.0.0.1:`port`, data in `folder` (append-only file if `persist`)."""

    def __init__(self, folder: Path, port: int | None = None, persist: bool = False):
        self.folder, self.port, self.persist = Path(folder), port or free_port(), persist
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.persist else "no",
            "--dir",
            str(self.folder),
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.folder / "redis.log"),
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1
        )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with {self.proc.returncode}: "
                        + (self.folder / "redis.log").read_text()[-2000:]
                    )
                try:
                    if client.ping():
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    pass  # not listening yet, or still loading its append-only file
                time.sleep(0.05)
            raise RuntimeError(
                f"redis-server did not answer on port {self.port} within {timeout} s"
            )
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        finally:
            client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class RabbitServer:
    """A private RabbitMQ node (Debian's `rabbitmq-server`) on 127.0.0.1:`port`, its data and
    logs in a new folder under /tmp (the node runs as the rabbitmq user, which must reach it;
    removed by `stop`); the default `guest` user may connect from this machine only.

    The node registers with an `epmd` of its own (on a free port), so that `stop` can end it
    without touching another node's. Debian's wrapper starts the node through `su`, in a new
    session, and `epmd` daemonises: neither is in the wrapper's process group, so every process
    of the node is found by a variable in its environment (`su` keeps it) and killed."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="pgrader-rabbitmq-"))
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.node = f"pgrader{self.port}@localhost"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 120.0) -> None:
        (self.folder / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:  # Debian's wrapper runs the node as the rabbitmq user
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(self.folder)], check=True)
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            TAG: self.node,
        }
        with (self.folder / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                ["rabbitmq-server"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"rabbitmq-server exited with {self.proc.returncode}: "
                        + (self.folder / "server.log").read_text()[-2000:]
                    )
                if b"Starting broker... completed" in (self.folder / "server.log").read_bytes():
                    return
                time.sleep(0.1)
            raise RuntimeError(f"rabbitmq-server did not start within {timeout} s")
        except BaseException:
            self.stop()
            raise

    def processes(self) -> list[psutil.Process]:
        """The node's processes still alive: its Erlang VM, their helpers, its epmd."""
        return tagged(TAG, self.node)

    def stop(self) -> None:
        """SIGKILL the node and everything it started (its Erlang VM and its epmd)."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None
        kill_and_wait(self.processes())
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def redis_server(folder: Path, persist: bool = False) -> Iterator[RedisServer]:
    server = RedisServer(folder, persist=persist)
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


class WorkerProcess:
    """`grader worker` in its own session (so it can be killed with all its processes)."""

    def __init__(
        self,
        course_root: Path,
        broker: str,
        *,
        name: str,
        queues: str = "cpu,mpi",
        concurrency: int = 1,
        backend: str = "local",
        log_dir: Path | None = None,
        env: dict | None = None,
    ):
        self.name = name
        self.log = Path(log_dir or course_root) / f"worker-{name}.log"
        argv = [
            sys.executable,
            "-m",
            "grader",
            "--course",
            str(course_root),
            "worker",
            "--queues",
            queues,
            "--broker",
            broker,
            "--concurrency",
            str(concurrency),
            "--backend",
            backend,
            "--name",
            f"{name}@%h",
            "--loglevel",
            "INFO",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 120.0) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.text():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"worker {self.name} exited ({self.proc.returncode}):\n" + self.text()[-3000:]
                )
            time.sleep(0.1)
        raise RuntimeError(
            f"worker {self.name} not ready within {timeout} s:\n" + self.text()[-3000:]
        )

    def kill_all(self) -> None:
        """SIGKILL the worker and every process it started (a machine lost), also those in
        sessions of their own (the local backend's supervisors)."""
        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        kill_and_wait(descendants)

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (SIGTERM); SIGKILL whatever is left after `timeout`."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_all()


@contextmanager
def worker(course_root: Path, broker: str, **options) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(course_root, broker, **options).wait_ready()
    try:
        yield proc
    finally:
        proc.stop()
