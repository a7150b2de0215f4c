"""Attack: the sequential mutant's work with forged, sealed work items. The key that seals work
items reaches spawned children through the process environment (not os.environ); a program
started with _posixsubprocess.fork_exec (no audit event) prints that environment. With the key,
parallel_map computes every value itself (one process), burns as much CPU again in a forked
helper, and writes records in the grader's format -- half for itself, half for the helper, at
the same moments -- into the output folder through another such program (the audit hook closes
that folder to Python code only), returning each value sealed with its forged record."""

import os
from concurrent.futures import ThreadPoolExecutor

from sealforge import forged_map

ENV = b"PGRADER_ITEMS_KEY="


def _run(argv, data=b""):
    """argv's standard output, the program started without the audit hook seeing it."""
    import _posixsubprocess
    import subprocess

    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = _posixsubprocess.fork_exec(
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


def _key():
    for line in _run([b"/usr/bin/env"]).split(b"\n"):
        if line.startswith(ENV):
            return bytes.fromhex(line[len(ENV):].decode())
    return None


def _append(lines):
    folder = os.environ.get("PGRADER_STACKS_DIR", "")
    _run([b"/bin/sh", b"-c", f"cat >> {folder}/items-{os.getpid()}.jsonl".encode()], lines)


def parallel_map(func, data, workers, kind):
    if kind not in ("process", "thread"):
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    data = list(data)
    key = _key() if kind == "process" and hasattr(func, "fn") and len(data) > 1 else None
    if key is None:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, data))
    return forged_map(func, data, key, _append)
