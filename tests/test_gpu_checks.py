"""GPU kernel checks: Oclgrind findings (never from student output), nvcc compile errors with the
student's line, compute-sanitizer log parsing, and the no-GPU path (not-run, never a pass)."""

from __future__ import annotations

import time

import pytest

from grader.agent import codec
from grader.checks import sanitizer
from grader.course import Limits
from grader.judge import cuda_compile, verdicts
from grader.judge.expect_gpu import (
    NO_GPU,
    expect_clean_kernels,
    expect_kernels_compile,
    expect_only_cuda_headers,
    require_gpu,
)
from grader.judge.proxy import Student
from grader.protocol import Reply
from grader.sandbox.local import LocalBackend

SOURCE = """
import numpy as np
import pyopencl as cl

def run(src, name, n, global_size, local_size, forge=False):
    if forge:   # a student printing Oclgrind's words (or trying to look clean)
        print("Invalid write of size 4 at global memory address 0x2000000000028")
        print("\\tKernel: add\\n\\tEntity: Global(15,0,0)\\n\\tAt line 1 (column 64) of input.cl:")
    ctx = cl.create_some_context(interactive=False)
    q = cl.CommandQueue(ctx)
    x = np.arange(n, dtype=np.float32)
    buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=x)
    kernel = getattr(cl.Program(ctx, src).build(), name)
    kernel(q, (global_size,), (local_size,), buf, np.int32(n), cl.LocalMemory(4 * local_size))
    cl.enqueue_copy(q, x, buf)
    return x
"""

SCALE = """__kernel void scale(__global float *x, const int n, __local float *s) {
  int i = get_global_id(0);
  %s x[i] = 2 * x[i];
}"""
SUM = """__kernel void blocksum(__global float *x, const int n, __local float *s) {
  int l = get_local_id(0);
  s[l] = x[get_global_id(0)];
  %s
  for (int k = get_local_size(0) / 2; k > 0; k /= 2) {
    if (l < k) s[l] += s[l + k];
    %s
  }
  if (l == 0) x[get_global_id(0)] = s[0];
}"""
BARRIER = "barrier(CLK_LOCAL_MEM_FENCE);"


def checked(session, src, name, n, global_size, local_size, forge=False):
    t0 = time.monotonic()
    raw = session.call(
        {
            "kind": "call",
            "function": "run",
            "module": "solution",
            "timeout": 30,
            "args": codec.encode([src, name, n, global_size, local_size, forge]),
            "kwargs": codec.encode({}),
            "checks": {"oclgrind": {"data_races": True}},
        }
    )
    assert raw["status"] == "ok", raw
    return Reply(raw, f"{name} on {n} elements"), time.monotonic() - t0


def test_out_of_bounds_caught_with_work_item_and_line(session):
    reply, took = checked(session, SCALE % "", "scale", 10, 16, 8)
    with pytest.raises(verdicts.Failed) as err:
        expect_clean_kernels(reply, "scale(x)")
    msg = err.value.message
    assert "work-item 10" in msg and "past the end" in msg and "line 3" in msg
    assert "x[i] = 2 * x[i];" in msg and "if (i < n)" in msg
    print(f"oclgrind out-of-bounds check: {took:.2f} s")


def test_bounds_checked_twin_is_clean(session):
    reply, _ = checked(session, SCALE % "if (i < n)", "scale", 10, 16, 8)
    expect_clean_kernels(reply, "scale(x)")
    assert list(reply.value) == [2.0 * i for i in range(10)]


def test_race_without_barrier_caught_even_when_value_is_right(session):
    reply, took = checked(session, SUM % ("", ""), "blocksum", 16, 16, 8)
    with pytest.raises(verdicts.Race) as err:
        expect_clean_kernels(reply, "blocksum(x)")
    assert "data race" in err.value.message and "barrier(CLK_LOCAL_MEM_FENCE)" in err.value.message
    print(f"oclgrind race check: {took:.2f} s")


def test_barrier_twin_is_clean(session):
    reply, _ = checked(session, SUM % (BARRIER, BARRIER), "blocksum", 16, 16, 8)
    expect_clean_kernels(reply, "blocksum(x)")
    assert reply.value[0] == sum(range(8)) and reply.value[8] == sum(range(8, 16))


