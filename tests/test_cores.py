"""Core scheduling across grader processes (grader/sandbox/cores.py): timing requests get their
cores to themselves and are pinned to them, MPI requests hold one core per rank, plain requests
keep flowing on the rest, and a holder killed with SIGKILL frees its cores."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.sandbox import cores

HERE = Path(__file__).parent
CORES = cores.host_cores()
needs_two = pytest.mark.skipif(len(CORES) < 2, reason="needs at least 2 cores")


@pytest.fixture(autouse=True)
def private_locks(tmp_path, monkeypatch):
    """Lock files of our own: other graders on this host do not delay these tests."""
    monkeypatch.setenv("PGRADER_CORES_DIR", str(tmp_path / "cores"))


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def stop_holders():
    """Kill the test's holders (some hold cores for 600 s), also when it fails."""
    yield
    while _started:
        proc = _started.pop()
        proc.kill()
        proc.wait()


@pytest.fixture
def submission(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "solution.py").write_text("X = 1\n")
    return folder


def _request(backend: str, submission: Path, seconds: float, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "cores_driver.py"),
            backend,
            str(submission),
            json.dumps(options),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reply(proc: subprocess.Popen, timeout: float = 180) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.splitlines()[-1])


def _cpus(text: str) -> list[int]:
    """A Cpus_allowed_list ("0-2,5") as core numbers."""
    found = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        found += range(int(lo), int(hi or lo) + 1)
    return found


def _holder(request: dict, seconds: float) -> subprocess.Popen:
    """A process that takes the cores of `request` (waiting if need be), prints them as JSON and
    holds them for `seconds`; returned once it is asking for them."""
    code = (
        "import json, sys, time\nfrom grader.sandbox import cores\n"
        "print('asking', flush=True)\n"
        f"a = cores.acquire({request!r})\nprint(json.dumps(a.cores), flush=True)\n"
        f"time.sleep({seconds})\n"
    )
    # unbuffered: a line read leaves the next in the pipe, where `_silent_for` looks
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, bufsize=0)
    _started.append(proc)
    assert proc.stdout.readline() == b"asking\n"
    return proc


def _silent_for(proc: subprocess.Popen, seconds: float) -> bool:
    """True when `proc` prints nothing (gets no cores) and keeps running for `seconds`."""
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    return not ready and proc.poll() is None


def _until(condition, what: str, timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.02)


