"""Mutant: BLOCK_SUM includes <stdio.h> (left from a printf while debugging): a header that is
not CUDA's own."""

import functools

import numpy as np
import pycuda.autoinit  # noqa: F401 - creates a context on the first GPU
import pycuda.driver as drv
import pycuda.gpuarray as gpuarray
from pycuda.compiler import SourceModule

BLOCK = 256  # threads per block; each block reduces 2 * BLOCK inputs

BLOCK_SUM = """
#include <stdio.h>
#define BLOCK 256
__global__ void block_sum(const float *x, float *partial, int n)
{
    __shared__ float s[BLOCK];
    int tid = threadIdx.x;
    int i = blockIdx.x * blockDim.x * 2 + threadIdx.x;
    float v = 0.0f;
    if (i < n) v = x[i];
    if (i + blockDim.x < n) v += x[i + blockDim.x];
    s[tid] = v;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (tid < stride)
            s[tid] += s[tid + stride];
        __syncthreads();
    }
    if (tid == 0)
        partial[blockIdx.x] = s[0];
}
"""

BLOCK_DOT = """
#define BLOCK 256
__global__ void block_dot(const float *a, const float *b, float *partial, int n)
{
    __shared__ float s[BLOCK];
    int tid = threadIdx.x;
    int i = blockIdx.x * blockDim.x * 2 + threadIdx.x;
    float v = 0.0f;
    if (i < n) v = a[i] * b[i];
    if (i + blockDim.x < n) v += a[i + blockDim.x] * b[i + blockDim.x];
    s[tid] = v;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (tid < stride)
            s[tid] += s[tid + stride];
        __syncthreads();
    }
    if (tid == 0)
        partial[blockIdx.x] = s[0];
}
"""


@functools.cache
def _kernel(source, name):
    return SourceModule(source).get_function(name)


def _blocks(n):
    return max(1, (n + 2 * BLOCK - 1) // (2 * BLOCK))


def _reduce(values):
    """Sum a float32 gpuarray with block_sum until one value is left."""
    while values.size > 1:
        partial = gpuarray.empty(_blocks(values.size), np.float32)
        _kernel(BLOCK_SUM, "block_sum")(values, partial, np.int32(values.size),
                                        block=(BLOCK, 1, 1), grid=(partial.size, 1))
        values = partial
    return float(values.get()[0])


def gpu_sum(x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size == 0:
        return 0.0
    return _reduce(gpuarray.to_gpu(x))


def gpu_dot(a, b):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    if a.size == 0:
        return 0.0
    partial = gpuarray.empty(_blocks(a.size), np.float32)
    _kernel(BLOCK_DOT, "block_dot")(drv.In(a), drv.In(b), partial, np.int32(a.size),
                                    block=(BLOCK, 1, 1), grid=(partial.size, 1))
    return _reduce(partial)
