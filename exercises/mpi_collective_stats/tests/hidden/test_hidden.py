"""Hidden tests for mpi_collective_stats."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "public"))
from stats_checks import _stats, expect_stats  # noqa: E402

from grader.testing import Failed, requirement  # noqa: E402


def _received(mod, n, seed, root):
    """distributed_stats on a communicator that counts the numbers each rank receives through
    the calls that hand out data (scatter, bcast, receives; not the reductions' results), and
    digests what each rank hands on (sends, and its part of reductions and gathers); called a
    second time on other data, so that what a rank hands on can be seen to depend on the data."""
    from mpi4py import MPI
    import hashlib
    import pickle
    import numpy as np

    comm = MPI.COMM_WORLD
    got, sent = [0], [[], []]
    run = [0]

    def size(obj):
        try:
            return int(np.size(obj)) if not isinstance(obj, (str, bytes)) else 0
        except Exception:  # noqa: BLE001 - an object numpy cannot size counts as nothing
            return 0

    def digest(obj):
        if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], np.ndarray):
            obj = obj[0]  # [buffer, MPI datatype]
        try:
            data = obj.tobytes() if isinstance(obj, np.ndarray) else pickle.dumps(obj)
        except Exception:  # noqa: BLE001 - what cannot be pickled is told by its type
            data = repr(type(obj)).encode()
        return hashlib.sha1(data).hexdigest()

    def wrapped(name, received=None, handed=None):
        """received: "result" or the position of the receive buffer; handed: the position
        (and keyword) of what the call hands on."""
        def method(self, *args, **kwargs):
            if handed is not None:
                position, keyword = handed
                obj = args[position] if len(args) > position else kwargs.get(keyword)
                if obj is not None and obj is not MPI.IN_PLACE:
                    sent[run[0]].append(digest(obj))
            out = getattr(super(cls, self), name)(*args, **kwargs)
            if run[0] == 0 and received == "result":
                if not (name == "bcast" and self.Get_rank() == kwargs.get("root", 0)):
                    got[0] += size(out)
            elif run[0] == 0 and received is not None:
                buf = (args[received] if len(args) > received
                       else kwargs.get("recvbuf", kwargs.get("buf")))
                root_bcast = name == "Bcast" and self.Get_rank() == kwargs.get("root", 0)
                if buf is not None and not root_bcast:
                    got[0] += size(buf[0] if isinstance(buf, (list, tuple)) else buf)
            return out
        return method

    methods = {
        **{n: wrapped(n, received="result") for n in ("scatter", "bcast", "recv")},
        "sendrecv": wrapped("sendrecv", received="result", handed=(0, "sendobj")),
        **{n: wrapped(n, received=1) for n in ("Scatter", "Scatterv")},
        **{n: wrapped(n, received=0) for n in ("Recv", "Bcast")},
        "Sendrecv": wrapped("Sendrecv", received=5, handed=(0, "sendbuf")),
        **{n: wrapped(n, handed=(0, "obj")) for n in ("send", "ssend", "isend", "issend", "bsend")},
        **{n: wrapped(n, handed=(0, "sendobj"))
           for n in ("reduce", "allreduce", "gather", "allgather", "alltoall", "scan", "exscan")},
        **{n: wrapped(n, handed=(0, "buf")) for n in ("Send", "Ssend", "Isend", "Issend", "Bsend",
                                                      "Rsend")},
        **{n: wrapped(n, handed=(0, "sendbuf"))
           for n in ("Reduce", "Allreduce", "Gather", "Gatherv", "Allgather", "Allgatherv",
                     "Alltoall", "Scan", "Exscan", "Reduce_scatter", "Reduce_scatter_block")},
    }
    cls = type("Counted", (type(comm),),
               {k: v for k, v in methods.items() if hasattr(type(comm), k)})
    comm = MPI.COMM_WORLD = cls(comm)
    values = []
    for run[0], s in enumerate((seed, seed + 1000)):
        data = np.random.default_rng(s).normal(50.0, 10.0, n) if comm.rank == root else None
        values.append(mod.distributed_stats(comm, data, root=root))
    return {"value": values[0], "received": got[0],
            "handed_on": [hashlib.sha1(" ".join(d).encode()).hexdigest() for d in sent],
            "calls": [len(d) for d in sent]}


# ---------------------------------------------------------------- tests

@requirement("population-std")
def test_one_rank(student):
    """1 rank: the mean and standard deviation of all the data"""
    expect_stats(student, _stats, 17, 3, ranks=1)


@requirement("any-length")
def test_length_not_divisible_by_ranks(student):
    """Lengths that do not divide by the rank count (10 on 3 ranks, 23 on 4, 11 on 5)"""
    for n, ranks, seed in ((10, 3, 4), (23, 4, 5), (11, 5, 6)):
        expect_stats(student, _stats, n, seed, ranks=ranks)


@requirement("any-length")
def test_fewer_elements_than_ranks(student):
    """Fewer numbers than ranks: 3 numbers on 5 ranks, 1 number on 2 ranks"""
    for n, ranks, seed in ((3, 5, 7), (1, 2, 8)):
        expect_stats(student, _stats, n, seed, ranks=ranks)


@requirement("root-only")
def test_another_root(student):
    """The data and the result on rank 2 of 3, then on rank 3 of 4"""
    for ranks, root, seed in ((3, 2, 9), (4, 3, 10)):
        expect_stats(student, _stats, 30, seed, ranks=ranks, root=root)


@requirement("population-std")
def test_large_data(student):
    """A million numbers on 3 ranks, and numbers large compared to their spread"""
    expect_stats(student, _stats, 1_000_000, 11, ranks=3, strict=False)
    expect_stats(student, _stats, 1001, 12, ranks=3, loc=1e6)  # as numpy.std, to 1e-9


@requirement("shared")
def test_every_rank_gets_its_share(student):
    """The work is shared: every other rank receives its part of the data and computes on it"""
    from grader.judge.expect_mpi import run_ranks

    n, ranks, root = 40, 4, 1
    what = f"distributed_stats on {ranks} ranks ({n} numbers on root {root})"
    values = run_ranks(student, _received, n, 3, root, ranks=ranks, strict=True, timeout=4,
                       what=what)
    share = n // ranks
    short = {rank: v["received"] for rank, v in enumerate(values)
             if rank != root and v["received"] < share}
    if short:
        raise Failed(f"In {what}, ranks {sorted(short)} received only {sorted(short.values())} "
                     f"number(s) of data, less than their share ({share}): the root computed "
                     "(almost) everything itself. Hand every rank its part (comm.scatter of "
                     "numpy.array_split(data, size)) and combine the partial sums with reduce.",
                     received={r: v["received"] for r, v in enumerate(values)})
    # Receiving is not computing (tests/attacks/mpi_stats_root_does_all_bcast: a bcast of all
    # the data, dropped): what a rank hands on must change when its part of the data does.
    idle = [rank for rank, v in enumerate(values)
            if rank != root and v["handed_on"][0] == v["handed_on"][1]]
    if idle:
        raise Failed(f"In {what}, called twice on different data, ranks {idle} handed on exactly "
                     "the same thing both times (sent nothing, or nothing that depends on their "
                     "part): they received data but computed nothing with it, and the root "
                     "computed everything itself. Each rank must compute on its own part (its "
                     "count, sum and sum of squares) and hand that on (comm.reduce).",
                     handed_on_calls={r: v["calls"] for r, v in enumerate(values)})
    expect_stats(student, _stats, n, 3, ranks=ranks, root=root)
