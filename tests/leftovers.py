"""What a test session left running: processes and sandbox containers (tests/conftest.py).

Every process the session starts carries `PGRADER_TEST_SESSION` in its environment (set when
pytest starts and inherited by every child, also by servers that daemonise or change user, as
`epmd` and PostgreSQL do); what still runs with it when the session ends, or still descends from
pytest, was left behind. A sandbox container (label `pgrader=1`) is the session's when the
process that owns it (label `pgrader.owner`) is pytest or one of those processes; in CI, where
nothing else runs on the machine, also when its owner has died.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field

import psutil

SESSION_TAG = "PGRADER_TEST_SESSION"
GRACE_S = 5.0  # a process ending just as the session ends is given this long


def mark_session(worker: bool = False) -> None:
    """Put a new tag for this session in the environment every child inherits (an xdist
    `worker` keeps the tag of the session that started it)."""
    if not (worker and os.environ.get(SESSION_TAG)):
        os.environ[SESSION_TAG] = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _ours(proc: psutil.Process, tag: str) -> bool:
    try:
        return proc.environ().get(SESSION_TAG) == tag and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def session_processes() -> list[psutil.Process]:
    """Live processes of this session other than pytest itself: its descendants and every
    process carrying its tag."""
    me = psutil.Process()
    tag = os.environ.get(SESSION_TAG, "")
    found = {p.pid: p for p in me.children(recursive=True)}
    if tag:
        found |= {p.pid: p for p in psutil.process_iter() if p.pid != me.pid and _ours(p, tag)}
    alive = []
    for proc in found.values():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    return alive


def _describe(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline()) or proc.name()
        return f"pid {proc.pid} ({proc.username()}): {cmd[:200]}"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return f"pid {proc.pid}"


def _docker_client():
    if "docker" not in sys.modules and "grader.sandbox.docker" not in sys.modules:
        return None  # the session never used Docker
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception:  # noqa: BLE001 - no engine: no container can be left
        return None


def session_containers(pids: set[int]) -> list:
    """Sandbox containers of this session still there (owned by pytest or `pids`; in CI, also
    those whose owner is gone)."""
    client = _docker_client()
    if client is None:
        return []
    from grader.sandbox.docker import LABEL, OWNER

    mine = []
    for container in client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"{LABEL}=1"}
    ):
        owner = container.labels.get(OWNER, "")
        if not owner.isdigit():
            continue
        pid = int(owner)
        if (
            pid == os.getpid()
            or pid in pids
            or (os.environ.get("CI") and not psutil.pid_exists(pid))
        ):
            mine.append(container)
    return mine


def _shut_down_in_process() -> None:
    """Stop what this process keeps for reuse until it exits (the warm judge server, warm
    sandbox boxes, open containers): the interpreter's exit would, and it is not left behind."""
    for module, function in (
        ("grader.judge.warm", "_stop_server"),
        ("grader.sandbox.pool", "close_shared"),
        ("grader.sandbox.docker", "close_all"),
    ):
        if module in sys.modules:
            try:
                getattr(sys.modules[module], function)()
            except Exception:  # noqa: BLE001 - the check below reports what is left
                pass


@dataclass
class Leftovers:
    processes: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.processes or self.containers)


def collect_and_kill() -> Leftovers:
    """Everything this session left running, each described; all of it killed or removed."""
    _shut_down_in_process()
    procs = session_processes()
    if procs:  # give what is ending anyway a moment
        _gone, procs = psutil.wait_procs(procs, timeout=GRACE_S)
    found = Leftovers(processes=[_describe(p) for p in procs])
    containers = session_containers({p.pid for p in procs})
    found.containers = [
        f"{c.name} ({c.short_id}, {c.status}, labels {c.labels})" for c in containers
    ]
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)
    for container in containers:
        try:
            container.remove(force=True)
        except Exception:  # noqa: BLE001 - reported already
            pass
    return found
