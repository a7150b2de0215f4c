"""Sum and dot product as shared-memory tree reductions with PyCUDA (see README.md)."""

import functools

import numpy as np
import pycuda.autoinit  # noqa: F401 - creates a context on the first GPU
import pycuda.driver as drv
import pycuda.gpuarray as gpuarray
from pycuda.compiler import SourceModule

BLOCK = 256  # threads per block; each block reduces 2 * BLOCK inputs

BLOCK_SUM = """
#define BLOCK 256
__global__ void block_sum(const float *x, float *partial, int n)
{
    __shared__ float s[BLOCK];
    /* TODO: each block sums 2 * BLOCK inputs into partial[blockIdx.x] */
}
"""

BLOCK_DOT = """
#define BLOCK 256
__global__ void block_dot(const float *a, const float *b, float *partial, int n)
{
    __shared__ float s[BLOCK];
    /* TODO: each block sums 2 * BLOCK products a[i] * b[i] into partial[blockIdx.x] */
}
"""


@functools.cache
def _kernel(source, name):
    return SourceModule(source).get_function(name)


def gpu_sum(x):
    """The sum of a 1-D float array, as a Python float, by a tree reduction on the GPU."""
    raise NotImplementedError


def gpu_dot(a, b):
    """The dot product of two 1-D float arrays, as a Python float, on the GPU."""
    raise NotImplementedError
