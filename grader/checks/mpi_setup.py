"""MPI set-up inside an agent rank: initialise mpi4py and, in strict mode, make sends synchronous.

Strict mode (`student.run(..., ranks=N, mpi={"strict": True})`) gives the student's code a
`MPI.COMM_WORLD` on which

* standard sends are synchronous: `send`, `Send`, `isend`, `Isend`, `Send_init` behave as
  `ssend`, `Ssend`, `issend`, `Issend`, `Ssend_init`. A standard send of a small message
  returns as soon as MPICH has copied it (eager protocol), so "both ranks send first" only
  hangs above the eager limit; a synchronous send returns only once the matching receive has
  started, so that mistake deadlocks at any message size, as the MPI standard allows;
* blocking point-to-point calls (`send`, `Send`, `ssend`, `Ssend`, `recv`, `Recv`, `sendrecv`,
  `Sendrecv`) wait without spinning. MPICH busy-polls inside a blocking call, so a deadlocked
  rank would burn a whole core and the supervisor would call the hang a busy loop (timeout).
  These calls start the nonblocking form (`Issend`, `Improbe`...) and poll it: without pause
  for `SPIN_SECONDS`, then sleeping 1 ms, doubling up to `MAX_SLEEP_SECONDS` (so a message is
  never noticed later than the time already waited). A rank blocked for good then uses less
  than 0.002 CPU-seconds per second and the hang reads as a deadlock; each wait is recorded on
  the rank's `WaitBoard`, from which the supervisor proves a deadlock at once
  (`grader.agent.mpi_stuck`). While an operation the strict calls started may still be
  moving data (`InFlight`: without CMA, MPICH moves 8 KB per poll of both ranks), the waits
  poll without napping, for at most its size over `MIN_RATE`, so a large transfer is never
  taken for a deadlock. Waits on requests the student holds (`req.Wait()`, `Request.Waitall`)
  and collectives still spin;
* communicators derived from it (`Dup`, `Clone`, `Split`, `Create`, `Create_cart`, `Sub`...)
  are strict as well;
* collectives must agree: before each collective on an intracommunicator (`bcast`, `Reduce`,
  `Barrier`...), the ranks compare which collective they are in and its root, on a private
  duplicate of the communicator, waiting idle. When ranks disagree (rank 0 in `bcast` while rank
  1 is in `reduce`, or different roots), every rank raises `CollectiveMismatch` naming each
  rank's call at once, instead of hanging or mixing up the messages. A rank that skips a
  collective altogether leaves the others waiting idle: the hang reads as a deadlock at that
  line.

Below Python, the ranks of every MPI request run with `mpi_strict.c` preloaded (`shim_library`,
set as LD_PRELOAD by the supervisor, with `STRICT_ENV` set in strict mode); in strict mode it
defines MPI_Send, MPI_Isend and MPI_Send_init (and
their large-count forms), and the ready sends MPI_Rsend, MPI_Irsend, MPI_Rsend_init, as
PMPI_Ssend, PMPI_Issend and PMPI_Ssend_init, so every standard (or ready) send
of the process is synchronous whatever Python object made it -- the unbound `MPI.Comm.Send` of
the extension type, a communicator class rebuilt from the original `__mro__` -- which Python
subclasses alone cannot promise. The subclasses below add what C cannot: waiting without
spinning, and collectives that must agree.

Outside strict mode the ranks' blocking calls are MPI's own, shown on the same `WaitBoard`
by `grader.checks.mpi_calls` so that the supervisor can prove a deadlock there too.

How: mpi4py's communicator classes are extension types, so their methods cannot be replaced,
but they can be subclassed, a subclass instance built from a communicator shares its MPI
handle (nothing is duplicated or freed), and `MPI.COMM_WORLD` is a plain module attribute.
`init` replaces it with a strict instance before the student's module is imported, so
`MPI.COMM_WORLD` read anywhere later (`from mpi4py.MPI import COMM_WORLD` included) is strict.
`MPI.Intracomm` (and `Cartcomm`, `Graphcomm`, `Distgraphcomm`) are replaced by their strict
subclasses too, and `MPI.COMM_SELF` is strict too, so `MPI.Intracomm(comm)` or `type(MPI.COMM_SELF)(comm)`
cannot rebuild a standard communicator. (Code set on escaping can still find the original class
in the strict one's `__mro__`: these checks run in the student's own process.)
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from grader.checks import mpi_shim

SPIN_SECONDS = 0.02  # poll without sleeping this long first: quick messages keep their speed
MAX_SLEEP_SECONDS = 0.05  # then sleep between polls: 1 ms, doubling up to this
AGREE_SPIN_SECONDS = 0.002  # before a collective: ranks often wait there for the slowest one
BURST = 64  # polls in a row: MPICH's shared-memory queue holds 64 cells of 8 KB
MIN_RATE = 16e6  # bytes/s a transfer moves at least while both ranks poll (about 900 measured)
MAX_IN_FLIGHT = 1024  # operations followed at most (the credit counts every one)

# Methods that return a new communicator (or, for Idup*, a (communicator, request) tuple).
_CREATORS = (
    "Dup",
    "Dup_with_info",
    "Idup",
    "Idup_with_info",
    "Clone",
    "Split",
    "Split_type",
    "Create",
    "Create_group",
    "Create_cart",
    "Create_graph",
    "Create_dist_graph",
    "Create_dist_graph_adjacent",
    "Create_intercomm",
    "Merge",
    "Sub",
)

_strict_classes: dict = {}
COMM_CLASSES = ("Intracomm", "Cartcomm", "Graphcomm", "Distgraphcomm")


def init(options: dict, outdir: str | None = None, watch=None) -> int:
    """Set this rank up: its wait board in `outdir`, then strict mode or, outside it, `watch`
    (`grader.checks.mpi_calls.watched`, handed in: that module builds on this one) around
    COMM_WORLD, then any forced match order. This rank's number."""
    from mpi4py import MPI

    if outdir:  # strict mode's polled waits, or standard mode's watched calls, are shown here
        WaitBoard.open(outdir, MPI.COMM_WORLD.Get_rank())
    if not options.get("strict") and WaitBoard.current and watch is not None:
        MPI.COMM_WORLD = watch(MPI.COMM_WORLD)  # type: ignore[misc]
    if options.get("strict"):
        # the check itself: mpi4py's communicators (Final in its stubs) replaced by ours
        MPI.COMM_WORLD = strict(MPI.COMM_WORLD)  # type: ignore[misc]
        # `MPI.Intracomm(comm)` and friends must not rebuild a standard communicator.
        for name in COMM_CLASSES:
            setattr(MPI, name, _strict_class(getattr(MPI, name)))
        MPI.COMM_SELF = strict(MPI.COMM_SELF)  # type: ignore[misc]
    if options.get("order"):
        MPI.COMM_WORLD = delayed(  # type: ignore[misc]
            MPI.COMM_WORLD, options["order"], int(options.get("seed", 0))
        )
    return MPI.COMM_WORLD.Get_rank()


