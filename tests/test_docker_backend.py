"""The Docker backend against a real engine (skipped when none answers)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import call_function
from grader.agent import codec
from grader.course import Limits

docker = pytest.importorskip("docker")
from grader.sandbox.docker import remove_stale_containers  # noqa: E402

pytestmark = pytest.mark.docker

SOLUTION = """
import os, time

def add(a, b):
    return a + b

def hang():
    time.sleep(100)
"""


@pytest.fixture(scope="module")
def backend(docker_backend):
    return docker_backend


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    path = tmp_path_factory.mktemp("sub")
    (path / "solution.py").write_text(SOLUTION)
    return path


@pytest.fixture(scope="module")
def session(backend, submission):
    with backend.open(submission, Limits()) as s:
        yield s


def call(session, function, *args, timeout=10, **extra):
    return call_function(session, function, *args, timeout=timeout, **extra)


def run(session, source, timeout=10, **extra):
    source = textwrap.dedent(source)
    name = source.split("def ", 1)[1].split("(", 1)[0]
    return session.call(
        {
            "kind": "run",
            "module": "solution",
            "timeout": timeout,
            "probe": {"source": source, "name": name},
            **extra,
        }
    )


def labelled(client):
    return {
        c.id
        for c in client.containers.list(
            all=True, ignore_removed=True, filters={"label": "pgrader=1"}
        )
    }


def test_describe(backend):
    info = backend.describe()
    assert info["backend"] == "docker" and info["image"].startswith("pgrader-sandbox:")
    assert info["image_id"].startswith("sha256:")


def test_call_returns_value(session):
    reply = call(session, "add", 2, 40)
    assert reply["status"] == "ok", reply
    assert reply["value"] == 42


def test_hang_times_out_with_stacks(session):
    reply = call(session, "hang", timeout=2)
    assert reply["status"] == "timeout", reply
    assert reply["stall_cpu_ratio"] is not None and reply["stall_cpu_ratio"] < 0.2
    frames = [f for p in reply["stacks"] for t in p["threads"] for f in t["frames"]]
    assert any(f["name"] == "hang" for f in frames), reply["stacks"]
    assert call(session, "add", 1, 1)["value"] == 2


def test_no_network(session):
    reply = run(
        session,
        """
        def probe(module):
            import socket
            s = socket.socket()
            s.settimeout(3)
            try:
                s.connect(("1.1.1.1", 80))
            except OSError as exc:
                return "refused: " + type(exc).__name__
            return "connected"
    """,
    )
    assert reply["status"] == "ok", reply
    assert reply["value"].startswith("refused"), reply


def test_read_only_root_and_user(session):
    reply = run(
        session,
        """
        def probe(module):
            import errno, os
            out = {"uid": os.getuid(), "gid": os.getgid(), "cwd_writable": os.access(".", os.W_OK)}
            for path in ("/home/student/probe", "/opt/venv/probe", "/submission/probe"):
                try:
                    open(path, "w").close()
                    out[path] = "written"
                except OSError as exc:
                    out[path] = errno.errorcode[exc.errno]
            with open("/proc/self/mountinfo") as info:
                out["mounts"] = {f[4]: f[5].split(",")[0] for f in (line.split() for line in info)}
            return out
    """,
    )
    assert reply["status"] == "ok", reply
    value = codec.decode(reply["value"])
    assert value["uid"] == 1000 and value["gid"] == 1000
    assert value["cwd_writable"] is True  # the work copy on the /work tmpfs
    # /home/student belongs to uid 1000: only the read-only root stops the write.
    assert value["/home/student/probe"] == "EROFS"
    # The hand-in is a read-only bind mount of a folder the student does not own.
    assert value["/submission/probe"] in ("EROFS", "EACCES")
    assert value["mounts"]["/submission"] == "ro" and value["mounts"]["/"] == "ro"
    assert value["/opt/venv/probe"] in ("EROFS", "EACCES")


def test_mpi_allreduce(session):
    reply = run(
        session,
        """
        def probe(module):
            from mpi4py import MPI
            comm = MPI.COMM_WORLD
            return [comm.Get_size(), comm.allreduce(comm.Get_rank())]
    """,
        timeout=30,
        ranks=4,
    )
    assert reply["status"] == "ok", reply
    assert reply["value"] == [[4, 6]] * 4


def test_fork_bomb_is_contained(backend, submission):
    # A small pids limit keeps this quick: the supervisor's clean-up slows down with every process.
    with backend.open(submission, Limits(pids=64)) as s:
        reply = run(
            s,
            """
            def probe(module):
                import os
                while True:
                    try:
                        os.fork()
                    except OSError:
                        pass
        """,
            timeout=3,
        )
        assert reply["status"] in ("timeout", "crashed"), reply
        after = call(s, "add", 3, 4)
        assert after["status"] == "ok", after
        assert after["value"] == 7


def test_memory_bomb(backend, submission):
    with backend.open(submission, Limits(memory_mb=256)) as s:
        reply = run(
            s,
            """
            def probe(module):
                chunks = []
                while True:
                    chunks.append(bytearray(10 * 1024 * 1024))
        """,
            timeout=20,
        )
        assert reply.get("oom") is True or reply["status"] == "crashed", reply
        if reply.get("signal") == "SIGKILL":
            assert reply.get("oom") is True, reply  # the kernel's OOM killer, seen by Docker
        assert call(s, "add", 1, 2)["value"] == 3


def test_supervisor_overrun_restarts_the_container(backend, submission, monkeypatch):
    import grader.sandbox.docker as mod

    limit = mod.supervisor_limit
    monkeypatch.setattr(
        mod, "supervisor_limit", lambda request: 2.0
    )  # fires before the supervisor's
    with backend.open(submission, Limits()) as s:
        reply = call(s, "hang", timeout=4)
        assert reply["status"] == "sandbox-error", reply
        monkeypatch.setattr(mod, "supervisor_limit", limit)
        assert call(s, "add", 5, 5)["value"] == 10


def test_close_removes_the_container(backend, submission):
    client = backend.client
    s = backend.open(submission, Limits())
    cid = s.container.id
    assert cid in labelled(client)
    assert call(s, "add", 1, 1)["status"] == "ok"
    s.close()
    s.close()  # idempotent
    assert cid not in labelled(client)
    assert s.call({"kind": "call"})["status"] == "sandbox-error"


CHILD = """
import sys, time
from pathlib import Path
from grader.course import Limits
from grader.sandbox.docker import DockerBackend
s = DockerBackend(log=lambda *a: None).open(Path(sys.argv[1]), Limits())
print(s.container.id, flush=True)
time.sleep(60)
"""


def _child(submission):
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(submission)], stdout=subprocess.PIPE, text=True
    )
    return proc, proc.stdout.readline().strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_grader_leaves_no_container(backend, submission, sig):
    proc, cid = _child(submission)
    assert cid in labelled(backend.client)
    proc.send_signal(sig)
    proc.wait(30)
    assert cid not in labelled(backend.client)


def test_remove_stale_containers(backend, submission):
    proc, cid = _child(submission)
    proc.kill()  # SIGKILL: no chance to clean up
    proc.wait(30)
    assert cid in labelled(backend.client)
    assert remove_stale_containers(backend.client) >= 1
    assert cid not in labelled(backend.client)


def test_not_root_is_told_plainly_and_auto_falls_back_to_local(monkeypatch, capsys):
    """Run as another user, the Docker backend cannot work (its supervisor cannot create its
    socket in the grader's folder): a clear error, and `auto` picks the local backend saying why."""
    import os

    from grader.errors import SandboxUnavailable
    from grader.sandbox import NOT_ROOT, resolve_backend_name
    from grader.sandbox.docker import DockerBackend

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxUnavailable) as caught:
        DockerBackend()
    assert str(caught.value) == NOT_ROOT
    assert resolve_backend_name("auto") == "local"
    assert "needs the grader to run as root" in capsys.readouterr().err
