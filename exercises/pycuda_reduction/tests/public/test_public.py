"""Public tests for pycuda_reduction. Without a GPU only the compile and header checks run; the
others report "not run: no GPU on this grading machine" and score nothing."""

import numpy as np

from grader.testing import (
    expect_close, expect_kernels_compile, expect_only_cuda_headers, require_gpu, requirement,
)


@requirement("kernels")
def test_kernels_compile(student):
    """The kernels compile with nvcc (checked on every machine, GPU or not)"""
    expect_kernels_compile(student, expect_kernels=2)


@requirement("headers")
def test_only_cuda_headers(student):
    """The kernels include no header but CUDA's own (static check, every machine)"""
    expect_only_cuda_headers(student)


@requirement("sum")
def test_sum_small(student):
    """gpu_sum of 1..1024"""
    require_gpu(student)
    x = np.arange(1, 1025, dtype=np.float32)
    expect_close(student.call("gpu_sum", x), 524800.0, "gpu_sum(1..1024)", tol=1e-2)
