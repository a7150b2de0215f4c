"""Vector addition and matrix multiplication with PyCUDA kernels (see README.md)."""

import functools

import numpy as np
import pycuda.autoinit  # noqa: F401 - creates a context on the first GPU
import pycuda.driver as drv
from pycuda.compiler import SourceModule

BLOCK = 256   # threads per block for vectors
TILE = 16     # TILE x TILE threads per block for matrices

VECTOR_ADD = """
__global__ void vector_add(const float *a, const float *b, float *out, int n)
{
    /* TODO: one thread per element */
}
"""

MATMUL = """
__global__ void matmul(const float *A, const float *B, float *C, int n, int k, int m)
{
    /* TODO: one thread per element of C (n x m) */
}
"""


@functools.cache
def _kernel(source, name):
    return SourceModule(source).get_function(name)


def gpu_vector_add(a, b):
    """a + b element by element on the GPU; a float32 array."""
    raise NotImplementedError


def gpu_matmul(A, B):
    """The matrix product A @ B (n x k times k x m) on the GPU; a float32 n x m array."""
    raise NotImplementedError