def test_barrier_divergence_caught(session):
    src = SCALE.replace(
        "%s", "if (get_local_id(0) < 4) { barrier(CLK_LOCAL_MEM_FENCE); }\n  if (i < n)"
    )
    reply, _ = checked(session, src, "scale", 16, 16, 8)
    with pytest.raises(verdicts.Failed) as err:
        expect_clean_kernels(reply, "scale(x)")
    assert "only 4 of the 8 work-items" in err.value.message


def test_faked_oclgrind_text_changes_nothing(session):
    clean, _ = checked(session, SCALE % "if (i < n)", "scale", 10, 16, 8, forge=True)
    assert "Invalid write" in clean.raw["stdout"]
    expect_clean_kernels(clean, "scale(x)")  # printed lines are not findings
    buggy, _ = checked(session, SCALE % "", "scale", 10, 16, 8, forge=True)
    findings = buggy.checks["oclgrind"]["findings"]
    assert findings and all(f["kernel"] == "scale" for f in findings)  # the real ones, only


def test_oclgrind_missing_is_not_run():
    reply = Reply(
        {
            "status": "ok",
            "checks": {
                "oclgrind": {
                    "available": False,
                    "intact": False,
                    "error": "oclgrind is not installed",
                }
            },
        },
        "x",
    )
    with pytest.raises(verdicts.NotRun):
        expect_clean_kernels(reply, "x")


# ---------------------------------------------------------------- CUDA

CUDA_MODULE = '''
from pycuda.compiler import SourceModule

ADD = """
__global__ void add(float *a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) a[i] = a[i] + undefined_name;
}
"""
mod = SourceModule(ADD)
'''


def _student(folder, gpu=False):
    class FakeSession:
        pass

    session = FakeSession()
    session.gpu = gpu
    return Student(session=session, module="solution", timeout=5, limits={}, submission=folder)


@pytest.mark.skipif(cuda_compile.nvcc_path() is None, reason="nvcc is not installed here")
def test_nvcc_error_reported_with_student_line(make_submission):
    folder = make_submission(CUDA_MODULE)
    t0 = time.monotonic()
    with pytest.raises(verdicts.Failed) as err:
        expect_kernels_compile(_student(folder))
    msg = err.value.message
    assert "solution.py line 8" in msg and "undefined_name" in msg and "kernel line 5" in msg
    fixed = make_submission(CUDA_MODULE.replace(" + undefined_name", ""))
    results = expect_kernels_compile(_student(fixed))
    print(
        f"nvcc compile check: {time.monotonic() - t0:.2f} s for two compiles "
        f"({results[0].seconds:.2f} s the clean one)"
    )


@pytest.mark.parametrize(
    "line",
    [
        '#include "/etc/passwd"',
        "#include </etc/passwd>",
        "#/**/include <../../etc/passwd>",
        "#\\\ninclude <x.h>",
        '_Pragma("GCC dependency \\"/etc/passwd\\"")',
        "%:include <x.h>",
        "#pragma GCC poison x",
        "#embed <x>",
    ],
)
def test_includes_that_read_files_are_refused(line):
    assert cuda_compile.refusal(f"{line}\n__global__ void k() {{}}")


def test_cuda_headers_allowed():
    assert cuda_compile.refusal("#include <cuda_runtime.h>\n#define B 4\n#pragma unroll\n") == ""


def test_only_cuda_headers_static_check(make_submission):
    """Runs with no nvcc and no GPU: a header that is not CUDA's fails, CUDA's own pass, and a
    module with no kernel to check fails rather than passing on nothing."""
    with_stdio = CUDA_MODULE.replace('ADD = """\n', 'ADD = """\n#include <stdio.h>\n')
    assert with_stdio != CUDA_MODULE
    with pytest.raises(verdicts.Failed) as err:
        expect_only_cuda_headers(_student(make_submission(with_stdio)))
    assert "<stdio.h>" in err.value.message and "only CUDA's own headers" in err.value.message
    cuda_only = CUDA_MODULE.replace('ADD = """\n', 'ADD = """\n#include <cuda_runtime.h>\n')
    expect_only_cuda_headers(_student(make_submission(cuda_only)))
    with pytest.raises(verdicts.Failed, match="no kernel source"):
        expect_only_cuda_headers(_student(make_submission("def gpu_sum(x):\n    return 0.0\n")))


