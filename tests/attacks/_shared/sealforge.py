"""Shared by the pool_seal_* attacks: the sequential mutant, and its cheat once the work-item
key is in hand (`parallel_map`, given the attack's route to the key and past the audit hook).

The cheat: every value is computed here (one process, unrecorded), a forked helper burns as
much CPU again, and each value comes back sealed with a record in the grader's format -- half
for this process, half for the helper, at the same moments -- that `append` adds to the output
folder."""

import hashlib
import hmac
import os
import subprocess
import time

ENV = b"PGRADER_ITEMS_KEY="


def parallel_map(func, data, workers, kind, key, append):
    if kind not in ("process", "thread"):
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    data = list(data)
    found = key() if kind == "process" and hasattr(func, "fn") and len(data) > 1 else None
    if found is None:
        return [func(x) for x in data]  # the sequential mutant, whatever kind says
    return forged_map(func, data, found, append)


def run(fork_exec, argv, data=b""):
    """argv's standard output, the program started by `fork_exec` (_posixsubprocess's)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = fork_exec(
        argv, [argv[0]], True, (), None, None, in_r, in_w, out_r, out_w, -1, -1,
        err_r, err_w, False, False, -1, None, None, None, -1, None, subprocess._USE_VFORK)
    for fd in (in_r, out_w, err_r, err_w):
        os.close(fd)
    os.write(in_w, data)
    os.close(in_w)
    chunks = []
    while chunk := os.read(out_r, 1 << 16):
        chunks.append(chunk)
    os.close(out_r)
    os.waitpid(pid, 0)
    return b"".join(chunks)


def env_key(fork_exec):
    """The key, out of what /usr/bin/env prints."""
    for line in run(fork_exec, [b"/usr/bin/env"]).split(b"\n"):
        if line.startswith(ENV):
            return bytes.fromhex(line[len(ENV):].decode())
    return None


def sh_append(fork_exec):
    """`append` through /bin/sh (the audit hook closes the output folder to Python code only)."""
    def append(lines):
        folder = os.environ.get("PGRADER_STACKS_DIR", "")
        run(fork_exec, [b"/bin/sh", b"-c", f"cat >> {folder}/items-{os.getpid()}.jsonl".encode()],
            lines)
    return append


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
