"""Shared by the public and hidden tests of mpi_collective_stats: run `distributed_stats` on N
ranks and check the root's (mean, std) and everyone else's None."""

import math

import numpy as np

from grader.judge.expect_mpi import run_ranks
from grader.testing import Failed

TIMEOUT = 4  # seconds from the call: a correct solution takes well under one


# ---------------------------------------------------------------- the probe (runs in the sandbox)

def _stats(mod, n, seed, root, loc=50.0):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    data = np.random.default_rng(seed).normal(loc, 10.0, n) if comm.rank == root else None
    return mod.distributed_stats(comm, data, root=root)


def make(n, seed, loc=50.0):
    """The data the root passes in (what the probes build): normal numbers around `loc`."""
    return np.random.default_rng(seed).normal(loc, 10.0, n)


def _close(got, want) -> bool:
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def _hint(got, data, ranks) -> str:
    """Why a wrong (mean, std) may be wrong: the usual slips, recognised by their numbers."""
    kept = data[:len(data) // ranks * ranks]
    if kept.size and kept.size < data.size and _close(got[0], kept.mean()):
        return (f"It matches the first {kept.size} of the {data.size} numbers only: parts of "
                f"len // size elements drop the last {data.size - kept.size}; "
                "numpy.array_split makes parts that differ by at most one.")
    parts = [p for p in np.array_split(data, ranks)]
    mean_right = _close(got[0], float(data.mean()))
    if data.size > 1 and mean_right and _close(got[1], float(data.std(ddof=1))):
        return ("That is the sample standard deviation (the squared deviations divided by "
                "count - 1, ddof=1); numpy.std(data) divides by count (ddof=0).")
    if not mean_right and all(p.size for p in parts) and _close(
            got[0], float(np.mean([p.mean() for p in parts]))):
        return ("It is the average of the parts' means, which is wrong when the parts have "
                "different lengths: add up counts and sums instead.")
    if abs(data.mean()) > 1000 * data.std() and _close(got[0], data.mean()):
        return ("The mean is right but the deviation is not: the sum of squares minus count "
                "times the squared mean cancels almost every digit when the numbers are large "
                "compared to their spread. Reduce the mean first, then the sum of squared "
                "deviations from it, as numpy.std does.")
    if any(isinstance(x, float) and math.isnan(x) for x in got):
        return ("nan usually comes from the mean of an empty part: with fewer elements than "
                "ranks some ranks get nothing; combine counts and sums instead of means.")
    return ""


def expect_stats(student, probe, n, seed, ranks, root=0, strict=True, loc=50.0) -> None:
    what = (f"distributed_stats on {ranks} rank{'s' if ranks > 1 else ''} "
            f"({n} numbers" + (f" around {loc:g}" if loc != 50.0 else "") + f" on root {root})")
    values = run_ranks(student, probe, n, seed, root, loc, ranks=ranks, strict=strict,
                       timeout=TIMEOUT, what=what)
    if not isinstance(values, list) or len(values) != ranks:
        raise Failed(f"{what}: expected one result per rank, got {values!r:.200}.")
    data = make(n, seed, loc)
    want = (float(data.mean()), float(data.std()))
    for rank, got in enumerate(values):
        if rank != root:
            if got is not None:
                raise Failed(f"{what}: rank {rank} returned {got!r:.100}, expected None: only "
                             f"the root (rank {root}) returns the result.")
            continue
        try:
            pair = tuple(float(x) for x in got)
        except (TypeError, ValueError):
            pair = None
        if pair is None or len(pair) != 2:
            raise Failed(f"{what}: the root returned {got!r:.100}, expected a pair (mean, std)"
                         + (f" on rank {root} (the root), not on rank 0" if got is None and root else "")
                         + ".")
        if not (_close(pair[0], want[0]) and _close(pair[1], want[1])):
            raise Failed(f"{what}: the root returned (mean, std) = ({pair[0]!r}, {pair[1]!r}), "
                         f"expected ({want[0]!r}, {want[1]!r}). " + _hint(pair, data, ranks),
                         expected=repr(want), got=repr(pair))
