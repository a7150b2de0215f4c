"""Hidden tests for pycuda_vector_ops: values on the GPU, and compute-sanitizer's memcheck."""

import numpy as np

from grader.testing import (
    expect_clean_kernels, expect_close, expect_dtype, raise_for,
    require_gpu, requirement,
)

ONE_BLOCK = ("A block holds at most 1024 threads (32 x 32 in 2-D): launch a grid of "
             "ceil(n / block) blocks instead of a single block.")


def _matrices(seed, n, k, m):
    rng = np.random.default_rng(seed)
    return rng.random((n, k), dtype=np.float32), rng.random((k, m), dtype=np.float32)


@requirement("vector-add", "any-size")
def test_vector_add_large(student):
    """gpu_vector_add is right for a million elements (many blocks)"""
    require_gpu(student)
    a = np.random.default_rng(1).random(1_000_003, dtype=np.float32)
    expect_close(student.call("gpu_vector_add", a, a), 2 * a, "gpu_vector_add(a, a) with 1,000,003 floats",
                 tol=1e-6, hint=ONE_BLOCK)


@requirement("matmul", "any-size")
def test_matmul_values(student):
    """gpu_matmul matches numpy for square and rectangular matrices larger than one block"""
    require_gpu(student)
    for n, k, m in ((5, 7, 3), (64, 48, 80), (100, 33, 70)):
        A, B = _matrices(n, n, k, m)
        expect_close(student.call("gpu_matmul", A, B), A @ B, f"gpu_matmul(A, B) with A {n}x{k}, B {k}x{m}",
                     tol=1e-3 * k, hint="Every element C[row][col] must be computed by exactly one "
                     "thread: row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * "
                     "blockDim.x + threadIdx.x. " + ONE_BLOCK)


@requirement("in-bounds")
def test_vector_add_memcheck(student):
    """vector_add stays inside its arrays (compute-sanitizer memcheck, 1000 elements)"""
    require_gpu(student)
    a = np.arange(1000, dtype=np.float32)
    reply = student.reply("gpu_vector_add", a, a, checks={"sanitizer": {"tool": "memcheck"}})
    raise_for(reply)
    expect_clean_kernels(reply, "gpu_vector_add(a, a) with 1000 floats", tool="sanitizer")


@requirement("in-bounds")
def test_matmul_memcheck(student):
    """matmul stays inside its matrices (compute-sanitizer memcheck, 40x30 times 30x50)"""
    require_gpu(student)
    A, B = _matrices(7, 40, 30, 50)
    reply = student.reply("gpu_matmul", A, B, checks={"sanitizer": {"tool": "memcheck"}})
    raise_for(reply)
    expect_clean_kernels(reply, "gpu_matmul(A, B) with A 40x30, B 30x50", tool="sanitizer")


@requirement("float32")
def test_results_are_float32(student):
    """gpu_vector_add and gpu_matmul return float32 arrays"""
    require_gpu(student)
    a = np.arange(10, dtype=np.float32)
    expect_dtype(student.call("gpu_vector_add", a, a), "float32", "gpu_vector_add(a, a)")
    A, B = _matrices(3, 4, 5, 6)
    expect_dtype(student.call("gpu_matmul", A, B), "float32", "gpu_matmul(A, B) with A 4x5, B 5x6")
