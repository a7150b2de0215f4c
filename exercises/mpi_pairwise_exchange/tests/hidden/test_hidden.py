"""Hidden tests for mpi_pairwise_exchange."""

import sys
from pathlib import Path

import numpy as np

from grader.testing import Failed, requirement

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from swap_checks import exchange_on, expect_swapped, make  # noqa: E402


# ---------------------------------------------------------------- probes (run in the sandbox)

def _swap(mod, n, dtype, shape, offset):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    arr = (np.arange(n) + offset * comm.rank).astype(dtype).reshape(shape)
    return mod.exchange(comm, arr)


def _swap_many(mod, cases):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    out = []
    for n, dtype, shape, offset in cases:
        arr = (np.arange(n) + offset * comm.rank).astype(dtype).reshape(shape)
        out.append(mod.exchange(comm, arr))
    return out


def _swap_large(mod, n, step):
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    out = mod.exchange(comm, np.arange(n, dtype=np.float64) + n * comm.rank)
    if not isinstance(out, np.ndarray):
        return {"type": type(out).__name__}
    return {"type": "ndarray", "shape": list(out.shape), "dtype": str(out.dtype),
            "sample": out.ravel()[::step].tolist(), "sum": float(out.sum())}


def _keeps_input(mod, n):
    """One exchange, then a second one of the same shape and dtype: the first call's input
    unchanged, its result not the caller's array, and still what it was after the second call
    (a result is a new array, not a buffer the next call writes into)."""
    from mpi4py import MPI
    import numpy as np

    comm = MPI.COMM_WORLD
    arr = np.arange(n, dtype=np.int64) + 1000 * comm.rank
    before = arr.copy()
    out = mod.exchange(comm, arr)
    kept = out.copy() if isinstance(out, np.ndarray) else None
    again = mod.exchange(comm, arr + 7)
    return {"input_unchanged": bool(np.array_equal(arr, before)),
            "shares_input": isinstance(out, np.ndarray) and bool(np.shares_memory(out, arr)),
            "first_kept": kept is None or bool(np.array_equal(out, kept)) and not (
                isinstance(again, np.ndarray) and np.shares_memory(out, again)),
            "value": out}


def _swap_on_rotated(mod, n, dtype, shape, offset):
    """_swap on a communicator whose ranks are COMM_WORLD's rotated by one: [comm rank, result]."""
    from mpi4py import MPI
    import numpy as np

    world = MPI.COMM_WORLD
    comm = world.Split(0, (world.rank + 1) % world.size)
    arr = (np.arange(n) + offset * comm.rank).astype(dtype).reshape(shape)
    return [comm.rank, mod.exchange(comm, arr)]


# ---------------------------------------------------------------- tests

@requirement("odd-rank")
def test_one_rank_returns_its_own_array(student):
    """With 1 rank, exchange returns the rank's own array"""
    values = exchange_on(student, _swap, 10, "int64", [10], 1000, ranks=1, strict=True)
    expect_swapped(values, 1, lambda r: make(r, 10, "int64", [10], 1000), "1 rank, 10 int64")


@requirement("pairs", "no-deadlock")
def test_four_ranks_swap_in_pairs(student):
    """4 ranks: 0 and 1 swap, 2 and 3 swap (synchronous sends)"""
    values = exchange_on(student, _swap, 10, "int64", [10], 1000, ranks=4, strict=True)
    expect_swapped(values, 4, lambda r: make(r, 10, "int64", [10], 1000),
                    "4 ranks, 10 int64, synchronous sends")
    # The ranks of `comm`, whatever communicator it is: here COMM_WORLD's rotated by one
    pairs = exchange_on(student, _swap_on_rotated, 10, "int64", [10], 1000, ranks=4, strict=True)
    by_rank = {p[0]: p[1] for p in pairs if isinstance(p, list) and len(p) == 2}
    what = "4 ranks of a communicator whose rank r is rank r - 1 of COMM_WORLD"
    try:
        expect_swapped([by_rank.get(r) for r in range(4)], 4,
                       lambda r: make(r, 10, "int64", [10], 1000), what)
    except Failed as exc:
        raise Failed(exc.message + " Pair the ranks of the communicator exchange is given "
                     "(comm.Get_rank(), comm.Get_size(), and send and receive on comm), not "
                     "MPI.COMM_WORLD's.", **exc.details) from None


