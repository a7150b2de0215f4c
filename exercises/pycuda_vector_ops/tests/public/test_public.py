"""Public tests for pycuda_vector_ops. Without a GPU only the compile and header checks run; the
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


@requirement("vector-add")
def test_vector_add_small(student):
    """gpu_vector_add adds two short float32 arrays"""
    require_gpu(student)
    a = np.arange(10, dtype=np.float32)
    expect_close(student.call("gpu_vector_add", a, 2 * a), 3 * a, "gpu_vector_add(a, 2a) with 10 floats",
                 tol=1e-6)
