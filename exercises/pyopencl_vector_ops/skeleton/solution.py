"""Vector addition and SAXPY with PyOpenCL.

Write the two OpenCL kernels in KERNELS, build them once per call with
pyopencl, and launch one work-item per element (see README.md).
"""

import numpy as np
import pyopencl as cl

WORK_GROUP = 64  # work-items per work-group

KERNELS = """
__kernel void vector_add(__global const int *a, __global const int *b,
                         __global int *out, const int n)
{
    /* TODO */
}

__kernel void saxpy(const float alpha, __global const float *x,
                    __global const float *y, __global float *out, const int n)
{
    /* TODO */
}
"""


def cl_vector_add(a, b):
    """a + b element by element, computed by the vector_add kernel; a numpy int32 array."""
    raise NotImplementedError


def cl_saxpy(alpha, x, y):
    """alpha * x + y element by element, computed by the saxpy kernel; a numpy float32 array."""
    raise NotImplementedError
