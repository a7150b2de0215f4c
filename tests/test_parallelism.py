"""Parallelism is judged from the kernel's accounting (work / span), not from wall clocks:
GIL-bound threads never pass, real processes pass even with a CPU hog running beside them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader.agent import codec
from grader.protocol import Reply
from grader.testing import Failed, expect_parallel

SOURCE = """
    import threading, time, multiprocessing as mp

    def burn(n):
        s = 0
        for i in range(n):
            s += i * i
        return s

    def sequential(n, k):
        return [burn(n) for _ in range(k)]

    def threads(n, k):
        out = [None] * k
        def work(i):
            out[i] = burn(n)
        ts = [threading.Thread(target=work, args=(i,)) for i in range(k)]
        for t in ts: t.start()
        for t in ts: t.join()
        return out

    def processes(n, k):
        with mp.Pool(k) as pool:
            return pool.map(burn, [n] * k)

    def fake_clock(n, k):
        time.perf_counter = lambda: 0.0   # a student faking a speedup gains nothing
        time.time = lambda: 0.0
        return sequential(n, k)
"""
N = 4_000_000


def measure(session, function) -> Reply:
    raw = session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": function,
            "args": codec.encode([N, 2]),
            "timeout": 60,
        }
    )
    assert raw["status"] == "ok", raw
    return Reply(raw, function)


@pytest.fixture(params=["quiet", "loaded"])
def load(request):
    if request.param == "quiet":
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    hog.kill()
    hog.wait()


@pytest.mark.parametrize("function", ["sequential", "threads", "fake_clock"])
def test_no_parallelism_is_never_credited(session, function, load):
    reply = measure(session, function)
    with pytest.raises(Failed, match="did not run in parallel"):
        expect_parallel(reply, function, workers=2, cores=2)


def test_processes_are_credited_also_under_load(session, load):
    expect_parallel(measure(session, "processes"), "processes", workers=2, cores=2)


def test_one_core_asks_for_nothing(session):
    expect_parallel(measure(session, "threads"), "threads", workers=2, cores=1)
