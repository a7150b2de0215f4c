"""The probes' controls of the MPI library preloaded below Python (`mpi_strict.c`).

A probe runs in the rank's own process, after the student's module is imported; the Python-level
checks it could build there (a subclass of the communicator that refuses collectives or records
destinations) only see calls made through that subclass, and `MPI.Intracomm.allreduce(comm, ...)`
or a communicator rebuilt from the extension type is not. The preloaded library sees every MPI
call of the process, whatever Python object made it; these functions reach it through ctypes
(which student code is refused, `grader.agent.audit`). Each returns None (or does nothing) when
the library is not loaded: a local run on a host without a C compiler.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from contextlib import contextmanager

UNKNOWN_RANK = -2  # a destination no COMM_WORLD rank stands for (mpi_strict.c)
_CAPACITY = 4097


_loaded: list = []  # [the library, or None]


def _library():
    if not _loaded:
        library = ctypes.CDLL(None)
        try:
            library.pgrader_mpi_enter.restype = ctypes.c_double  # only if preloaded
        except AttributeError:
            library = None
        else:
            library.pgrader_mpi_leave.argtypes = [ctypes.c_double]
            library.pgrader_mpi_inside_cpu.restype = ctypes.c_double
        _loaded.append(library)
    return _loaded[0]


def refusing() -> bool:
    """Whether collectives are refused now (by a probe: the grader's modules are imported
    afresh by each, so this state lives in the library)."""
    library = _library()
    return library is not None and bool(library.pgrader_mpi_refusing())


@contextmanager
def collectives_refused():
    """Within: every MPI collective of this process fails at once (an MPI error naming it).
    Yields a function returning the first refused call's name (e.g. "MPI_Allreduce") or None,
    which still tells when the student's code caught the error and went on."""
    library = _library()
    if library is not None:
        library.pgrader_mpi_refuse(1)
    try:
        yield lambda: _first_refused(library)
    finally:
        if library is not None:
            library.pgrader_mpi_refuse(0)


def _first_refused(library) -> str | None:
    if library is None:
        return None
    name = ctypes.create_string_buffer(64)
    count = library.pgrader_mpi_refused(name, len(name))
    return name.value.decode("ascii", "replace") if count else None


@contextmanager
def sends_recorded():
    """Within: record the destination of every point-to-point send of this process. Yields a
    function returning the COMM_WORLD ranks sent to so far (sorted; `UNKNOWN_RANK` for one that
    is none of them), or None when the library is not loaded."""
    library = _library()
    if library is not None:
        library.pgrader_mpi_forget_sends()
    yield lambda: _sent_to(library)


def _sent_to(library) -> list[int] | None:
    if library is None:
        return None
    ranks = (ctypes.c_int * _CAPACITY)()
    count = library.pgrader_mpi_sent_to(ranks, _CAPACITY)
    return sorted(ranks[:count])


def cpu_inside() -> float | None:
    """CPU-seconds this process's threads spent waiting inside MPI calls that run no code of
    the student's (see mpi_strict.c), since it started; None without the library."""
    library = _library()
    return None if library is None else library.pgrader_mpi_inside_cpu()


def waiting(function):
    """`function` (which runs no code of the student's) counted as waiting by `cpu_inside`.
    The cyclic garbage collector is off meanwhile: it would run the student's finalizers
    (`__del__`) inside the span. (A signal handler of the student's still could: a known
    limit, tests/attacks/limits.md.)"""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        library = _library()
        if library is None:
            return function(*args, **kwargs)
        collecting = gc.isenabled()
        gc.disable()
        start = library.pgrader_mpi_enter()
        try:
            return function(*args, **kwargs)
        finally:
            library.pgrader_mpi_leave(start)
            if collecting:
                gc.enable()

    return wrapper