# ---------------------------------------------------------------- forced match orders

SEND_METHODS = (
    "send",
    "Send",
    "ssend",
    "Ssend",
    "isend",
    "Isend",
    "issend",
    "Issend",
    "bsend",
    "Bsend",
)
ORDER_STEP = 0.05  # seconds between ranks' sends in a forced order


def delayed(comm, order: str, seed: int):
    """`comm` whose sends wait first, so that messages reach `ANY_SOURCE` receives in a forced
    order: "reverse" (the highest rank's arrive first) or "seeded" (a seeded shuffle of ranks).
    Code that assumes messages arrive in rank order then fails every time, not now and then."""
    import random

    size, rank = comm.Get_size(), comm.Get_rank()
    if order == "reverse":
        position = size - 1 - rank
    elif order == "seeded":
        ranks = list(range(size))
        random.Random(seed).shuffle(ranks)
        position = ranks.index(rank)
    else:
        raise ValueError(f"unknown MPI order {order!r} (reverse or seeded)")
    pause = position * ORDER_STEP
    base = type(comm)

    def wrap(name):
        send = getattr(base, name)

        def method(self, *args, **kwargs):
            time.sleep(pause)
            return send(self, *args, **kwargs)

        method.__name__ = name
        return method

    namespace = {name: wrap(name) for name in SEND_METHODS if hasattr(base, name)}
    return type(f"Ordered{base.__name__}", (base,), namespace)(comm)


