"""numpy's default int64 arrays handed to an `int*` kernel: each work-item reads half of
an int64, so the sums are wrong."""
import numpy as np
import pyopencl as cl

KERNEL = """
__kernel void add(__global const int *a, __global const int *b, __global int *out) {
    int i = get_global_id(0);
    out[i] = a[i] + b[i];
}
"""


def run(n):
    ctx = cl.create_some_context(interactive=False)
    queue = cl.CommandQueue(ctx)
    a, b = np.arange(n), np.arange(n) * 10
    mf = cl.mem_flags
    a_buf = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=a)
    b_buf = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=b)
    out = np.empty(n, dtype=np.int32)
    out_buf = cl.Buffer(ctx, mf.WRITE_ONLY, out.nbytes)
    cl.Program(ctx, KERNEL).build().add(queue, (n,), None, a_buf, b_buf, out_buf)
    cl.enqueue_copy(queue, out, out_buf)
    return out.tolist()
