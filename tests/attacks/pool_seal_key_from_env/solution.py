"""Attack: the sequential mutant's work with forged, sealed work items. The key that seals work
items reaches spawned children through the process environment (not os.environ); a program
started with _posixsubprocess.fork_exec (no audit event) prints that environment. With the key,
parallel_map computes every value itself (one process), burns as much CPU again in a forked
helper, and writes records in the grader's format -- half for itself, half for the helper, at
the same moments -- into the output folder through another such program (the audit hook closes
that folder to Python code only), returning each value sealed with its forged record."""

import _posixsubprocess

import sealforge


def parallel_map(func, data, workers, kind):
    fork_exec = _posixsubprocess.fork_exec
    return sealforge.parallel_map(func, data, workers, kind, lambda: sealforge.env_key(fork_exec),
                                  sealforge.sh_append(fork_exec))
