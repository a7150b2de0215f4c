"""OpenCL kernel with a bounds check (correct twin): work-items past `n` do nothing."""
import numpy as np
import pyopencl as cl

KERNEL = """
__kernel void twice(__global const float *a, __global float *out, const int n) {
    int i = get_global_id(0);
    if (i < n)
        out[i] = 2.0f * a[i];
}
"""


def run(n, group=64):
    ctx = cl.create_some_context(interactive=False)
    queue = cl.CommandQueue(ctx)
    a = np.arange(n, dtype=np.float32)
    mf = cl.mem_flags
    a_buf = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=a)
    out_buf = cl.Buffer(ctx, mf.WRITE_ONLY, a.nbytes)
    program = cl.Program(ctx, KERNEL).build()
    size = (n + group - 1) // group * group
    program.twice(queue, (size,), (group,), a_buf, out_buf, np.int32(n))
    out = np.empty_like(a)
    cl.enqueue_copy(queue, out, out_buf)
    return out
