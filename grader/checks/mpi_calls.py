"""Standard-mode MPI: each rank's blocking calls shown on its wait board, unchanged otherwise.

Outside strict mode (`student.run(..., ranks=N)` without `mpi={"strict": True}`) MPI's
semantics are the student's to rely on: a small standard send returns at once (eager
protocol), a big one waits for its receive. `watched(MPI.COMM_WORLD)` replaces the world
communicator before the student's module is imported with a subclass instance sharing its
handle (as strict mode does) whose calls are the very same MPI calls, with this around each:

* a blocking point-to-point call (`Send`, `send`, `Ssend`, `Rsend`, `Recv`, `recv`, `Probe`,
  `probe`, `Sendrecv`, `sendrecv`, `Sendrecv_replace`) or collective (`Barrier`, `bcast`,
  `Reduce`... on an intracommunicator) writes on the rank's `WaitBoard`, before it starts, what
  it waits for: the COMM_WORLD rank it sends to and its tag, the rank (or `ANY_SOURCE`) it
  receives from and its tag (or `ANY_TAG`), or, for a collective, the COMM_WORLD ranks of its
  communicator; and that it left, once it returns or raises;
* a call that leaves a request or a matched message in the student's hands (`Isend`, `Irecv`,
  `Ibarrier`, `Send_init`, `Mprobe`, `Idup`...) or brings in processes from outside the job
  (`Spawn`, `Connect`...) taints the board for the rest of the run: what a request the student
  keeps may still match is not on any board, so no deadlock of that rank is ever proven;
* communicators derived from it (`Dup`, `Split`, `Create_cart`...) are watched as well.

From the boards the supervisor proves a deadlock at once (`grader.agent.mpi_stuck.WaitFor`)
when no rank's call can be matched by any other rank's call, whatever the message sizes and
MPI's eager limit. MPICH busy-polls inside these calls, so the proof also asks that every
waiting rank's thread ran long enough between two looks for a message already on its way to
have matched. Calls not listed here (`MPI.Comm.Send(comm, ...)` through the base class, a
`Win`, a neighbourhood collective) are not shown: a rank inside one is not waiting on its
board, so nothing is proven and the hang waits for its timeout, as before.
"""

from __future__ import annotations

from grader.checks.mpi_setup import _CREATORS, _OUTSIDERS, COLLECTIVES, WaitBoard

B = WaitBoard
# name -> (kind, position and name of dest, of sendtag, of source, of recvtag); None: no such part
_P2P = {
    "Send": (B.SEND, (1, "dest"), (2, "tag"), None, None),
    "send": (B.SEND, (1, "dest"), (2, "tag"), None, None),
    "Ssend": (B.SEND, (1, "dest"), (2, "tag"), None, None),
    "ssend": (B.SEND, (1, "dest"), (2, "tag"), None, None),
    "Rsend": (B.SEND, (1, "dest"), (2, "tag"), None, None),
    "Recv": (B.RECV, None, None, (1, "source"), (2, "tag")),
    "recv": (B.RECV, None, None, (1, "source"), (2, "tag")),
    "Probe": (B.RECV, None, None, (0, "source"), (1, "tag")),
    "probe": (B.RECV, None, None, (0, "source"), (1, "tag")),
    "Sendrecv": (B.SENDRECV, (1, "dest"), (2, "sendtag"), (4, "source"), (5, "recvtag")),
    "sendrecv": (B.SENDRECV, (1, "dest"), (2, "sendtag"), (4, "source"), (5, "recvtag")),
    "Sendrecv_replace": (B.SENDRECV, (1, "dest"), (2, "sendtag"), (3, "source"), (4, "recvtag")),
}
# Calls whose result the student keeps and whose matching is then out of sight: a request
# (nonblocking, persistent, partitioned), a matched message (Mprobe), a pending duplicate.
# Collectives that end on no rank before every rank of the communicator has called them
# (each rank's result needs every rank's part); the others (bcast, reduce, gather, scatter,
# scan) may end early on some ranks.
_EVERY_RANK = ("barrier", "allreduce", "allgather", "alltoall", "reduce_scatter")
_NOT_OURS = ("Iprobe", "iprobe", "Is_inter", "Is_intra", "Is_revoked")


def _taints(name: str) -> bool:
    return (
        (name[:1] in "Ii" and name[1:2].isalpha())
        or name.endswith("_init")
        or name in ("Mprobe", "mprobe")
    ) and name not in _NOT_OURS


_watched_classes: dict = {}


def watched(comm):
    """`comm` as a watched communicator of the same kind, sharing its MPI handle."""
    from mpi4py import MPI

    if isinstance(comm, tuple):  # Idup: (communicator, request)
        return (watched(comm[0]), *comm[1:])
    if not isinstance(comm, MPI.Comm) or comm == MPI.COMM_NULL or getattr(comm, "_watched", False):
        return comm
    return _watched_class(type(comm))(comm)


