"""Which host cores a sandbox request may use, agreed between every grader process on the host.

Requests come from many pytest subprocesses at once (one per submission being graded), so the
allocation lives in the kernel: one lock file per core in a run-time folder, taken with
`fcntl.flock` (released by the kernel when a holder dies, even by SIGKILL).

- a request that measures time or parallelism (`"exclusive_cores": n`) holds n cores
  exclusively (LOCK_EX): no other request runs on them while it runs;
- an MPI request (`"ranks": r`) holds min(r, cores) cores exclusively, one slot per rank;
- every other request shares (LOCK_SH) all the cores nobody holds exclusively, and packs onto them.

Fairness: a request after exclusive cores takes the `gate` lock exclusively while it gathers
them, so new shared requests queue behind it instead of starving it; shared requests never
wait while holding a core. The request is pinned to the cores it got (see the backends).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

POLL = 0.05  # seconds between attempts while every wanted core is taken


def host_cores() -> list[int]:
    """The cores this process may run on, in order."""
    return sorted(os.sched_getaffinity(0))


def runtime_dir() -> Path:
    """The folder of the lock files: $PGRADER_CORES_DIR, else one per user under the temp dir."""
    folder = Path(
        os.environ.get("PGRADER_CORES_DIR")
        or Path(tempfile.gettempdir()) / f"pgrader-cores-{os.getuid()}"
    )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def wanted(request: dict, available: int) -> int:
    """Cores `request` must hold exclusively (0: it shares the free ones)."""
    n = int(request.get("exclusive_cores") or 0) or int(request.get("ranks") or 0)
    if n < 0:
        raise ValueError(f"a request cannot ask for {n} cores")
    return min(n, available)


@dataclass
class Allocation:
    cores: list[int]
    exclusive: bool
    waited: float  # seconds spent waiting for the cores (not counted against any timeout)
    _files: list[int] = field(default_factory=list, repr=False)

    @property
    def cpuset(self) -> str:
        """The cores as a cpuset list ("0,2,3")."""
        return ",".join(map(str, self.cores))

    def release(self) -> None:
        for fd in self._files:
            os.close(fd)  # closing the last descriptor drops its flock
        self._files.clear()


def _open(folder: Path, name: str) -> int:
    return os.open(folder / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def acquire(request: dict, folder: Path | None = None) -> Allocation:
    """Block until `request` has its cores (see the module docstring); release() them after."""
    folder = folder or runtime_dir()
    cores = host_cores()
    n = wanted(request, len(cores))
    t0 = time.monotonic()
    gate = _open(folder, "gate.lock")
    try:
        if n:
            fcntl.flock(gate, fcntl.LOCK_EX)
            got = _gather(folder, cores, n, fcntl.LOCK_EX)
        else:
            got = {}
            while not got:
                fcntl.flock(gate, fcntl.LOCK_SH)
                got = _gather(folder, cores, len(cores), fcntl.LOCK_SH, wait=False)
                fcntl.flock(gate, fcntl.LOCK_UN)
                if not got:
                    time.sleep(POLL)
    finally:
        os.close(gate)
    return Allocation(sorted(got), bool(n), time.monotonic() - t0, list(got.values()))


def _gather(folder: Path, cores: list[int], n: int, mode: int, wait: bool = True) -> dict[int, int]:
    """Up to `n` core locks in `mode` ({core: fd}); with `wait`, exactly `n`, polling for them."""
    got: dict[int, int] = {}
    try:
        while True:
            for core in cores:
                if len(got) == n:
                    return got
                if core in got:
                    continue
                fd = _open(folder, f"core-{core}.lock")
                if _try(fd, mode):
                    got[core] = fd
                else:
                    os.close(fd)
            if len(got) == n or not wait:
                return got
            time.sleep(POLL)
    except BaseException:
        for fd in got.values():
            os.close(fd)
        raise


@contextmanager
def reserved(request: dict) -> Iterator[Allocation]:
    """The cores of `request` for the time of the `with` block; the wait is logged (see below)."""
    alloc = acquire(request)
    note_wait(alloc.waited)
    try:
        yield alloc
    finally:
        alloc.release()


WAIT_LOG = "PGRADER_CORE_WAIT_LOG"  # file where a test run adds up its seconds waiting for cores


def note_wait(seconds: float) -> None:
    """Add `seconds` to the run's wait log, so the runner's time budget leaves them out."""
    path = os.environ.get(WAIT_LOG)
    if path and seconds > 0.01:
        with open(path, "a") as f:
            f.write(f"{seconds:.3f}\n")


def waited(path: Path) -> float:
    """Seconds logged in the wait log at `path` (0 if none)."""
    try:
        return sum(float(x) for x in path.read_text().split())
    except (OSError, ValueError):
        return 0.0