SHIM_SOURCE = Path(__file__).with_name("mpi_strict.c")
STRICT_ENV = "PGRADER_MPI_STRICT"  # "1": the preloaded library makes standard sends synchronous
SHIM_BUILT = SHIM_SOURCE.with_suffix(".so")  # built into the sandbox image next to its source


def shim_library() -> str | None:
    """The synchronous-sends library for LD_PRELOAD: the one built with the sandbox image, or
    (on a host, for the local backend) one compiled once into the user's cache; None if there
    is no compiler here (strict mode then rests on the Python subclasses alone)."""
    if SHIM_BUILT.is_file():
        return str(SHIM_BUILT)
    digest = hashlib.sha256(SHIM_SOURCE.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pgrader"
    target = cache / f"mpi_strict-{digest}.so"
    if target.is_file():
        return str(target)
    try:
        build_shim(target)
    except (OSError, subprocess.SubprocessError):
        return None
    return str(target)


def build_shim(target: Path) -> None:
    """Compile mpi_strict.c into `target` (atomically: concurrent builders may race)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise OSError("no C compiler")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        subprocess.run(
            [cc, "-shared", "-fPIC", "-O2", "-o", part, str(SHIM_SOURCE), "-ldl"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        os.chmod(part, 0o755)  # mkstemp made it 0600: the ranks run as the student's uid
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def finalize() -> None:
    from mpi4py import MPI

    if MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.Finalize()


# ---------------------------------------------------------------- strict communicators


def strict(comm):
    """`comm` as a strict communicator of the same kind, sharing its MPI handle."""
    from mpi4py import MPI

    if isinstance(comm, tuple):  # Idup: (communicator, request)
        return (strict(comm[0]), *comm[1:])
    if not isinstance(comm, MPI.Comm) or comm == MPI.COMM_NULL or getattr(comm, "_strict", False):
        return comm
    return _strict_class(type(comm))(comm)


def _strict_class(base: type) -> type:
    if base not in _strict_classes:
        from mpi4py import MPI

        namespace = dict(_strict_methods(MPI))
        if issubclass(base, MPI.Intracomm):
            for name in COLLECTIVES:
                if hasattr(base, name):
                    namespace[name] = _agreed(name, getattr(base, name))
        for name in _CREATORS:
            if hasattr(base, name):
                namespace[name] = _keeps_strict(getattr(base, name))
        for name in _OUTSIDERS:
            if hasattr(base, name):
                namespace[name] = _taints_board(getattr(base, name))
        namespace["__doc__"] = f"{base.__name__} whose sends are synchronous (grader strict mode)."
        _strict_classes[base] = type(f"Strict{base.__name__}", (base,), namespace)
    return _strict_classes[base]


# Calls that bring in MPI processes beyond the job's ranks (which keep no wait board): once one
# is made, no deadlock of this rank is ever proven.
_OUTSIDERS = ("Spawn", "Spawn_multiple", "Accept", "Connect")


def _taints_board(call):
    def method(self, *args, **kwargs):
        if WaitBoard.current:
            WaitBoard.current.taint()
        return call(self, *args, **kwargs)

    method.__name__ = call.__name__
    method.__doc__ = call.__doc__
    return method


def _keeps_strict(create):
    def method(self, *args, **kwargs):
        return strict(create(self, *args, **kwargs))

    method.__name__ = create.__name__
    method.__doc__ = create.__doc__
    return method


@mpi_shim.waiting  # its CPU is a rank's waiting, not its computing (polls: no student code)
def _wait(poll, spin: float = SPIN_SECONDS):
    """Call `poll()` until it returns something other than None/False; return that.

    Polls come in bursts of `BURST`. Between bursts: nothing for `spin` seconds, nor while the
    rank's operations in flight (`IN_FLIGHT`) may still be moving data, then naps of 1 ms doubling
    up to `MAX_SLEEP_SECONDS`. Each burst after the first nap is counted as a poll on the rank's
    `WaitBoard` (no deadlock is proven before every waiting rank has napped)."""
    start, pause = time.monotonic(), 0.001
    board = WaitBoard.current
    if board:
        board.enter()
    try:
        while True:
            began = time.monotonic()
            for _ in range(BURST):
                result = poll()
                if result is not None and result is not False:
                    return result
            now = time.monotonic()
            if now - start <= spin or IN_FLIGHT.spend(now - began):
                continue
            if board and pause > 0.001:
                board.polled()
            time.sleep(pause)
            pause = min(2 * pause, MAX_SLEEP_SECONDS)
    finally:
        if board:
            board.leave()


class InFlight:
    """The nonblocking operations strict calls started (the student's `Isend`, `Irecv`..., and
    the synchronous send inside a strict `Send`), and the seconds the rank's waits may still
    poll without a nap for them.

    Without CMA (the Docker sandbox) MPICH moves a large message through shared memory, 8 KB
    per poll of *both* ranks: a wait that naps between polls slows a transfer to a crawl (8 MB
    took 50 s), and the deadlock proof would take its ranks, polling in the same calls, for
    ranks that can never match. So each operation started adds its size over `MIN_RATE` to
    the credit; waits poll without napping while any of those operations is not complete
    (`Get_status`, which leaves the student's request alone) and credit is left, spending it as
    they poll. Both ranks of a transfer then poll at full speed (8 MB in about 10 ms), and a rank
    napping again has either nothing in flight or waited far longer than any transfer of that
    size takes: a deadlock is still proven, later by the size over `MIN_RATE`. An object sent
    without a buffer interface (pickled by mpi4py) adds no credit: its receive side is MPI's own
    blocking call, outside any proof."""

    def __init__(self):
        self.requests: list = []
        self.credit = 0.0

    def add(self, request, buf):
        if len(self.requests) < MAX_IN_FLIGHT:
            self.requests.append(request)
        self.credit += nbytes(buf) / MIN_RATE
        return request

    def spend(self, seconds: float) -> bool:
        """Whether a wait that just polled for `seconds` should poll on without a nap."""
        if self.credit <= 0:
            return False
        self.requests = [r for r in self.requests if not _complete(r)]
        if not self.requests:
            self.credit = 0.0
            return False
        self.credit -= seconds
        return True


def _complete(request) -> bool:
    try:
        return bool(request.Get_status())
    except Exception:  # freed or broken by the student's code: nothing of ours to wait for
        return True


def nbytes(buf) -> int:
    """Bytes of an mpi4py buffer argument (`array`, `[array, MPI.INT]`...), 0 if not known."""
    if isinstance(buf, (list, tuple)) and buf:
        buf = buf[0]
    try:
        return memoryview(buf).nbytes
    except TypeError:
        return 0


IN_FLIGHT = InFlight()


class WaitBoard:
    """This rank's waiting state, for the supervisor's deadlock proofs (`grader.agent.mpi_stuck`):
    one fixed-size record in `OUTDIR/mpi-wait-<pid>.bin`, rewritten in place: whether the rank
    is inside a blocking call (strict mode's `_wait`, or a call `grader.checks.mpi_calls`
    watches in standard mode), that call's number, how many polls it has made since its first
    pause (strict mode), how many threads the process has beyond those it had when MPI was set
    up (another thread could still send), and what the call is: its kind, the COMM_WORLD ranks
    it sends to and receives from, its tags, the COMM_WORLD ranks of a collective's
    communicator, and the thread that made it. The call number is written again last, so that a
    record read while it was being rewritten shows two different numbers and is not believed."""

    RECORD = struct.Struct("<4sIIQQiiiiiiiQQ")
    MAGIC = b"PGMW"
    OUT, IN, DONE = 0, 1, 2
    # what a rank is blocked in (standard mode); strict mode's polled waits say NONE
    NONE, SEND, RECV, SENDRECV, COLLECTIVE, ALL_TO_ALL = 0, 1, 2, 3, 4, 5
    ANY, UNKNOWN, NOBODY = -1, -2, -3  # a peer or tag: MPI's wildcard, not known, no such part
    EVERYONE = (1 << 64) - 1  # a collective whose members are not known: every rank
    current: WaitBoard | None = None

    def __init__(self, fd: int, rank: int = -1):
        self.fd, self.call, self.polls, self.rank = fd, 0, 0, rank
        self.threads = threading.active_count()
        self.what: tuple = (self.NONE, self.NOBODY, 0, self.NOBODY, 0, 0)

    @classmethod
    def open(cls, outdir: str, rank: int = -1) -> None:
        try:
            fd = os.open(
                os.path.join(outdir, f"mpi-wait-{os.getpid()}.bin"),
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,  # the supervisor reads it: root, but with no capability to override modes
            )
        except OSError:
            return  # no board, no proof: the hang waits for the timeout
        board = cls(fd, rank)
        try:  # written through a shared mapping: no system call per blocking call
            os.ftruncate(fd, cls.RECORD.size)
            board.map = mmap.mmap(fd, cls.RECORD.size)
        except (OSError, ValueError):
            board.map = None
        cls.current = board
        board._write(cls.OUT)

    map: mmap.mmap | None = None

    def _write(self, state: int) -> None:
        extra = max(0, threading.active_count() - self.threads)
        op, dest, sendtag, source, recvtag, group = self.what
        fields = (
            self.MAGIC, state, extra, self.call, self.polls, self.rank, threading.get_native_id(),
            op, dest, sendtag, source, recvtag, group, self.call,
        )  # fmt: skip
        try:
            if self.map is not None:
                self.RECORD.pack_into(self.map, 0, *fields)
            else:
                os.pwrite(self.fd, self.RECORD.pack(*fields), 0)
        except (OSError, ValueError, struct.error):
            pass

    def enter(self, what: tuple | None = None) -> None:
        """The rank starts waiting in a call: `what` is (kind, dest, sendtag, source, recvtag,
        group) for a watched call of standard mode, None for strict mode's polled waits."""
        self.call, self.polls = self.call + 1, 0
        self.what = what or (self.NONE, self.NOBODY, 0, self.NOBODY, 0, 0)
        self._write(self.IN)

    def polled(self) -> None:
        self.polls += 1
        self._write(self.IN)

    def leave(self) -> None:
        if self.map is not None:  # the state alone: the rest of the record stays true
            try:
                self.map[4:8] = self.OUT.to_bytes(4, "little")
                return
            except (ValueError, IndexError):
                pass
        self._write(self.OUT)

    def taint(self) -> None:
        """The rank made a call the proofs cannot follow (a request it keeps, a process from
        outside the job): counted as extra threads from now on, so no deadlock of its is proven."""
        self.threads = -(1 << 20)

    @classmethod
    def done(cls) -> None:
        """The rank returned its result: it makes no MPI call of the student's any more."""
        if cls.current:
            cls.current._write(cls.DONE)


def _strict_methods(MPI) -> dict:
    Comm, ANY_SOURCE, ANY_TAG = MPI.Comm, MPI.ANY_SOURCE, MPI.ANY_TAG

    def Send(self, buf, dest, tag=0):
        _wait(IN_FLIGHT.add(Comm.Issend(self, buf, dest, tag), buf).Test)

    def send(self, obj, dest, tag=0):
        _wait(IN_FLIGHT.add(Comm.issend(self, obj, dest, tag), obj).Test)

    def Isend(self, buf, dest, tag=0):
        return IN_FLIGHT.add(Comm.Issend(self, buf, dest, tag), buf)

    def isend(self, obj, dest, tag=0):
        return IN_FLIGHT.add(Comm.issend(self, obj, dest, tag), obj)

    def Irecv(self, buf, source=ANY_SOURCE, tag=ANY_TAG):
        return IN_FLIGHT.add(Comm.Irecv(self, buf, source, tag), buf)

    def irecv(self, buf=None, source=ANY_SOURCE, tag=ANY_TAG):
        return IN_FLIGHT.add(Comm.irecv(self, buf, source, tag), buf)

    def Recv(self, buf, source=ANY_SOURCE, tag=ANY_TAG, status=None):
        _wait(lambda: Comm.Improbe(self, source, tag)).Recv(buf, status)

    def recv(self, buf=None, source=ANY_SOURCE, tag=ANY_TAG, status=None):
        return _wait(lambda: Comm.improbe(self, source, tag)).recv(status)

    def Sendrecv(
        self,
        sendbuf,
        dest,
        sendtag=0,
        recvbuf=None,
        source=ANY_SOURCE,
        recvtag=ANY_TAG,
        status=None,
    ):
        request = Isend(self, sendbuf, dest, sendtag)  # cannot deadlock with its receive
        Recv(self, recvbuf, source, recvtag, status)
        _wait(request.Test)

    def sendrecv(
        self,
        sendobj,
        dest,
        sendtag=0,
        recvbuf=None,
        source=ANY_SOURCE,
        recvtag=ANY_TAG,
        status=None,
    ):
        request = isend(self, sendobj, dest, sendtag)
        obj = recv(self, None, source, recvtag, status)
        _wait(request.Test)
        return obj

    return {
        "_strict": True,
        "Send": Send,
        "Ssend": Send,
        "Rsend": Send,
        "send": send,
        "ssend": send,
        "Isend": Isend,
        "Issend": Isend,
        "Irsend": Isend,
        "isend": isend,
        "issend": isend,
        "Irecv": Irecv,
        "irecv": irecv,
        "Send_init": Comm.Ssend_init,
        "Rsend_init": Comm.Ssend_init,
        "Recv": Recv,
        "recv": recv,
        "Sendrecv": Sendrecv,
        "sendrecv": sendrecv,
    }


# ---------------------------------------------------------------- collectives must agree


class CollectiveMismatch(RuntimeError):
    """Raised on every rank when the ranks of a communicator are not in the same collective."""


# Collective methods of an intracommunicator, with the position of `root` in rooted ones.
COLLECTIVES = {
    "Barrier": None,
    "barrier": None,
    "bcast": 1,
    "Bcast": 1,
    "reduce": 2,
    "Reduce": 3,
    "allreduce": None,
    "Allreduce": None,
    "gather": 1,
    "Gather": 2,
    "Gatherv": 2,
    "allgather": None,
    "Allgather": None,
    "Allgatherv": None,
    "scatter": 1,
    "Scatter": 2,
    "Scatterv": 2,
    "alltoall": None,
    "Alltoall": None,
    "Alltoallv": None,
    "scan": None,
    "Scan": None,
    "exscan": None,
    "Exscan": None,
    "Reduce_scatter": None,
    "Reduce_scatter_block": None,
}
_NAMES = sorted(COLLECTIVES)
_agreement: dict[int, list] = {}  # communicator handle -> [private duplicate, calls so far]


def _agreed(name: str, collective):
    at = COLLECTIVES[name]

    def method(self, *args, **kwargs):
        root = kwargs.get("root", args[at] if at is not None and len(args) > at else 0)
        if not mpi_shim.refusing():  # a refused collective fails at once on every rank: no hang
            _agree(self, name, root if at is not None else -1)
        return collective(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = collective.__doc__
    return method


def _agree(comm, name: str, root) -> None:
    """Compare (call number, collective, root) across the ranks of `comm`, waiting idle."""
    import numpy as np
    from mpi4py import MPI

    key = MPI._handleof(comm)
    if key not in _agreement:
        _agreement[key] = [MPI.Intracomm.Dup(comm), 0]  # collective, like the call being checked
    entry = _agreement[key]
    entry[1] += 1
    try:
        root = int(root)
    except (TypeError, ValueError):
        root = -2
    mine = np.array([entry[1], _NAMES.index(name), root], dtype="i8")
    every = np.empty((MPI.Comm.Get_size(comm), 3), dtype="i8")
    request = MPI.Intracomm.Iallgather(entry[0], mine, every)
    _wait(request.Test, AGREE_SPIN_SECONDS)  # ranks waiting for a slower one barely use CPU
    if (every == mine).all():
        return

    def call(row) -> str:
        label = _NAMES[int(row[1])]
        return label + (f"(root={int(row[2])})" if COLLECTIVES[label] is not None else "()")

    calls = ", ".join(f"rank {r} called {call(row)}" for r, row in enumerate(every))
    raise CollectiveMismatch(
        f"The ranks are not in the same collective operation: {calls} (collective call "
        f"number {entry[1]} on this communicator). Every rank of a communicator must make the "
        "same collective calls, in the same order, with the same root."
    )
