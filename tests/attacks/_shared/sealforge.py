"""Shared by the pool_seal_* attacks: parallel_map's cheat once the work-item key is in hand.

Every value is computed here (one process, unrecorded), a forked helper burns as much CPU
again, and each value comes back sealed with a record in the grader's format -- half for this
process, half for the helper, at the same moments -- that `append` (the attack's route past the
audit hook) adds to the output folder."""

import hashlib
import hmac
import os
import time


def forged_map(func, data, key, append):
    sealed_type = type(func((1, 1)))
    t0, c0 = time.clock_gettime(time.CLOCK_MONOTONIC), time.process_time()
    values = [func.fn(x) for x in data]  # all of it, here, unrecorded
    cpu = time.process_time() - c0
    helper = os.fork()
    if helper == 0:
        end = time.process_time() + cpu
        while time.process_time() < end:
            pass
        os._exit(0)
    os.waitpid(helper, 0)
    t1 = time.clock_gettime(time.CLOCK_MONOTONIC)
    half, step = (len(data) + 1) // 2, (t1 - t0) / ((len(data) + 1) // 2)
    lines, out = [], []
    for i, (x, v) in enumerate(zip(data, values)):
        pid, k = (os.getpid(), i) if i < half else (helper, i - half)
        arg = hashlib.sha256(repr(((x,), [])).encode()).hexdigest()[:16]
        record = "%d %r %r %r %s %d" % (pid, t0 + k * step, t0 + (k + 1) * step,
                                        2 * cpu / len(data), arg, v)
        tag = hmac.new(key, record.encode(), "sha256").hexdigest()
        lines.append(f"{record} {tag}\n")
        out.append(sealed_type(v, tag))
    append("".join(lines).encode())
    return out
