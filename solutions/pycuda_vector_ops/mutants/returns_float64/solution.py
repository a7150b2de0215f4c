"""Mutant: both results are handed back as float64 copies (astype(numpy.float64)): the right
values in the wrong type."""

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
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = a[i] + b[i];
}
"""

MATMUL = """
__global__ void matmul(const float *A, const float *B, float *C, int n, int k, int m)
{
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row < n && col < m) {
        float s = 0.0f;
        for (int j = 0; j < k; ++j)
            s += A[row * k + j] * B[j * m + col];
        C[row * m + col] = s;
    }
}
"""


@functools.cache
def _kernel(source, name):
    return SourceModule(source).get_function(name)


def _blocks(n, per_block):
    return (n + per_block - 1) // per_block


def gpu_vector_add(a, b):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    out = np.empty_like(a)
    n = a.size
    _kernel(VECTOR_ADD, "vector_add")(drv.In(a), drv.In(b), drv.Out(out), np.int32(n),
                                      block=(BLOCK, 1, 1), grid=(_blocks(n, BLOCK), 1))
    return out.astype(np.float64)


def gpu_matmul(A, B):
    A = np.ascontiguousarray(A, dtype=np.float32)
    B = np.ascontiguousarray(B, dtype=np.float32)
    (n, k), (k2, m) = A.shape, B.shape
    if k != k2:
        raise ValueError("inner dimensions differ")
    C = np.empty((n, m), dtype=np.float32)
    _kernel(MATMUL, "matmul")(drv.In(A), drv.In(B), drv.Out(C), np.int32(n), np.int32(k),
                              np.int32(m), block=(TILE, TILE, 1),
                              grid=(_blocks(m, TILE), _blocks(n, TILE)))
    return C.astype(np.float64)