def _watched_class(base: type) -> type:
    if base not in _watched_classes:
        from mpi4py import MPI

        namespace: dict = {"_watched": True}
        intra = issubclass(base, MPI.Intracomm)
        for name in dir(base):
            if name.startswith("_"):
                continue
            call = getattr(base, name)
            if not callable(call):  # a property (`rank`, `is_inter`...)
                continue
            if name in _P2P:
                namespace[name] = _shown(call, _P2P[name])
            elif intra and name in COLLECTIVES:
                namespace[name] = _shown(call, name.lower().startswith(_EVERY_RANK))
            elif name in _CREATORS:
                wrap = _tainting(call) if _taints(name) else call
                namespace[name] = _keeps_watched(wrap, name)
            elif _taints(name) or name in _OUTSIDERS:
                namespace[name] = _tainting(call)
        namespace["__doc__"] = f"{base.__name__} whose blocking calls are shown (grader)."
        _watched_classes[base] = type(f"Watched{base.__name__}", (base,), namespace)
    return _watched_classes[base]


def _keeps_watched(create, name: str):
    def method(self, *args, **kwargs):
        return watched(create(self, *args, **kwargs))

    method.__name__, method.__doc__ = name, create.__doc__
    return method


def _tainting(call):
    def method(self, *args, **kwargs):
        if WaitBoard.current:
            WaitBoard.current.taint()
        return call(self, *args, **kwargs)

    method.__name__, method.__doc__ = call.__name__, call.__doc__
    return method


def _shown(call, parts):
    """`call`, shown on the board while it runs: a point-to-point call (`parts` from `_P2P`)
    or a collective (`parts` True if it needs every rank, False if not)."""

    def method(self, *args, **kwargs):
        board = WaitBoard.current
        if board is None:
            return call(self, *args, **kwargs)
        board.enter(_describe(self, parts, args, kwargs))
        try:
            return call(self, *args, **kwargs)
        finally:
            board.leave()

    method.__name__, method.__doc__ = call.__name__, call.__doc__
    return method


def _describe(comm, parts, args, kwargs) -> tuple:
    """(kind, dest, sendtag, source, recvtag, group) of a call, in COMM_WORLD ranks; a call that
    cannot be described (odd arguments, a communicator whose ranks are not known) is shown as
    one that could match anything: it never helps to prove a deadlock."""
    try:
        world = _world_ranks(comm)
        if type(parts) is bool:
            mask = 0
            for r in world or ():
                mask |= 1 << r if 0 <= r < 64 else B.EVERYONE
            kind = B.ALL_TO_ALL if parts else B.COLLECTIVE
            return (kind, B.NOBODY, 0, B.NOBODY, 0, mask if world else B.EVERYONE)
        kind, dest, sendtag, source, recvtag = parts

        def arg(spec, default):
            at, name = spec
            return args[at] if len(args) > at else kwargs.get(name, default)

        def peer(spec) -> int:
            if spec is None:
                return B.NOBODY
            r = int(arg(spec, _any_source()))
            if r < 0:  # ANY_SOURCE, or PROC_NULL (a call that returns at once)
                return B.ANY if r == _any_source() else B.UNKNOWN
            return world[r] if world and r < len(world) else B.UNKNOWN

        def tag(spec, default) -> int:
            if spec is None:
                return 0
            t = int(arg(spec, default))
            return B.ANY if t == _any_tag() else t if t >= 0 else B.UNKNOWN

        return (kind, peer(dest), tag(sendtag, 0), peer(source), tag(recvtag, _any_tag()), 0)
    except Exception:  # the call itself will say what is wrong with its arguments
        return (B.NONE, B.NOBODY, 0, B.NOBODY, 0, 0)


_WILDCARDS: list[int] = []


def _any_source() -> int:
    if not _WILDCARDS:
        from mpi4py import MPI

        _WILDCARDS.extend((MPI.ANY_SOURCE, MPI.ANY_TAG))
    return _WILDCARDS[0]


def _any_tag() -> int:
    _any_source()
    return _WILDCARDS[1]


def _world_ranks(comm) -> tuple | None:
    """COMM_WORLD rank of each rank of `comm` (of its remote group for an intercommunicator:
    where its messages go), kept on the communicator; None if not known."""
    known = comm.__dict__.get("_world")
    if known is not None:
        return known or None
    from mpi4py import MPI

    try:
        group = comm.Get_remote_group() if comm.Is_inter() else comm.Get_group()
        world = MPI.Comm.Get_group(MPI.COMM_WORLD)
        try:
            ranks = tuple(MPI.Group.Translate_ranks(group, list(range(group.Get_size())), world))
        finally:
            group.Free()
            world.Free()
        ranks = () if any(r < 0 for r in ranks) else ranks
    except Exception:
        ranks = ()
    comm.__dict__["_world"] = ranks
    return ranks or None