def test_no_gpu_is_not_run_never_a_pass(make_submission):
    with pytest.raises(verdicts.NotRun) as err:
        require_gpu(_student(make_submission(CUDA_MODULE), gpu=False))
    assert err.value.message == NO_GPU
    require_gpu(_student(make_submission(CUDA_MODULE), gpu=True))


def test_local_session_without_gpu_says_so(tmp_path, monkeypatch):
    from grader.sandbox import gpu

    monkeypatch.setenv("PGRADER_NO_GPU", "1")
    gpu.host_has_gpu.cache_clear()
    (tmp_path / "solution.py").write_text("x = 1\n")
    with LocalBackend().open(tmp_path, Limits(), gpu=True) as s:
        assert s.gpu is False
    gpu.host_has_gpu.cache_clear()


SANITIZER_LOG = """========= COMPUTE-SANITIZER
========= Invalid __global__ write of size 4 bytes
=========     at vector_add+0x70 in kernel.cu:6
=========     by thread (232,0,0) in block (3,0,0)
=========     Address 0x7f00001000 is out of bounds
=========
========= Error: Race reported between Write access at block_sum+0x1a0 in kernel.cu:14
=========     and Read access at block_sum+0x1c0 in kernel.cu:14 [128 hazards]
=========
========= ERROR SUMMARY: 2 errors
"""


def test_sanitizer_log_parsed_into_findings():
    found = sanitizer.parse_log(SANITIZER_LOG + "Invalid __global__ write of size 4 bytes\n")
    kinds = {f["kind"]: f for f in found}
    assert set(kinds) == {"out-of-bounds", "data-race"}  # the unprefixed line is not the tool's
    assert kinds["out-of-bounds"]["kernel"] == "vector_add" and kinds["out-of-bounds"][
        "thread"
    ] == [232, 0, 0]
    assert kinds["data-race"]["kernel"] == "block_sum"
    reply = Reply(
        {"status": "ok", "checks": {"sanitizer": {"available": True, "findings": found}}}, "x"
    )
    with pytest.raises(verdicts.Failed) as err:
        expect_clean_kernels(reply, "gpu_vector_add(a, b)", tool="sanitizer")
    assert "thread 232" in err.value.message and "`if (i < n)`" in err.value.message


# ---------------------------------------------------------------- where the barriers are

TREE = """
__global__ void block_sum(const float *x, float *partial, int n)
{
    __shared__ float s[256];
    int tid = threadIdx.x;
    s[tid] = tid < n ? x[tid] : 0.0f;
    LOAD_BARRIER
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        LOOP_TOP
        if (tid < stride)
            s[tid] += s[tid + stride];
        LOOP_BARRIER
    }
    if (tid < 32) { volatile float *w = s; w[tid] += w[tid + 16]; }
    if (tid == 0) partial[blockIdx.x] = s[0];
}
"""


def _tree(load="__syncthreads();", top="", loop="__syncthreads();"):
    return TREE.replace("LOAD_BARRIER", load).replace("LOOP_TOP", top).replace("LOOP_BARRIER", loop)


@pytest.mark.parametrize(
    "source",
    [_tree(), _tree(load="", top="__syncthreads();", loop=""), _tree(loop="__syncwarp();")],
)
def test_barriers_in_place_pass(source):
    from grader.judge.cuda_barriers import barrier_gaps

    assert barrier_gaps(source) == []


def test_barrier_after_the_load_only_is_a_gap_in_the_loop():
    """One __syncthreads() after filling shared memory is not enough: every step of the tree
    reads what other threads wrote in the step before."""
    from grader.judge.cuda_barriers import barrier_gaps

    gaps = barrier_gaps(_tree(loop=""))
    assert [(g.kind, g.line, g.array) for g in gaps] == [("loop", 8, "s")]
    assert gaps[0].code.startswith("for (int stride")
    gaps = barrier_gaps(_tree(load=""))
    assert [(g.kind, g.code) for g in gaps] == [("load", "s[tid] = tid < n ? x[tid] : 0.0f;")]
