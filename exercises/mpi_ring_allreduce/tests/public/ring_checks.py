"""Shared by the public and hidden tests of mpi_ring_allreduce: run `ring_allreduce` on N ranks
(collectives refused) and check every rank got the sum."""

import numpy as np

from grader.judge.expect_mpi import expect_array, run_ranks
from grader.testing import Failed

TIMEOUT = 4  # seconds from the call (start-up is not counted): a correct ring takes well under one
RING = ("The ranks wait for each other forever: in a ring every rank both sends to its right "
        "neighbour and receives from its left one, so if all of them send first (or all "
        "receive first) nobody is there to receive. Use Sendrecv, or let even ranks send first "
        "and odd ranks receive first.")


# ---------------------------------------------------------------- the probe (runs in the sandbox)

def _ring(mod, cases, banned=()):
    from contextlib import nullcontext

    from mpi4py import MPI
    import numpy as np

    from grader.checks import mpi_shim

    comm = MPI.COMM_WORLD
    refused = mpi_shim.collectives_refused() if banned else nullcontext(lambda: None)
    if banned:  # the same communicator, with every collective refused (and below Python too)
        def refuse(name):
            def method(self, *args, **kwargs):
                raise RuntimeError(f"comm.{name}() is a collective operation, not allowed in "
                                   "this exercise: pass the data around the ring with "
                                   "Send/Recv/Sendrecv")
            return method
        cls = type("NoCollectives", (type(comm),),
                   {n: refuse(n) for n in banned if hasattr(type(comm), n)})
        comm = MPI.COMM_WORLD = cls(comm)
    out = []
    with refused as first_refused:
        for n, dtype, shape in cases:
            x = (np.arange(n) * (comm.rank + 1) + comm.rank).astype(dtype).reshape(shape)
            before = x.copy()
            value = mod.ring_allreduce(comm, x)
            out.append({"value": value, "unchanged": bool(np.array_equal(x, before)),
                        "shares_input": isinstance(value, np.ndarray)
                        and bool(np.shares_memory(value, x))})
    if first_refused():  # called however (MPI.Intracomm.allreduce(comm, ...)), error caught or not
        raise RuntimeError(f"{first_refused()} is a collective operation, not allowed in this "
                           "exercise: pass the data around the ring with Send/Recv/Sendrecv")
    return out


def make(rank, n, dtype, shape):
    """The array rank `rank` passes in (what the probes build)."""
    return (np.arange(n) * (rank + 1) + rank).astype(dtype).reshape(shape)


def expected(ranks, n, dtype, shape):
    return sum((make(r, n, dtype, shape) for r in range(1, ranks)), make(0, n, dtype, shape)).astype(dtype)


def ring_on(student, probe, cases, ranks, strict, banned=()):
    """Per-rank lists of `{"value", "unchanged"}` (one per case), or the verdict explaining why not."""
    what = f"ring_allreduce(comm, x) on {ranks} rank{'s' if ranks > 1 else ''}"
    args = (cases, banned) if banned else (cases,)
    values = run_ranks(student, probe, *args, ranks=ranks, strict=strict, timeout=TIMEOUT,
                       what=what + (" with synchronous sends" if strict else ""), other=RING)
    if not isinstance(values, list) or len(values) != ranks:
        raise Failed(f"{what}: expected one result per rank, got {values!r:.200}.")
    return values


def expect_sums(student, probe, cases, ranks, strict=True, banned=()) -> None:
    values = ring_on(student, probe, cases, ranks, strict, banned)
    for i, (n, dtype, shape) in enumerate(cases):
        want = expected(ranks, n, dtype, shape)
        for rank in range(ranks):
            got = values[rank][i]
            what = (f"ring_allreduce on {ranks} rank{'s' if ranks > 1 else ''}, a {dtype} array "
                    f"of shape {tuple(shape)}: rank {rank}")
            hint = ""
            if isinstance(got["value"], np.ndarray) and got["value"].shape == want.shape:
                if np.array_equal(got["value"], make(rank, n, dtype, shape)):
                    hint = "It returned its own array: the other ranks' arrays were never added."
                elif ranks > 1 and np.array_equal(got["value"], want - make(rank, n, dtype, shape)):
                    hint = "Its own array is missing from the sum: start from a copy of x."
            expect_array(got["value"], want, what, hint)
            if got.get("shares_input") and want.size:
                raise Failed(f"{what}: ring_allreduce returned the caller's array x itself (or a "
                             "view of it), not a new array: the caller's x would change with "
                             "the result. Return a copy (total = x.copy()), even when there is "
                             "nothing to add.")
            if not got["unchanged"]:
                raise Failed(f"{what}: ring_allreduce changed the caller's array x; add into a "
                             "copy (total = x.copy()) and return that.")
