"""compute-sanitizer on real kernels, through the sandbox: memcheck names the thread that writes
past the end, racecheck the race of a reduction without a barrier in its loop, and their
correct twins are clean. ONLY RUN ON GPU HOSTS (scripts/gpu_check.sh runs them): elsewhere
they are skipped as "no GPU on this machine", never passed. The backend is the local one,
or Docker's GPU image with PGRADER_GPU_BACKEND=docker."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest

from grader.agent import codec
from grader.course import Limits
from grader.judge import verdicts
from grader.judge.expect_gpu import expect_clean_kernels
from grader.protocol import Reply
from grader.sandbox.gpu import host_has_gpu

pytestmark = pytest.mark.skipif(not host_has_gpu(), reason="no GPU on this machine")

HOST = '''
import numpy as np
import pycuda.autoinit  # noqa: F401
import pycuda.driver as drv
from pycuda.compiler import SourceModule

ADD = """
__global__ void add(const float *a, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    GUARD out[i] = a[i] + 1.0f;
}
"""

SUM = """
__global__ void block_sum(const float *x, float *partial, int n)
{
    __shared__ float s[256];
    int tid = threadIdx.x;
    int i = blockIdx.x * blockDim.x + tid;
    s[tid] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (tid < stride)
            s[tid] += s[tid + stride];
        LOOP_BARRIER
    }
    if (tid == 0) partial[blockIdx.x] = s[0];
}
"""


def add_one(n, guarded):
    src = ADD.replace("GUARD", "if (i < n)" if guarded else "")
    a = np.arange(n, dtype=np.float32)
    out = np.zeros(n + 256, dtype=np.float32)  # room for the unguarded threads' writes
    dev = drv.mem_alloc(4 * n)  # exactly n floats: an unguarded thread writes past the end
    drv.memcpy_htod(dev, a)
    kernel = SourceModule(src).get_function("add")
    kernel(dev, dev, np.int32(n), block=(256, 1, 1), grid=((n + 255) // 256, 1))
    drv.memcpy_dtoh(out[:n], dev)
    return out[:n]


def block_sum(n, barrier):
    src = SUM.replace("LOOP_BARRIER", "__syncthreads();" if barrier else "")
    x = np.ones(n, dtype=np.float32)
    blocks = (n + 255) // 256
    partial = np.zeros(blocks, dtype=np.float32)
    SourceModule(src).get_function("block_sum")(drv.In(x), drv.Out(partial), np.int32(n),
                                                 block=(256, 1, 1), grid=(blocks, 1))
    return float(partial.sum())
'''


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuda")
    (folder / "solution.py").write_text(textwrap.dedent(HOST))
    if os.environ.get("PGRADER_GPU_BACKEND") == "docker":
        from grader.sandbox.docker import DockerBackend

        backend = DockerBackend(log=lambda *a: None)
    else:
        from grader.sandbox.local import LocalBackend

        backend = LocalBackend()
    with backend.open(folder, Limits(wall_seconds=120, memory_mb=4096), gpu=True) as s:
        assert s.gpu, "the session got no GPU although this host has one"
        yield s


def _run(session, function, args, tool):
    raw = session.call(
        {
            "kind": "call",
            "function": function,
            "module": "solution",
            "timeout": 120,
            "args": codec.encode(args),
            "kwargs": codec.encode({}),
            "checks": {"sanitizer": {"tool": tool}},
            "limits": {},
        }
    )
    assert raw["status"] == "ok", raw
    return Reply(raw, f"{function}{tuple(args)}")


def test_memcheck_names_the_thread_that_writes_past_the_end(session):
    reply = _run(session, "add_one", [1000, False], "memcheck")
    with pytest.raises(verdicts.Failed) as err:
        expect_clean_kernels(reply, "add_one(1000) without a bounds check", tool="sanitizer")
    assert "past the end" in err.value.message and "`if (i < n)`" in err.value.message


def test_memcheck_twin_with_a_bounds_check_is_clean(session):
    reply = _run(session, "add_one", [1000, True], "memcheck")
    expect_clean_kernels(reply, "add_one(1000) with a bounds check", tool="sanitizer")
    assert np.array_equal(reply.value, np.arange(1000, dtype=np.float32) + 1)


def test_racecheck_finds_the_missing_barrier_even_when_the_sum_is_right(session):
    reply = _run(session, "block_sum", [4096, False], "racecheck")
    with pytest.raises(verdicts.Race):
        expect_clean_kernels(
            reply, "block_sum(4096) without a barrier in the loop", tool="sanitizer"
        )


def test_racecheck_twin_with_the_barrier_is_clean(session):
    reply = _run(session, "block_sum", [4096, True], "racecheck")
    expect_clean_kernels(reply, "block_sum(4096) with the barrier", tool="sanitizer")
    assert reply.value == 4096.0