@requirement("odd-rank")
def test_five_ranks_last_rank_keeps_its_array(student):
    """5 ranks: pairs swap and rank 4, without a partner, keeps its own array"""
    values = exchange_on(student, _swap, 10, "int64", [10], 1000, ranks=5, strict=True)
    expect_swapped(values, 5, lambda r: make(r, 10, "int64", [10], 1000),
                    "5 ranks, 10 int64, synchronous sends")


@requirement("pairs", "new-array")
def test_dtypes_and_shapes(student):
    """Arrays of other dtypes and shapes (and empty ones) are swapped unchanged"""
    cases = [[7, "float32", [7], 1000], [6, "complex128", [3, 2], 1000],
             [12, "int8", [3, 4], 20], [5, "uint16", [5], 1000], [0, "float64", [0], 1000],
             [8, "bool", [2, 2, 2], 1]]
    values = exchange_on(student, _swap_many, cases, ranks=4, strict=False)
    if not isinstance(values, list) or len(values) != 4:
        raise Failed(f"expected one result per rank, got {values!r:.200}.")
    for i, (n, dtype, shape, offset) in enumerate(cases):
        per_rank = [v[i] if isinstance(v, list) and len(v) == len(cases) else v for v in values]
        expect_swapped(per_rank, 4, lambda r: make(r, n, dtype, shape, offset),
                        f"4 ranks, a {dtype} array of shape {tuple(shape)}")


@requirement("no-deadlock")
def test_large_message(student):
    """2 ranks swap arrays of a million float64 (8 MB) without deadlock"""
    n, step = 1_000_000, 99_991
    values = exchange_on(student, _swap_large, n, step, ranks=2, strict=False)
    for rank in range(2):
        exp = np.arange(n, dtype=np.float64) + n * (1 - rank)
        expected = {"type": "ndarray", "shape": [n], "dtype": "float64",
                    "sample": exp[::step].tolist(), "sum": float(exp.sum())}
        got = values[rank] if isinstance(values, list) and len(values) == 2 else values
        if got != expected:
            raise Failed(f"2 ranks, {n} float64: rank {rank} did not get the array of rank "
                         f"{1 - rank} (returned {got!r:.300}).", got=repr(got)[:500])


@requirement("new-array")
def test_input_array_left_unchanged(student):
    """exchange returns a new array and leaves the caller's array unchanged (odd ranks too)"""
    for ranks in (2, 3):
        _expect_new_arrays(student, ranks)


def _expect_new_arrays(student, ranks):
    """Every rank's input unchanged and its result a new array (the values are judged by the
    pairing tests: a wrong partner must not fail this one too)."""
    values = exchange_on(student, _keeps_input, 10, ranks=ranks, strict=False)
    if ranks == 2:
        expect_swapped([v.get("value") if isinstance(v, dict) else v for v in values], ranks,
                        lambda r: make(r, 10, "int64", [10], 1000), f"{ranks} ranks, 10 int64")
    for rank, v in enumerate(values):
        if not v["input_unchanged"]:
            raise Failed(f"On rank {rank}, exchange changed the caller's array: receive into a new "
                         "array (np.empty_like(arr)) and return that.")
        if not v.get("first_kept", True):
            raise Failed(f"On rank {rank} of {ranks}, a second call of exchange changed the array "
                         "the first call had returned: the result is a buffer that every call "
                         "reuses. Return a new array each time (np.empty_like(arr) in the call).")
        if v["shares_input"]:
            alone = " (the rank without a partner returns a copy of its array)" if (
                ranks % 2 and rank == ranks - 1) else ""
            raise Failed(f"On rank {rank} of {ranks}, exchange returned an array that shares memory "
                         f"with the caller's array{alone}: return a new array.")