def _held_exclusively(name: str) -> bool:
    """Does some process hold lock file `name` of the cores' folder exclusively now?"""
    fd = os.open(cores.runtime_dir() / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released by the close below
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_timing_requests_never_overlap_and_are_pinned(submission):
    n = len(CORES)
    procs = [_request("local", submission, 1.0, exclusive_cores=n) for _ in range(3)]
    runs = sorted((_reply(p) for p in procs), key=lambda r: r["start"])
    for a, b in zip(runs, runs[1:]):
        assert a["end"] <= b["start"], runs  # one after another, never at the same time
    assert all(_cpus(r["cpus"]) == CORES for r in runs)


@needs_two
def test_one_core_timing_requests_get_disjoint_cores_and_plain_ones_flow(submission):
    timed = [_request("local", submission, 3.0, exclusive_cores=1) for _ in range(len(CORES) - 1)]
    _until(
        lambda: sum(_held_exclusively(f"core-{c}.lock") for c in CORES) == len(timed),
        "the timing requests took their cores",
    )
    t0 = time.monotonic()
    plain = _reply(_request("local", submission, 0.0))
    ran = [_reply(p) for p in timed]
    owned = [_cpus(r["cpus"]) for r in ran]
    assert all(len(c) == 1 for c in owned) and len({c[0] for c in owned}) == len(owned)
    # the plain request did not wait for the timing ones, and ran only on the cores left over
    assert plain["end"] < max(r["end"] for r in ran), (plain, ran)
    assert not set(_cpus(plain["cpus"])) & {c[0] for c in owned if _overlaps(plain, ran)}
    assert time.monotonic() - t0 < 60


def _overlaps(run: dict, others: list[dict]) -> bool:
    return any(o["start"] < run["end"] and run["start"] < o["end"] for o in others)


def test_mpi_request_holds_one_core_per_rank():
    n = len(CORES)
    for ranks in (1, n, n + 3):  # capped at the cores there are
        holder = _holder({"ranks": ranks}, 600)
        try:
            held = json.loads(holder.stdout.readline())
            assert len(held) == min(ranks, n)
            free = [c for c in CORES if c not in held]
            plain = _holder({}, 0)
            if free:  # shares what is left, at once (read while the MPI request still holds)
                got = json.loads(plain.stdout.readline())
            else:  # waits while nothing is free
                assert _silent_for(plain, 1.0)
        finally:
            holder.kill()
            holder.wait()
        if not free:
            got = json.loads(plain.stdout.readline())
        assert got == (free or CORES)
        plain.wait(timeout=30)


def test_timing_request_waits_for_shared_ones_and_blocks_new_ones():
    plain = _holder({}, 2.0)
    assert json.loads(plain.stdout.readline()) == CORES
    t0 = time.monotonic()
    timed = cores.acquire({"exclusive_cores": 1})
    assert time.monotonic() - t0 >= 1.0 and timed.waited >= 1.0  # the shared holder had to end
    assert timed.exclusive and len(timed.cores) == 1
    timed.release()
    plain.wait(timeout=30)


def test_sigkilled_holders_free_their_cores():
    everything = {"exclusive_cores": len(CORES)}
    first = _holder(everything, 600)
    assert json.loads(first.stdout.readline()) == CORES
    waiting = _holder(everything, 600)  # blocks holding the gate, behind `first`
    _until(lambda: _held_exclusively("gate.lock"), "the second holder took the gate")
    assert _silent_for(waiting, 0.2)
    for proc in (waiting, first):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    t0 = time.monotonic()
    alloc = cores.acquire(everything)
    assert alloc.cores == CORES and time.monotonic() - t0 < 5
    alloc.release()
    again = cores.acquire({})
    assert again.cores == CORES
    again.release()


def test_docker_request_is_pinned_to_its_cores(submission, docker_backend):
    proc = _request("docker", submission, 0.0, exclusive_cores=1)
    reply = _reply(proc, timeout=300)
    assert len(_cpus(reply["cpus"])) == 1
    plain = _reply(_request("docker", submission, 0.0), timeout=300)
    assert _cpus(plain["cpus"]) == CORES
    ranks = _reply(_request("docker", submission, 0.0, ranks=3), timeout=300)
    assert len(ranks) == 3  # one value per rank, all on the cores held for the ranks
    assert {len(_cpus(r["cpus"])) for r in ranks} == {min(3, len(CORES))}


def test_bad_core_count_is_refused():
    with pytest.raises(ValueError, match="cannot ask for -1 cores"):
        cores.wanted({"exclusive_cores": -1}, 4)


def test_waits_for_cores_are_left_out_of_the_runners_budget(tmp_path, monkeypatch):
    from grader.judge.runner import _wait

    log = tmp_path / "waits"
    slow = [sys.executable, "-c", "import time; time.sleep(2)"]
    with pytest.raises(subprocess.TimeoutExpired):  # 2 s of work over a 1 s budget
        proc = subprocess.Popen(slow)
        try:
            _wait(proc, 1.0, log)
        finally:
            proc.kill()
            proc.wait()
    proc = subprocess.Popen(slow)
    monkeypatch.setenv(cores.WAIT_LOG, str(log))
    cores.note_wait(1.5)  # as a request that waited 1.5 s for its cores would
    cores.note_wait(0.5)
    assert cores.waited(log) == 2.0
    assert _wait(proc, 1.0, log) == 0  # (any object with wait(timeout), as a JudgeProcess)
