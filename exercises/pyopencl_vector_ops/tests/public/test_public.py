"""Public tests for pyopencl_vector_ops (run them with `grader check pyopencl_vector_ops`)."""

import numpy as np

from grader.testing import expect_close, expect_equal, requirement


@requirement("vector-add")
def test_vector_add_small(student):
    """cl_vector_add adds two short int32 arrays"""
    a = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=np.int32)
    b = np.array([10, 20, 30, 40, 50, 60, 70, 80], dtype=np.int32)
    expect_equal(student.call("cl_vector_add", a, b), a + b, "cl_vector_add(a, b) with 8 int32")


@requirement("saxpy")
def test_saxpy_small(student):
    """cl_saxpy computes alpha * x + y for a short float32 array"""
    x = np.arange(8, dtype=np.float32)
    y = np.ones(8, dtype=np.float32)
    expect_close(student.call("cl_saxpy", 2.0, x, y), 2 * x + y, "cl_saxpy(2.0, x, y) with 8 floats",
                 tol=1e-5)
