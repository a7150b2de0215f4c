"""Hidden tests for pycuda_reduction: a static barrier check everywhere; on a GPU, values for
lengths that are not powers of two and compute-sanitizer's racecheck."""

import numpy as np

from grader.testing import (
    Failed, expect_clean_kernels, expect_close, expect_shared_memory_synchronised, raise_for,
    require_gpu, requirement,
)

LENGTHS = (1, 7, 255, 513, 1000, 100_003)
TAIL = ("Lengths that are not a power of two (or not a multiple of the block) must work: launch "
        "ceil(n / (2 * BLOCK)) blocks and let threads past the end add 0 (`if (i < n)`).")


@requirement("synchronised")
def test_shared_memory_synchronised(student):
    """The reduction kernels synchronise their shared memory (static check, every machine)"""
    expect_shared_memory_synchronised(student)


@requirement("sum", "any-length")
def test_sum_any_length(student):
    """gpu_sum is right for lengths 1, 7, 255, 513, 1000 and 100003"""
    require_gpu(student)
    rng = np.random.default_rng(11)
    for n in LENGTHS:
        x = rng.random(n, dtype=np.float32)
        expect_close(student.call("gpu_sum", x), float(x.astype(np.float64).sum()),
                     f"gpu_sum(x) with {n} floats", tol=1e-5 * n + 1e-5, hint=TAIL)


@requirement("dot", "any-length")
def test_dot_any_length(student):
    """gpu_dot is right for lengths 1, 7, 255, 513, 1000 and 100003"""
    require_gpu(student)
    rng = np.random.default_rng(12)
    for n in LENGTHS:
        a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
        expect_close(student.call("gpu_dot", a, b), float(a.astype(np.float64) @ b),
                     f"gpu_dot(a, b) with {n} floats", tol=1e-5 * n + 1e-5, hint=TAIL)


@requirement("synchronised")
def test_sum_racecheck(student):
    """No shared-memory race in the sum (compute-sanitizer racecheck, 4096 elements)"""
    require_gpu(student)
    x = np.ones(4096, dtype=np.float32)
    reply = student.reply("gpu_sum", x, checks={"sanitizer": {"tool": "racecheck"}})
    raise_for(reply)
    expect_clean_kernels(reply, "gpu_sum(x) with 4096 ones", tool="sanitizer")


@requirement("float-result")
def test_results_are_python_floats(student):
    """gpu_sum and gpu_dot return Python floats, not numpy scalars or arrays"""
    require_gpu(student)
    x = np.arange(1, 101, dtype=np.float32)
    for what, got in (("gpu_sum(x)", student.call("gpu_sum", x)),
                      ("gpu_dot(x, x)", student.call("gpu_dot", x, x))):
        if type(got) is not float:
            raise Failed(f"{what} with 100 floats returned a {type(got).__module__}."
                         f"{type(got).__name__}, not a Python float: convert the value you read "
                         "back from the GPU with float(...).", got=type(got).__name__)
