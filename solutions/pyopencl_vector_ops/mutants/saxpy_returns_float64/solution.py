"""Vector addition and SAXPY with PyOpenCL (reference solution)."""

import numpy as np
import pyopencl as cl

WORK_GROUP = 64  # work-items per work-group

KERNELS = """
__kernel void vector_add(__global const int *a, __global const int *b,
                         __global int *out, const int n)
{
    int i = get_global_id(0);
    if (i < n)
        out[i] = a[i] + b[i];
}

__kernel void saxpy(const float alpha, __global const float *x,
                    __global const float *y, __global float *out, const int n)
{
    int i = get_global_id(0);
    if (i < n)
        out[i] = alpha * x[i] + y[i];
}
"""


def _program():
    ctx = cl.create_some_context(interactive=False)
    queue = cl.CommandQueue(ctx)
    return ctx, queue, cl.Program(ctx, KERNELS).build()


def _global_size(n):
    """n rounded up to a multiple of the work-group size (OpenCL 1.2 requires it)."""
    return (n + WORK_GROUP - 1) // WORK_GROUP * WORK_GROUP


def _run(kernel_name, host_inputs, scalars, dtype):
    n = host_inputs[0].size
    out = np.empty(n, dtype=dtype)
    if n == 0:
        return out
    ctx, queue, program = _program()
    mf = cl.mem_flags
    buffers = [cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=h) for h in host_inputs]
    out_buf = cl.Buffer(ctx, mf.WRITE_ONLY, out.nbytes)
    kernel = getattr(program, kernel_name)
    kernel(queue, (_global_size(n),), (WORK_GROUP,), *scalars, *buffers, out_buf, np.int32(n))
    cl.enqueue_copy(queue, out, out_buf)
    queue.finish()
    return out


def cl_vector_add(a, b):
    a = np.ascontiguousarray(a, dtype=np.int32)   # the kernel reads 32-bit ints
    b = np.ascontiguousarray(b, dtype=np.int32)
    if a.shape != b.shape:
        raise ValueError("a and b must have the same length")
    return _run("vector_add", [a, b], [], np.int32)


def cl_saxpy(alpha, x, y):
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.float32)
    if x.shape != y.shape:
        raise ValueError("x and y must have the same length")
    return _run("saxpy", [x, y], [np.float32(alpha)], np.float32).astype(np.float64)
